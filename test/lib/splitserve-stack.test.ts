/**
 * Infrastructure test: synthesizes the stack in-process (with the real handler entries, bundled by
 * the local esbuild), asserts the template, runs cdk-nag's AwsSolutions pack, and executes the
 * synthesized state machine definition with aws-local-stepfunctions.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { App, Validations, type Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ExecutionError, StateMachine as LocalStateMachine, type RunOptions } from 'aws-local-stepfunctions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { PLAN_ERRORS, RETRYABLE_PLAN_ERRORS } from '../../lambda/core/plan-errors.ts';
import { TABLE_ENV, USAGE_TTL_ATTRIBUTE } from '../../lambda/store/table-schema.ts';
import { FUNCTION_ENV } from '../../lib/deploy-config.ts';
import { DEADLINE_MARGIN_MS } from '../../lambda/handlers/deadline.ts';
import { EXECUTION_TIMEOUT, PLAN_STATES } from '../../lib/orchestration.ts';
import { checkEnvironmentSize } from '../../lib/splitserve-function.ts';
import { STACK_OUTPUTS, SplitserveStack } from '../../lib/splitserve-stack.ts';

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;

/** Pools and tiers without Bedrock (docs/configuration.md, deployable: public endpoints, so no VPC; no tenants). VPCs: network.test.ts. */
const plainConfig = {
  pools: {
    'trn-prefill': { protocol: 'vllm-nixl', role: 'prefill', endpoints: ['https://prefill.pools.example.com'] },
    'cs3-decode': { protocol: 'vllm-nixl', role: 'decode', endpoints: ['https://decode.pools.example.com'] },
    gpu: { protocol: 'openai', endpoints: ['https://gpu.pools.example.com'] },
  },
  models: { 'llama-3.1-8b': { pools: ['trn-prefill', 'cs3-decode', 'gpu'] } },
  tiers: {
    priority: { route: { mode: 'disaggregated', prefill: 'trn-prefill', decode: 'cs3-decode' }, fallback: 'default' },
    default: { route: { mode: 'aggregated', pool: 'gpu' } },
  },
};

const BEDROCK_MODEL = 'meta.llama3-1-8b-instruct-v1:0';
const bedrockConfig = {
  ...plainConfig,
  pools: { ...plainConfig.pools, bedrock: { protocol: 'bedrock', region: 'us-east-1', modelIds: { 'llama-3.1-8b': BEDROCK_MODEL } } },
  models: { 'llama-3.1-8b': { pools: ['trn-prefill', 'cs3-decode', 'gpu', 'bedrock'] } },
  tiers: { ...plainConfig.tiers, default: { ...plainConfig.tiers.default, fallback: 'flex' }, flex: { route: { mode: 'bedrock', pool: 'bedrock' } } },
};

interface Synth {
  readonly app: App;
  readonly stack: Stack;
  readonly template: Template;
  readonly json: { Resources: Record<string, { Type: string; Properties?: Record<string, any>; DeletionPolicy?: string }> };
  readonly assemblyDir: string;
}

function synth(id: string, config: unknown): Synth {
  const app = new App({ context });
  const stack = new SplitserveStack(app, id, { config: parseConfig(config) });
  const template = Template.fromStack(stack);
  return { app, stack, template, json: template.toJSON() as Synth['json'], assemblyDir: app.synth().directory };
}

function resourcesOf(s: Synth, type: string): Array<[string, Record<string, any>]> {
  return Object.entries(s.json.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, r.Properties ?? {}]);
}

/** Every IAM statement of the template: identity policies and roles' inline policies. */
function statements(s: Synth): Array<{ owner: string; Action: string | string[]; Resource: unknown }> {
  const out: Array<{ owner: string; Action: string | string[]; Resource: unknown }> = [];
  for (const [id, p] of resourcesOf(s, 'AWS::IAM::Policy')) {
    for (const st of p.PolicyDocument.Statement) out.push({ owner: JSON.stringify(p.Roles), ...st });
  }
  for (const [id, p] of resourcesOf(s, 'AWS::IAM::Role')) {
    for (const pol of p.Policies ?? []) for (const st of pol.PolicyDocument.Statement) out.push({ owner: id, ...st });
  }
  return out;
}

