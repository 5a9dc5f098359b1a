/**
 * The pools' upstream credentials in the synthesized stack: read access on exactly the named
 * secrets, parameters and keys, for exactly the functions that call pools; no value in the
 * template; cdk-nag clean; a deploy with an `env` credential refused at synth.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { ConfigError } from '../../lambda/core/errors.ts';
import { SplitserveStack } from '../../lib/splitserve-stack.ts';
import { assertCredentialsInRegion, assertDeployableCredentials, credentialResources, grantUpstreamCredentials } from '../../lib/upstream-credentials.ts';
import { toDeployConfig } from '../../lib/deploy-config.ts';

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;
const ENV = { account: '123456789012', region: 'us-east-1' };

const PREFILL_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/trn-key-AbCdEf';
const DECODE_SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/cs3-keys-Gh1jK2';
const KEY_ARN = 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab';
const SHARED_PARAMETER = 'arn:aws:ssm:us-west-2:210987654321:parameter/shared/hosted-key';

const authConfig = {
  pools: {
    'trn-prefill': { protocol: 'vllm-nixl', role: 'prefill', endpoints: ['https://prefill.pools.example.com'], auth: { secretArn: PREFILL_SECRET, kmsKeyArn: KEY_ARN } },
    'cs3-decode': { protocol: 'vllm-nixl', role: 'decode', endpoints: ['https://decode.pools.example.com'], auth: { secretArn: DECODE_SECRET, jsonKey: 'decode' } },
    gpu: { protocol: 'openai', endpoints: ['https://gpu.pools.example.com'], auth: { parameter: '/splitserve/gpu-key' } },
    hosted: { protocol: 'openai', endpoints: ['https://llm.example.com'], auth: { parameter: SHARED_PARAMETER, header: 'x-api-key' } },
    open: { protocol: 'openai', endpoints: ['https://open.pools.example.com'] },
  },
  models: { 'llama-3.1-8b': { pools: ['trn-prefill', 'cs3-decode', 'gpu', 'hosted', 'open'] } },
  tiers: {
    priority: { route: { mode: 'disaggregated', prefill: 'trn-prefill', decode: 'cs3-decode' }, fallback: 'default' },
    default: { route: { mode: 'aggregated', pool: 'gpu' }, fallback: 'flex' },
    flex: { route: { mode: 'aggregated', pool: 'hosted' } },
  },
};

const CREDENTIAL_ACTIONS = ['secretsmanager:GetSecretValue', 'ssm:GetParameter', 'kms:Decrypt'];

type Resources = Record<string, { Type: string; Properties?: Record<string, any> }>;

/** Per function handler: credential action → the resources it is allowed on (statements merged). */
function credentialGrants(resources: Resources): Record<string, Record<string, string[]>> {
  const roleOf = new Map<string, string>();
  for (const [, r] of Object.entries(resources)) {
    if (r.Type === 'AWS::Lambda::Function') roleOf.set(r.Properties!.Role['Fn::GetAtt'][0], r.Properties!.Handler);
  }
  const out: Record<string, Record<string, string[]>> = Object.fromEntries([...roleOf.values()].map((h) => [h, {}]));
  for (const [, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const handlers = (r.Properties!.Roles as Array<{ Ref: string }>).map((role) => roleOf.get(role.Ref) ?? role.Ref);
    for (const st of r.Properties!.PolicyDocument.Statement as Array<{ Action: string | string[]; Resource: unknown; Effect: string }>) {
      for (const action of [st.Action].flat().filter((a) => CREDENTIAL_ACTIONS.includes(a) || /^(secretsmanager|ssm|kms):/.test(a))) {
        for (const h of handlers) {
          const bucket = ((out[h] ??= {})[action] ??= []);
          bucket.push(...([st.Resource].flat() as string[]));
        }
      }
    }
  }
  for (const grants of Object.values(out)) for (const list of Object.values(grants)) list.sort();
  return out;
}

describe('upstream credentials in the stack', () => {
  let stack: SplitserveStack;
  let template: Template;
  let resources: Resources;
  let assemblyDir: string;

  beforeAll(() => {
    const app = new App({ context });
    stack = new SplitserveStack(app, 'CredentialsTest', { config: parseConfig(authConfig), env: ENV });
    template = Template.fromStack(stack);
    resources = (template.toJSON() as { Resources: Resources }).Resources;
    assemblyDir = app.synth().directory;
  }, 300_000);

  it('keeps the Secrets Manager and SSM clients out of the bundles, imported on first use from the runtime\'s SDK', () => {
    for (const handler of ['index.handler', 'index.decode']) {
      const fn = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties!.Handler === handler)!;
      const bundle = readFileSync(join(assemblyDir, `asset.${String(fn.Properties!.Code.S3Key).replace(/\.zip$/, '')}`, 'index.mjs'), 'utf8');
      for (const module of ['@aws-sdk/client-secrets-manager', '@aws-sdk/client-ssm']) {
        expect(bundle, handler).toContain(`import("${module}")`);
        expect(bundle, handler).not.toMatch(new RegExp(`from\\s*"${module}"`));
      }
    }
  });

  it('grants read on exactly the named secrets, parameters and key, to the gateway and the prefill, decode and fallback steps only', () => {
    const reads = {
      'secretsmanager:GetSecretValue': [PREFILL_SECRET, DECODE_SECRET].sort(),
      'ssm:GetParameter': ['arn:aws:ssm:us-east-1:123456789012:parameter/splitserve/gpu-key', SHARED_PARAMETER].sort(),
      'kms:Decrypt': [KEY_ARN],
    };
    expect(credentialGrants(resources)).toEqual({
      'index.handler': reads,
      'index.prefill': reads,
      'index.decode': reads,
      'index.fallback': reads,
      'index.meter': {},
      'index.sweep': {},
    });
  });

  it('holds the ARNs in the functions\' config, never a value', () => {
    const gateway = Object.values(resources).find((r) => r.Type === 'AWS::Lambda::Function' && r.Properties!.Handler === 'index.handler')!;
    const deployed = JSON.parse(gateway.Properties!.Environment.Variables.SPLITSERVE_CONFIG as string) as { pools: Record<string, { auth?: unknown }> };
    expect(deployed.pools['trn-prefill']!.auth).toEqual({ secretArn: PREFILL_SECRET, kmsKeyArn: KEY_ARN, header: 'authorization', cacheMs: 300_000 });
    expect(deployed.pools.open!.auth).toBeUndefined();
  });

  it('has no unacknowledged cdk-nag findings', () => {
    const report = new AwsSolutionsChecks().validateScope(stack);
    expect(report.violations.map((v) => `${v.ruleName}: ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});

describe('grantUpstreamCredentials', () => {
  it('grants nothing when no pool names a credential', () => {
    const stack = new Stack(new App({ context }), 'NoCredentials', { env: ENV });
    const role = new Role(stack, 'Fn', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    const open = authConfig.pools.open;
    const config = toDeployConfig(parseConfig({ ...authConfig, pools: { ...authConfig.pools, 'trn-prefill': open, 'cs3-decode': open, gpu: open, hosted: open } }));
    expect(grantUpstreamCredentials(stack, config, [role])).toEqual([]);
    Template.fromStack(stack).resourceCountIs('AWS::IAM::Policy', 0);
  });

  it('lets the functions decrypt with a named key only through Secrets Manager or SSM, in the credentials\' regions', () => {
    const stack = new Stack(new App({ context }), 'KeyCondition', { env: ENV });
    const role = new Role(stack, 'Fn', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
    grantUpstreamCredentials(stack, toDeployConfig(parseConfig(authConfig)), [role]);
    const policies = Object.values((Template.fromStack(stack).toJSON() as { Resources: Resources }).Resources).filter((r) => r.Type === 'AWS::IAM::Policy');
    const statements = policies.flatMap((p) => p.Properties!.PolicyDocument.Statement as Array<{ Action: string; Condition?: unknown; Resource: unknown }>);
    const decrypt = statements.filter((st) => st.Action === 'kms:Decrypt');
    expect(decrypt).toHaveLength(1);
    expect(decrypt[0]!.Resource).toBe(KEY_ARN);
    expect(decrypt[0]!.Condition).toEqual({
      'ForAnyValue:StringEquals': {
        'kms:ViaService': ['secretsmanager.us-east-1.amazonaws.com', 'secretsmanager.eu-west-1.amazonaws.com', 'ssm.us-east-1.amazonaws.com', 'ssm.us-west-2.amazonaws.com'],
      },
    });
  });

  it('names a parameter given by name in the stack\'s account and region', () => {
    const stack = new Stack(new App({ context }), 'Parameters', { env: { account: '111122223333', region: 'ap-south-1' } });
    const config = toDeployConfig(parseConfig(authConfig));
    expect(credentialResources(stack, config).parameterArns).toEqual(['arn:aws:ssm:ap-south-1:111122223333:parameter/splitserve/gpu-key', SHARED_PARAMETER]);
  });
});

describe('a deploy with an env credential', () => {
  const withEnv = parseConfig({ ...authConfig, pools: { ...authConfig.pools, gpu: { protocol: 'openai', endpoints: ['https://gpu.pools.example.com'], auth: { env: 'GPU_KEY' } } } });

  it('fails the synth, saying why and what to use instead', () => {
    const make = () => new SplitserveStack(new App({ context }), 'EnvRejected', { config: withEnv, configSource: 'deploy.json' });
    expect(make).toThrow(ConfigError);
    expect(make).toThrow(/^deploy\.json: pools\.gpu\.auth\.env \(GPU_KEY\): a credential read from an environment variable is for local runs only; deployed, the value would be written into the CloudFormation template/);
    expect(make).toThrow(/Secrets Manager \("auth": \{ "secretArn"/);
  });

  it('is accepted for the local runtime only', () => {
    expect(() => assertDeployableCredentials(toDeployConfig(withEnv))).toThrow(ConfigError);
    expect(() => assertDeployableCredentials(toDeployConfig(parseConfig(authConfig)))).not.toThrow();
  });
});

describe('credentials in another region, with the functions in a VPC', () => {
  const inVpc = (pools: Record<string, unknown>) => toDeployConfig(parseConfig({ ...authConfig, pools, vpc: { create: true } }));
  const stackIn = (region: string | undefined) => new Stack(new App({ context }), `Region${region ?? 'Agnostic'}`, region ? { env: { account: '123456789012', region } } : {});

  it('are refused when the stack\'s region is known, naming each credential', () => {
    const config = inVpc(authConfig.pools);
    expect(() => assertCredentialsInRegion(stackIn('us-east-1'), config, 'deploy.json')).toThrow(ConfigError);
    expect(() => assertCredentialsInRegion(stackIn('us-east-1'), config, 'deploy.json')).toThrow(
      new RegExp(`^deploy\\.json: ${DECODE_SECRET}, ${SHARED_PARAMETER}: in another region than the stack's \\(us-east-1\\)`),
    );
  });

  it('covers the workers\' shared secret too', () => {
    const secret = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret:workers-AbCdEf';
    const config = toDeployConfig(parseConfig({ ...authConfig, pools: { ...authConfig.pools, 'cs3-decode': authConfig.pools.open, hosted: authConfig.pools.open }, workers: { secret: { secretArn: secret } }, vpc: { create: true } }));
    expect(() => assertCredentialsInRegion(stackIn('us-east-1'), config, 'deploy.json')).toThrow(new RegExp(`^deploy\\.json: ${secret}: in another region`));
  });

  it('are accepted without a VPC, in the stack\'s region, or when the region is only known at deploy', () => {
    expect(() => assertCredentialsInRegion(stackIn('us-east-1'), toDeployConfig(parseConfig(authConfig)))).not.toThrow();
    const sameRegion = { ...authConfig.pools, 'cs3-decode': authConfig.pools.open, hosted: authConfig.pools.open };
    expect(() => assertCredentialsInRegion(stackIn('us-east-1'), inVpc(sameRegion))).not.toThrow();
    expect(() => assertCredentialsInRegion(stackIn(undefined), inVpc(authConfig.pools))).not.toThrow();
  });
});
