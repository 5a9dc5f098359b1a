/**
 * The scheduled open-request sweep: its function and rule in the synthesized stack (least privilege,
 * cdk-nag clean), and its handler invoked against a real embedded store.
 */
import { hostname } from 'node:os';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OPEN_REQUEST_DEADLINE_MS, OpenRequestJournal } from '../../lambda/store/open-requests.ts';
import { TABLE_ENV } from '../../lambda/store/table-schema.ts';
import { createTables, tableDefinitions } from '../../lambda/store/tables.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import { OpenRequestSweep, SWEEP_TABLE_ACTIONS } from '../../lib/open-request-sweep.ts';
import { Tables } from '../../lib/tables.ts';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;

describe('the sweep in the stack', () => {
  let stack: Stack;
  let template: Template;
  beforeAll(() => {
    const app = new App({ context });
    stack = new Stack(app, 'SweepTest');
    const tables = new Tables(stack, 'Tables');
    new OpenRequestSweep(stack, 'OpenRequestSweep', { usageTable: tables.usage });
    template = Template.fromStack(stack);
  }, 120_000);

  it('runs every 5 minutes on a schedule, with the Usage table name and nothing else of the config', () => {
    const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
    const fns = Object.entries(json.Resources).filter(([, r]) => r.Type === 'AWS::Lambda::Function');
    expect(fns.map(([, r]) => r.Properties.Handler)).toEqual(['index.sweep']);
    const [fnId, fn] = fns[0]!;
    expect(Object.keys(fn.Properties.Environment.Variables)).toContain(TABLE_ENV.usage);
    expect(Object.keys(fn.Properties.Environment.Variables)).not.toContain('SPLITSERVE_CONFIG');
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(5 minutes)',
      State: 'ENABLED',
      Targets: [{ Arn: { 'Fn::GetAtt': [fnId, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 2 } }],
    });
    template.resourceCountIs('AWS::Lambda::Permission', 1);
  });

  it('may only query, batch-write, delete and update items of the Usage table', () => {
    const json = template.toJSON() as { Resources: Record<string, { Type: string; Properties: Record<string, any> }> };
    const statements = Object.values(json.Resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy')
      .flatMap((r) => r.Properties.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown }>);
    const dynamo = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('dynamodb:')));
    expect(dynamo).toHaveLength(1);
    expect([dynamo[0]!.Action].flat().sort()).toEqual([...SWEEP_TABLE_ACTIONS].sort());
    expect(JSON.stringify(dynamo[0]!.Resource)).toMatch(/TablesUsage/);
    expect(JSON.stringify(dynamo[0]!.Resource)).not.toMatch(/TablesConfig/);
  });

  it('has no cdk-nag AwsSolutions finding', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});

describe('the sweep handler', () => {
  let store: EmbeddedDynamo;
  const usage = 'sweep-handler-usage';
  const quiet = silentLogger;

  beforeAll(async () => {
    store = await startEmbeddedDynamo();
    await createTables(store.client, tableDefinitions({ config: 'sweep-handler-config', usage }));
    Object.assign(process.env, {
      [TABLE_ENV.usage]: usage,
      AWS_ENDPOINT_URL_DYNAMODB: store.endpoint,
      AWS_REGION: 'local',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      POWERTOOLS_LOG_LEVEL: 'SILENT',
    });
  });
  afterAll(async () => {
    await store.close();
  });

  it('bills markers past their deadline, and leaves those of live requests', async () => {
    const child = spawn(process.execPath, ['-e', '']);
    await once(child, 'exit');
    const old = Date.now() - OPEN_REQUEST_DEADLINE_MS - 60_000;
    const base = { tenantId: 'acme', tierAsked: 'auto', tierServed: 'default', route: 'aggregated', pools: ['gpu'], model: 'm', promptTokens: 10, reservedTokens: 50, reservedCost: 50 };
    // A dead environment's request, past its deadline; a live one's, not yet.
    const dead = new OpenRequestJournal(store.client, usage, { logger: quiet, instanceId: `${hostname()}/${child.pid}/lambda` });
    await dead.open({ ...base, requestId: 'gone', startedAt: old }).ready();
    const live = new OpenRequestJournal(store.client, usage, { logger: quiet });
    await live.open({ ...base, requestId: 'serving', startedAt: Date.now() }).ready();

    const { sweep } = await import('../../lambda/handlers/sweep-open-requests.ts');
    expect(await sweep()).toEqual({ items: 1, markers: 1, interrupted: 1, alreadyRecorded: 0 });
    expect(await sweep()).toEqual({ items: 0, markers: 0, interrupted: 0, alreadyRecorded: 0 });
    const records = await usageRecords(store.client, usage, 'acme', old);
    expect(records.map((r) => [r.requestId, r.outcome, r.costUnits])).toEqual([['gone', 'interrupted', 50]]);
    expect(live.openCount).toBe(1);
  });
});