const asArray = <T,>(v: T | T[]): T[] => (Array.isArray(v) ? v : [v]);

/** Resolves the DefinitionString's Fn::Join, with fake ARNs for the functions. */
function definitionOf(s: Synth): { States: Record<string, any>; StartAt: string } & Record<string, unknown> {
  const [[, sm]] = resourcesOf(s, 'AWS::StepFunctions::StateMachine') as [[string, Record<string, any>]];
  const resolve = (v: unknown): string => {
    if (typeof v === 'string') return v;
    const o = v as Record<string, any>;
    if (o['Fn::Join']) return (o['Fn::Join'][1] as unknown[]).map(resolve).join(o['Fn::Join'][0]);
    if (o['Fn::GetAtt']) return `arn:aws:lambda:us-east-1:123456789012:function:${o['Fn::GetAtt'][0]}`;
    if (o.Ref === 'AWS::Partition') return 'aws';
    if (o.Ref === 'AWS::Region') return 'us-east-1';
    throw new Error(`unexpected token in definition: ${JSON.stringify(v)}`);
  };
  return JSON.parse(resolve(sm.DefinitionString));
}

function functionByHandler(s: Synth, handler: string): [string, Record<string, any>] {
  const found = resourcesOf(s, 'AWS::Lambda::Function').find(([, p]) => p.Handler === handler);
  if (!found) throw new Error(`no function with handler ${handler}`);
  return found;
}

function rolePolicyStatements(s: Synth, handler: string) {
  const [, fn] = functionByHandler(s, handler);
  const roleId = fn.Role['Fn::GetAtt'][0] as string;
  return statements(s).filter((st) => st.owner.includes(`"${roleId}"`));
}

let plain: Synth;
let withBedrock: Synth;

beforeAll(() => {
  plain = synth('SplitserveTest', plainConfig);
  withBedrock = synth('SplitserveBedrockTest', bedrockConfig);
}, 300_000);

