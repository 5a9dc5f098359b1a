/**
 * Worker registration in the synthesized stack: the two routes on the REST API, TTL on the Config
 * table, and least privilege: the gateway may write only `POOL#` items of the Config table and
 * read exactly the shared secret; the backend steps may only Query `POOL#` items; nothing without
 * a pool that takes registrations; a secret from an environment variable refused at synth.
 */
import { readFileSync } from 'node:fs';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AttributeType, Table } from 'aws-cdk-lib/aws-dynamodb';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { ConfigError } from '../../lambda/core/errors.ts';
import { CONFIG_TTL_ATTRIBUTE } from '../../lambda/store/table-schema.ts';
import { toDeployConfig } from '../../lib/deploy-config.ts';
import { SplitserveStack } from '../../lib/splitserve-stack.ts';
import { assertDeployableWorkerSecret, grantWorkerRegistration } from '../../lib/worker-registration.ts';

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const ENV = { account: '123456789012', region: 'us-east-1' };
const SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/worker-secret-AbCdEf';
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';

const registrationConfig = {
  pools: {
    prefill: { protocol: 'vllm-nixl', role: 'prefill', endpoints: ['https://prefill.pools.example.com'], registration: { heartbeatTtlS: 30 } },
    decode: { protocol: 'vllm-nixl', role: 'decode', registration: {} },
  },
  models: { 'llama-3.1-8b': { pools: ['prefill', 'decode'] } },
  tiers: { priority: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' } } },
  workers: { secret: { secretArn: SECRET, kmsKeyArn: KEY_ARN } },
};

type Resources = Record<string, { Type: string; Properties?: Record<string, any> }>;
interface Statement {
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Handler → its IAM statements. */
function statementsByHandler(resources: Resources): Record<string, Statement[]> {
  const roleOf = new Map<string, string>();
  for (const r of Object.values(resources)) {
    if (r.Type === 'AWS::Lambda::Function') roleOf.set(r.Properties!.Role['Fn::GetAtt'][0], r.Properties!.Handler);
  }
  const out: Record<string, Statement[]> = {};
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    for (const role of r.Properties!.Roles as Array<{ Ref: string }>) {
      const handler = roleOf.get(role.Ref);
      if (handler) (out[handler] ??= []).push(...(r.Properties!.PolicyDocument.Statement as Statement[]));
    }
  }
  return out;
}

const actionsOf = (st: Statement): string[] => [st.Action].flat();
const POOL_ITEMS_ONLY = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['POOL#*'] } };