describe('functions', () => {
  it('run on arm64 with Node.js 22 or newer, traced, from minified ES module bundles', () => {
    const fns = resourcesOf(plain, 'AWS::Lambda::Function');
    expect(fns.map(([, p]) => p.Handler).sort()).toEqual(['index.decode', 'index.fallback', 'index.handler', 'index.meter', 'index.prefill', 'index.sweep']);
    for (const [, p] of fns) {
      expect(p.Architectures).toEqual(['arm64']);
      expect(p.Runtime).toMatch(/^nodejs(2[2-9]|[3-9]\d)\.x$/);
      expect(p.TracingConfig).toEqual({ Mode: 'Active' });
      expect(p.Environment.Variables.POWERTOOLS_SERVICE_NAME).toMatch(/^splitserve/);
      expect(p.Environment.Variables.POWERTOOLS_METRICS_NAMESPACE).toBe('Splitserve');
      // Call subsegments only with -c traceCalls=true (the tracer's async hooks cost every promise).
      expect(p.Environment.Variables.POWERTOOLS_TRACE_ENABLED).toBe('false');
    }
  });

  it('bundles are each at most 300 KB', () => {
    const sizes: Record<string, number> = {};
    for (const [, p] of resourcesOf(plain, 'AWS::Lambda::Function')) {
      const hash = String(p.Code.S3Key).replace(/\.zip$/, '');
      const file = join(plain.assemblyDir, `asset.${hash}`, 'index.mjs');
      expect(existsSync(file), file).toBe(true);
      sizes[p.Handler] = statSync(file).size;
    }
    console.info('bundle sizes (bytes):', JSON.stringify(sizes));
    for (const [handler, size] of Object.entries(sizes)) expect(size, handler).toBeLessThanOrEqual(300 * 1024);
  });

  it('the gateway gets the config without tenants, table names and the state machine ARN', () => {
    const [, gw] = functionByHandler(plain, 'index.handler');
    const env = gw.Environment.Variables as Record<string, unknown>;
    expect(Object.keys(env)).toEqual(expect.arrayContaining([FUNCTION_ENV.config, FUNCTION_ENV.stateMachineArn, TABLE_ENV.config, TABLE_ENV.usage]));
    const deployed = JSON.parse(env[FUNCTION_ENV.config] as string);
    expect(deployed).not.toHaveProperty('tenants');
    expect(parseConfig(deployed).pools).toEqual(parseConfig(plainConfig).pools);
    expect(env[FUNCTION_ENV.stateMachineArn]).toEqual({ Ref: expect.stringMatching(/^OrchestrationStateMachine/) });
  });

  it('a config with tenants is rejected at synth, naming the problem', () => {
    const app = new App({ context });
    const config = parseConfig({ ...plainConfig, tenants: [{ id: 'acme', apiKeys: ['sk-local-acme'], tiers: ['priority'] }] });
    expect(() => new SplitserveStack(app, 'Rejected', { config })).toThrow(/"tenants" is for local runs only/);
  });

  it('a function environment over 4 KB is rejected, naming the function', () => {
    expect(checkEnvironmentSize('S/Fn', { A: 'a'.repeat(4000) })).toBe(4001);
    expect(() => checkEnvironmentSize('S/Fn', { A: 'a'.repeat(4000), B: 'b'.repeat(100) })).toThrow(/S\/Fn: environment is about 4102 bytes/);
  });

  it('a config too large for the Lambda environment is rejected at synth', () => {
    const app = new App({ context });
    const endpoints = Array.from({ length: 200 }, (_, i) => `http://10.0.${Math.floor(i / 250)}.${i % 250}:8000`);
    const config = parseConfig({ ...plainConfig, pools: { ...plainConfig.pools, gpu: { protocol: 'openai', endpoints } } });
    expect(() => new SplitserveStack(app, 'TooBig', { config })).toThrow(/over the \d+-byte budget/);
  });
});