describe('worker registration in the stack', () => {
  let stack: SplitserveStack;
  let resources: Resources;
  let byHandler: Record<string, Statement[]>;
  let configTableId: string;

  beforeAll(() => {
    const app = new App({ context });
    stack = new SplitserveStack(app, 'WorkersTest', { config: parseConfig(registrationConfig), env: ENV });
    resources = (Template.fromStack(stack).toJSON() as { Resources: Resources }).Resources;
    byHandler = statementsByHandler(resources);
    configTableId = Object.keys(resources).find((id) => resources[id]!.Type === 'AWS::DynamoDB::Table' && id.startsWith('TablesConfig'))!;
  }, 300_000);

  it('routes POST /v1/workers/register and /v1/workers/deregister to the gateway function', () => {
    const parts = new Map(Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ApiGateway::Resource').map(([id, r]) => [id, r.Properties!]));
    const pathOf = (id: string | undefined): string => {
      const p = id ? parts.get(id) : undefined;
      return p ? `${pathOf(p.ParentId?.Ref)}/${p.PathPart}` : '';
    };
    const methods = Object.values(resources)
      .filter((r) => r.Type === 'AWS::ApiGateway::Method')
      .map((r) => `${r.Properties!.HttpMethod} ${pathOf(r.Properties!.ResourceId.Ref)}`);
    expect(methods).toEqual(expect.arrayContaining(['POST /v1/workers/register', 'POST /v1/workers/deregister']));
  });

  it('alarms on a pool of registered workers that has no healthy one, as on a static pool', () => {
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm').map((r) => JSON.stringify(r.Properties!.AlarmName));
    for (const pool of ['prefill', 'decode']) expect(alarms.some((n) => n.includes(pool) && n.includes('no-healthy-endpoint')), pool).toBe(true);
  });

  it('turns TTL on for the Config table on expiresAt', () => {
    expect(resources[configTableId]!.Properties!.TimeToLiveSpecification).toEqual({ AttributeName: CONFIG_TTL_ATTRIBUTE, Enabled: true });
  });

  it('lets the gateway write registered-worker items only, and read exactly the shared secret', () => {
    const writes = byHandler['index.handler']!.filter((st) => actionsOf(st).some((a) => /^dynamodb:(PutItem|UpdateItem|DeleteItem|BatchWriteItem)$/.test(a)));
    const onConfig = writes.filter((st) => JSON.stringify(st.Resource).includes(configTableId));
    expect(onConfig).toHaveLength(1);
    expect(actionsOf(onConfig[0]!)).toEqual(['dynamodb:UpdateItem']);
    expect(onConfig[0]!.Condition).toEqual(POOL_ITEMS_ONLY);
    const secretReads = byHandler['index.handler']!.filter((st) => actionsOf(st).includes('secretsmanager:GetSecretValue'));
    expect(secretReads.flatMap((st) => [st.Resource].flat())).toEqual([SECRET]);
    const decrypt = byHandler['index.handler']!.find((st) => actionsOf(st).includes('kms:Decrypt'))!;
    expect(decrypt.Resource).toBe(KEY_ARN);
    expect(decrypt.Condition).toEqual({ 'ForAnyValue:StringEquals': { 'kms:ViaService': ['secretsmanager.us-east-1.amazonaws.com'] } });
  });

  it('lets the prefill, decode and fallback steps Query registered-worker items only; meter and sweep get nothing of it', () => {
    for (const handler of ['index.prefill', 'index.decode', 'index.fallback']) {
      const onConfig = byHandler[handler]!.filter((st) => JSON.stringify(st.Resource).includes(configTableId));
      expect(onConfig.map((st) => ({ actions: actionsOf(st), condition: st.Condition })), handler).toEqual([{ actions: ['dynamodb:Query'], condition: POOL_ITEMS_ONLY }]);
      // The secret is the gateway's alone.
      expect(byHandler[handler]!.some((st) => actionsOf(st).includes('secretsmanager:GetSecretValue')), handler).toBe(false);
    }
    for (const handler of ['index.meter', 'index.sweep']) {
      expect((byHandler[handler] ?? []).some((st) => JSON.stringify(st.Resource).includes(configTableId)), handler).toBe(false);
    }
  });

  it('holds the secret ARN in the functions\' config, never a value, and has no unacknowledged cdk-nag findings', () => {
    const gateway = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties!.Handler === 'index.handler')!;
    const deployed = JSON.parse(gateway.Properties!.Environment.Variables.SPLITSERVE_CONFIG as string) as { workers: unknown };
    expect(deployed.workers).toEqual({ secret: { secretArn: SECRET, kmsKeyArn: KEY_ARN, cacheMs: 300_000 } });
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});

describe('worker registration in a VPC', () => {
  const vpcConfig = {
    ...registrationConfig,
    pools: {
      prefill: { protocol: 'vllm-nixl', role: 'prefill', endpoints: ['http://10.0.1.5:8000'] },
      decode: { protocol: 'vllm-nixl', role: 'decode', registration: { allowedHosts: ['10.0.8.0/22', '10.0.9.9', 'fd00:1::/64', '*.pools.internal'] } },
    },
    vpc: {
      vpcId: 'vpc-0a1b2c3d4e5f60718',
      subnetIds: ['subnet-0a1b2c3d4e5f60711', 'subnet-0a1b2c3d4e5f60722'],
      routeTableIds: ['rtb-0a1b2c3d4e5f60733'],
      securityGroupIds: ['sg-0a1b2c3d4e5f60744'],
    },
  };
  let resources: Resources;
  let stack: SplitserveStack;

  beforeAll(() => {
    stack = new SplitserveStack(new App({ context }), 'WorkersVpcTest', { config: parseConfig(vpcConfig), env: ENV });
    resources = (Template.fromStack(stack).toJSON() as { Resources: Resources }).Resources;
  }, 300_000);

  it('admits the pool\'s allowed blocks and addresses on any TCP port from the pool clients, and nothing for a name', () => {
    const poolClients = Object.keys(resources).find((id) => resources[id]!.Type === 'AWS::EC2::SecurityGroup' && String(resources[id]!.Properties!.GroupDescription).includes('call the pools'))!;
    const egress = [
      ...((resources[poolClients]!.Properties!.SecurityGroupEgress ?? []) as Array<Record<string, unknown>>),
      ...Object.values(resources)
        .filter((r) => r.Type === 'AWS::EC2::SecurityGroupEgress' && JSON.stringify(r.Properties!.GroupId).includes(poolClients))
        .map((r) => r.Properties!),
    ].filter((rule) => String(rule.Description).startsWith('registered workers'));
    expect(egress.map((r) => r.CidrIp ?? r.CidrIpv6).sort()).toEqual(['10.0.8.0/22', '10.0.9.9/32', 'fd00:1::/64']);
    for (const rule of egress) expect(rule).toMatchObject({ IpProtocol: 'tcp', FromPort: 0, ToPort: 65535 });
  });

  it('places the backend steps with DynamoDB access (discovery), and has no unacknowledged cdk-nag findings', () => {
    const dynamoGroup = Object.keys(resources).find((id) => resources[id]!.Type === 'AWS::EC2::SecurityGroup' && String(resources[id]!.Properties!.GroupDescription).includes('use DynamoDB'))!;
    for (const handler of ['index.prefill', 'index.decode', 'index.fallback']) {
      const fn = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties!.Handler === handler)!;
      expect(JSON.stringify(fn.Properties!.VpcConfig.SecurityGroupIds), handler).toContain(dynamoGroup);
    }
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});

describe('grantWorkerRegistration', () => {
  function scope() {
    const stack = new Stack(new App(), 'Grants', { env: ENV });
    const table = new Table(stack, 'Config', { partitionKey: { name: 'pk', type: AttributeType.STRING }, sortKey: { name: 'sk', type: AttributeType.STRING } });
    const role = (id: string) => new Role(stack, id, { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    return { stack, table, gateway: role('Gateway'), step: role('Step') };
  }

  it('grants nothing when no pool takes registrations', () => {
    const { stack, table, gateway, step } = scope();
    const config = toDeployConfig(parseConfig({ ...registrationConfig, pools: { prefill: { protocol: 'openai', endpoints: ['https://a.example.com'] }, decode: { protocol: 'openai', endpoints: ['https://b.example.com'] } } }));
    expect(grantWorkerRegistration(stack, config, { configTable: table, gateway, discoverers: [step] })).toEqual([]);
  });

  it('grants discovery but no write and no secret without `workers` (admin CLI registrations only); a parameter by name is the stack\'s', () => {
    const { stack, table, gateway, step } = scope();
    const { workers: _w, ...noSecret } = registrationConfig;
    expect(grantWorkerRegistration(stack, toDeployConfig(parseConfig(noSecret)), { configTable: table, gateway, discoverers: [step] })).toHaveLength(1);
    const other = scope();
    const grants = grantWorkerRegistration(other.stack, toDeployConfig(parseConfig({ ...registrationConfig, workers: { secret: { parameter: '/splitserve/worker-secret' } } })), {
      configTable: other.table, gateway: other.gateway, discoverers: [other.step],
    });
    expect(grants).toHaveLength(3);
    const policies = Template.fromStack(other.stack).toJSON().Resources as Resources;
    const resourcesGranted = Object.values(policies).filter((r) => r.Type === 'AWS::IAM::Policy').flatMap((r) => (r.Properties!.PolicyDocument.Statement as Statement[]).filter((st) => actionsOf(st).includes('ssm:GetParameter')));
    expect(JSON.stringify(resourcesGranted[0]!.Resource)).toContain(':parameter/splitserve/worker-secret');
  });

  it('refuses a secret read from an environment variable at synth', () => {
    expect(() => assertDeployableWorkerSecret(toDeployConfig(parseConfig({ ...registrationConfig, workers: { secret: { env: 'WORKER_SECRET' } } })))).toThrow(ConfigError);
    expect(() => new SplitserveStack(new App({ context }), 'EnvSecret', { config: parseConfig({ ...registrationConfig, workers: { secret: { env: 'WORKER_SECRET' } } }), env: ENV })).toThrow(/workers\.secret\.env/);
  });
});