describe('tables', () => {
  it('are on-demand, with point-in-time recovery, encryption and the shared key schema', () => {
    const tables = resourcesOf(plain, 'AWS::DynamoDB::Table');
    expect(tables).toHaveLength(2);
    for (const [, p] of tables) {
      expect(p.BillingMode).toBe('PAY_PER_REQUEST');
      expect(p.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(p.SSESpecification).toEqual({ SSEEnabled: true });
      expect(p.KeySchema).toEqual([
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]);
    }
  });

  it('Config is retained, Usage expires items by TTL', () => {
    const byId = Object.entries(plain.json.Resources).filter(([, r]) => r.Type === 'AWS::DynamoDB::Table');
    const config = byId.find(([id]) => id.startsWith('TablesConfig'))![1];
    const usage = byId.find(([id]) => id.startsWith('TablesUsage'))![1];
    expect(config.DeletionPolicy).toBe('Retain');
    expect(config.Properties!.DeletionProtectionEnabled).toBe(true);
    expect(usage.DeletionPolicy).toBe('Delete');
    expect(usage.Properties!.TimeToLiveSpecification).toEqual({ AttributeName: USAGE_TTL_ATTRIBUTE, Enabled: true });
  });
});

describe('orchestration', () => {
  it('is an Express state machine, logging ALL without execution data, traced', () => {
    plain.template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'EXPRESS',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
  });

  it('ends an execution before the gateway function deadline, so a timed-out plan is seen (and metered) by the gateway', () => {
    const [, gw] = functionByHandler(plain, 'index.handler');
    const limit = definitionOf(plain).TimeoutSeconds as number;
    expect(limit).toBe(EXECUTION_TIMEOUT.toSeconds());
    expect(limit * 1000).toBeLessThan((gw.Timeout as number) * 1000 - DEADLINE_MARGIN_MS - 20_000);
  });

  it('is JSONPath with Retry and Catch on Prefill and Decode, and a Fallback', () => {
    const def = definitionOf(plain);
    expect(def.QueryLanguage ?? 'JSONPath').toBe('JSONPath');
    expect(JSON.stringify(def)).not.toMatch(/JSONata|"Assign"|"Arguments"|"Output"/);
    expect(def.StartAt).toBe(PLAN_STATES.prefill);
    for (const name of [PLAN_STATES.prefill, PLAN_STATES.decode]) {
      const state = def.States[name];
      expect(state.Type).toBe('Task');
      expect(state.Retry).toHaveLength(1);
      const [retry] = state.Retry;
      expect(retry.ErrorEquals).toEqual(expect.arrayContaining([...RETRYABLE_PLAN_ERRORS, PLAN_ERRORS.upstreamTransient, 'States.Timeout']));
      expect(retry.MaxAttempts).toBeGreaterThanOrEqual(2);
      expect(retry.MaxAttempts).toBeLessThanOrEqual(3);
      expect(retry.BackoffRate).toBe(2);
      expect(retry.IntervalSeconds).toBeGreaterThanOrEqual(1);
      expect(retry.JitterStrategy).toBe('FULL');
      expect(state.Catch).toEqual([
        { ErrorEquals: [PLAN_ERRORS.clientError], ResultPath: '$.error', Next: PLAN_STATES.meterFailure },
        { ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: PLAN_STATES.fallback },
      ]);
    }
    expect(def.States[PLAN_STATES.prefill].Next).toBe(PLAN_STATES.hasKvTransferParams);
    expect(def.States[PLAN_STATES.recomputeNoted]).toMatchObject({ Type: 'Pass', Next: PLAN_STATES.decode });
    expect(def.States[PLAN_STATES.fallback]).toMatchObject({ Type: 'Task', Next: PLAN_STATES.meter });
    expect(def.States[PLAN_STATES.meter]).toMatchObject({ Type: 'Task', ResultPath: null, Next: PLAN_STATES.done });
    expect(def.States[PLAN_STATES.planFailed]).toMatchObject({ Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' });
  });

  describe('runs in aws-local-stepfunctions', () => {
    type Handler = (input: any) => Promise<any>;
    const base = { requestId: 'req-1', tenantId: 'acme', body: { model: 'llama-3.1-8b' } };

    async function run(handlers: Partial<Record<string, Handler>>) {
      const calls: Record<string, unknown[]> = {};
      const wrap = (name: string): Handler => async (input) => {
        (calls[name] ??= []).push(structuredClone(input));
        const h = handlers[name];
        return h ? h(input) : input;
      };
      const taskStates = [PLAN_STATES.prefill, PLAN_STATES.decode, PLAN_STATES.fallback, PLAN_STATES.meter, PLAN_STATES.meterFailure];
      const machine = new LocalStateMachine(definitionOf(plain) as never);
      const execution = machine.run(base, {
        overrides: {
          taskResourceLocalHandlers: Object.fromEntries(taskStates.map((n) => [n, wrap(n)])) as NonNullable<RunOptions['overrides']>['taskResourceLocalHandlers'],
          retryIntervalOverrides: Object.fromEntries(taskStates.map((n) => [n, 0])),
        },
      });
      const visited: string[] = [];
      const events = (async () => {
        for await (const ev of execution.eventLogs) if (ev.type === 'StateEntered') visited.push(ev.state.name);
      })();
      let output: any;
      let error: { name: string; cause: unknown } | undefined;
      try {
        output = await execution.result;
      } catch (err) {
        if (!(err instanceof ExecutionError)) throw err;
        const failure = err.cause as Error & { cause?: unknown };
        error = { name: failure.name, cause: failure.cause };
      }
      await events;
      return { output, error, visited, calls };
    }

    const failWith = (name: string, message = 'backend failed') => {
      const err = new Error(message);
      err.name = name;
      return err;
    };

    it('prefill with KV parameters goes straight to Decode, then Meter', async () => {
      const r = await run({
        Prefill: async (s) => ({ ...s, kvTransferParams: { remote_engine_id: 'e1' } }),
        Decode: async (s) => ({ ...s, response: { id: 'cmpl-1' } }),
        Meter: async () => null,
      });
      expect(r.visited).toEqual(['Prefill', 'HasKvTransferParams', 'Decode', 'Meter', 'Done']);
      expect(r.output).toMatchObject({ ...base, kvTransferParams: { remote_engine_id: 'e1' }, response: { id: 'cmpl-1' } });
      expect(r.calls.Meter).toEqual([r.output]);
    });

    it('prefill without KV parameters (null or absent) is noted as a recompute before Decode', async () => {
      for (const prefill of [async (s: object) => ({ ...s, kvTransferParams: null }), async (s: object) => s]) {
        const r = await run({ Prefill: prefill });
        expect(r.visited).toEqual(['Prefill', 'HasKvTransferParams', 'RecomputeNoted', 'Decode', 'Meter', 'Done']);
      }
    });

    it('a transient error is retried on the same step, without fallback', async () => {
      let attempts = 0;
      const r = await run({
        Decode: async (s) => {
          attempts += 1;
          if (attempts === 1) throw failWith(PLAN_ERRORS.upstreamTransient);
          return { ...s, response: { id: 'cmpl-2' } };
        },
      });
      expect(attempts).toBe(2);
      expect(r.visited).not.toContain('Fallback');
      expect(r.output.response).toEqual({ id: 'cmpl-2' });
    });

    it('retries are bounded, then the failure is caught to Fallback with the error', async () => {
      const r = await run({
        Prefill: async () => {
          throw failWith(PLAN_ERRORS.upstreamTransient, 'still down');
        },
        Fallback: async (s) => ({ ...s, error: undefined, tierServed: 'default', response: { id: 'cmpl-fb' } }),
      });
      expect(r.calls.Prefill).toHaveLength(3);
      expect(r.visited).toEqual(['Prefill', 'Fallback', 'Meter', 'Done']);
      expect(r.calls.Fallback![0]).toMatchObject({ ...base, error: { Error: PLAN_ERRORS.upstreamTransient } });
      expect(r.output).toMatchObject({ tierServed: 'default', response: { id: 'cmpl-fb' } });
    });

    it('a fatal decode error goes to Fallback at once', async () => {
      const r = await run({
        Decode: async () => {
          throw failWith(PLAN_ERRORS.upstreamFatal);
        },
      });
      expect(r.calls.Decode).toHaveLength(1);
      expect(r.visited.slice(-4)).toEqual(['Decode', 'Fallback', 'Meter', 'Done']);
    });

    it('a failed fallback is metered, then fails the execution with its error name', async () => {
      const r = await run({
        Decode: async () => {
          throw failWith(PLAN_ERRORS.upstreamFatal);
        },
        // No route left: the Fallback task rethrows the last failure (lambda/core/plan-steps.ts).
        Fallback: async () => {
          throw failWith(PLAN_ERRORS.upstreamFatal, 'no route left');
        },
      });
      expect(r.visited.slice(-3)).toEqual(['Fallback', 'MeterFailure', 'PlanFailed']);
      expect(r.calls.MeterFailure![0]).toMatchObject({ error: { Error: PLAN_ERRORS.upstreamFatal } });
      expect(r.error?.name).toBe(PLAN_ERRORS.upstreamFatal);
      expect(r.calls.Meter).toBeUndefined();
    });

    it('a client error skips retries and fallback: metered, then the execution fails with it', async () => {
      const r = await run({
        Prefill: async () => {
          throw failWith(PLAN_ERRORS.clientError, 'bad request');
        },
      });
      expect(r.calls.Prefill).toHaveLength(1);
      expect(r.visited).toEqual(['Prefill', 'MeterFailure', 'PlanFailed']);
      expect(r.error?.name).toBe(PLAN_ERRORS.clientError);
    });

    it('a meter failure does not fail a served request: the output carries meterError', async () => {
      const r = await run({
        Meter: async () => {
          throw failWith('Lambda.ServiceException');
        },
      });
      expect(r.calls.Meter).toHaveLength(3);
      expect(r.visited.slice(-3)).toEqual(['Meter', 'MeterDeferred', 'Done']);
      expect(r.output.meterError).toMatchObject({ Error: 'Lambda.ServiceException' });
    });
  });
});

describe('api', () => {
  it('serves the six routes (OpenAI and Bedrock Converse) on a streaming Lambda proxy integration', () => {
    const methods = resourcesOf(plain, 'AWS::ApiGateway::Method');
    expect(methods.map(([, p]) => p.HttpMethod).sort()).toEqual(['GET', 'GET', 'POST', 'POST', 'POST', 'POST']);
    for (const [, p] of methods) {
      expect(p.AuthorizationType).toBe('NONE');
      expect(p.ApiKeyRequired ?? false).toBe(false);
      expect(p.Integration.Type).toBe('AWS_PROXY');
      expect(p.Integration.ResponseTransferMode).toBe('STREAM');
      expect(JSON.stringify(p.Integration.Uri)).toContain('/2021-11-15/functions/');
      expect(JSON.stringify(p.Integration.Uri)).toContain('/response-streaming-invocations');
    }
    const paths = resourcesOf(plain, 'AWS::ApiGateway::Resource').map(([, p]) => p.PathPart);
    expect(paths.sort()).toEqual(['chat', 'completions', 'completions', 'converse', 'converse-stream', 'health', 'model', 'models', 'v1', '{modelId}']);
  });

  it('API Gateway may invoke the gateway with response streaming', () => {
    plain.template.hasResourceProperties('AWS::Lambda::Permission', {
      Action: 'lambda:InvokeWithResponseStream',
      Principal: 'apigateway.amazonaws.com',
    });
  });

  it('has JSON access logs without headers, stage throttling, and no API keys or usage plans', () => {
    const [[, stage]] = resourcesOf(plain, 'AWS::ApiGateway::Stage') as [[string, Record<string, any>]];
    const format = stage.AccessLogSetting.Format as string;
    expect(() => JSON.parse(format.replace('$context.error.messageString', '"x"'))).not.toThrow();
    expect(format).not.toMatch(/authorization|header/i);
    expect(stage.MethodSettings).toEqual(
      expect.arrayContaining([expect.objectContaining({ ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000, DataTraceEnabled: false })]),
    );
    expect(resourcesOf(plain, 'AWS::ApiGateway::ApiKey')).toHaveLength(0);
    expect(resourcesOf(plain, 'AWS::ApiGateway::UsagePlan')).toHaveLength(0);
  });
});

describe('least privilege', () => {
  it('no DynamoDB, Lambda, Step Functions or Bedrock action is granted on "*"', () => {
    for (const s of [plain, withBedrock]) {
      for (const st of statements(s)) {
        const guarded = asArray(st.Action).filter((a) => /^(dynamodb|lambda|states|bedrock):/.test(a));
        if (guarded.length === 0) continue;
        expect(asArray(st.Resource), `${guarded.join(',')} in ${st.owner}`).not.toContain('*');
        for (const a of guarded) expect(a, st.owner).not.toMatch(/\*/);
      }
    }
  });

  it('the gateway reads Config, reads and writes Usage, starts the state machine synchronously', () => {
    const actions = rolePolicyStatements(plain, 'index.handler').flatMap((st) => asArray(st.Action));
    expect(actions).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:UpdateItem', 'states:StartSyncExecution']));
    const configWrites = rolePolicyStatements(plain, 'index.handler').filter(
      (st) => JSON.stringify(st.Resource).includes('TablesConfig') && asArray(st.Action).some((a) => /Put|Update|Delete/.test(a)),
    );
    expect(configWrites).toEqual([]);
  });

  it('only the meter step touches DynamoDB', () => {
    for (const handler of ['index.prefill', 'index.decode', 'index.fallback']) {
      const actions = rolePolicyStatements(plain, handler).flatMap((st) => asArray(st.Action));
      expect(actions.filter((a) => a.startsWith('dynamodb:')), handler).toEqual([]);
    }
    const meter = rolePolicyStatements(plain, 'index.meter').flatMap((st) => asArray(st.Action));
    expect(meter).toContain('dynamodb:PutItem');
  });

  it('no Bedrock permission at all without a bedrock pool', () => {
    const bedrock = statements(plain).filter((st) => asArray(st.Action).some((a) => a.startsWith('bedrock:')));
    expect(bedrock).toEqual([]);
  });

  it('a bedrock pool grants invoke on its configured models only, to the functions that call it', () => {
    const expected = { 'Fn::Join': ['', ['arn:', { Ref: 'AWS::Partition' }, `:bedrock:us-east-1::foundation-model/${BEDROCK_MODEL}`]] };
    for (const handler of ['index.handler', 'index.decode', 'index.fallback']) {
      const bedrock = rolePolicyStatements(withBedrock, handler).filter((st) => asArray(st.Action).some((a) => a.startsWith('bedrock:')));
      expect(bedrock, handler).toHaveLength(1);
      expect(asArray(bedrock[0]!.Action).sort()).toEqual(['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream']);
      expect(asArray(bedrock[0]!.Resource)).toEqual([expected]);
    }
    for (const handler of ['index.prefill', 'index.meter']) {
      const actions = rolePolicyStatements(withBedrock, handler).flatMap((st) => asArray(st.Action));
      expect(actions.filter((a) => a.startsWith('bedrock:')), handler).toEqual([]);
    }
  });
});

describe('bedrock client layer', () => {
  it('is attached to the functions that call Bedrock, and only when the config has a bedrock pool', () => {
    expect(resourcesOf(plain, 'AWS::Lambda::LayerVersion')).toEqual([]);
    expect(resourcesOf(withBedrock, 'AWS::Lambda::LayerVersion')).toHaveLength(1);
    const layers = (s: Synth, handler: string) => (functionByHandler(s, handler)[1].Layers ?? []) as unknown[];
    for (const handler of ['index.handler', 'index.decode', 'index.fallback']) expect(layers(withBedrock, handler), handler).toHaveLength(1);
    for (const handler of ['index.prefill', 'index.meter']) expect(layers(withBedrock, handler), handler).toEqual([]);
    for (const handler of ['index.handler', 'index.decode', 'index.fallback', 'index.prefill', 'index.meter']) expect(layers(plain, handler), handler).toEqual([]);
  });
});

describe('outputs', () => {
  it('exports the API URL, table names and state machine ARN', () => {
    for (const id of Object.values(STACK_OUTPUTS)) plain.template.hasOutput(id, {});
    const stack = plain.stack as SplitserveStack;
    for (const value of [stack.apiUrl, stack.configTableName, stack.usageTableName, stack.stateMachineArn]) expect(value).toBeTruthy();
  });
});

describe('cdk-nag AwsSolutions', () => {
  it('has no unacknowledged findings', () => {
    for (const s of [plain, withBedrock]) {
      const report = new AwsSolutionsChecks().validateScope(s.stack);
      const findings = report.violations.map((v) => `${v.severity} ${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`);
      expect(findings).toEqual([]);
    }
  });

  it('every acknowledgement gives a reason', () => {
    const acks: Array<[string, string]> = [];
    for (const c of plain.stack.node.findAll()) {
      for (const m of c.node.metadata) {
        if (m.type === Validations.ACKNOWLEDGED_RULES_METADATA_KEY) acks.push(...Object.entries(m.data as Record<string, string>));
      }
    }
    expect(acks.length).toBeGreaterThan(0);
    for (const [id, reason] of acks) expect(reason.length, id).toBeGreaterThan(40);
  });
});
