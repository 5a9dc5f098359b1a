/**
 * The deploy-only config blocks (lib/deploy-options.ts): `vpc` and `alarms` validated at synth
 * (toDeployConfig) with clear messages, defaults filled in, and every field documented in
 * docs/configuration.md; opaque to the runtime config schema.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { alarmsSchema, vpcSchema } from '../../lib/deploy-options.ts';
import { toDeployConfig } from '../../lib/deploy-config.ts';

const deployConfig = (config: unknown) => toDeployConfig(parseConfig(config));

const base = {
  pools: { gpu: { protocol: 'openai', endpoints: ['http://10.0.3.5:8000'] } },
  models: { m: { pools: ['gpu'] } },
  tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' }, slo: { ttftMs: 1000, tpotMs: 50 } } },
};
const existing = { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef1'], routeTableIds: ['rtb-0123456789abcdef2'] };

const messageOf = (config: unknown): string => {
  try {
    deployConfig(config);
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error('expected the config to be rejected');
};

describe('vpc', () => {
  it('accepts an existing VPC and fills the defaults', () => {
    const { vpc } = deployConfig({ ...base, vpc: existing });
    expect(vpc).toEqual({ ...existing, securityGroupIds: [] });
  });

  it('accepts a VPC to create and fills the defaults', () => {
    expect(deployConfig({ ...base, vpc: { create: true } }).vpc).toEqual({ create: true, cidr: '10.64.0.0/16', maxAzs: 2, natGateways: 0 });
    expect(deployConfig({ ...base, vpc: { create: true, cidr: '10.9.0.0/16', natGateways: 1, endpoints: ['dynamodb', 'sync-states', 'ssm'] } }).vpc).toMatchObject({
      natGateways: 1,
      endpoints: ['dynamodb', 'sync-states', 'ssm'],
    });
  });

  it('names the bad field', () => {
    expect(messageOf({ ...base, vpc: { ...existing, vpcId: 'my-vpc' } })).toContain('vpc.vpcId: expected an id like vpc-0123456789abcdef0');
    expect(messageOf({ ...base, vpc: { ...existing, subnetIds: [] } })).toContain('vpc.subnetIds');
    expect(messageOf({ ...base, vpc: { vpcId: existing.vpcId, subnetIds: existing.subnetIds } })).toContain('vpc.routeTableIds: the DynamoDB gateway endpoint goes into route tables');
    expect(messageOf({ ...base, vpc: { ...existing, securityGroupIds: ['sg-0123456789abcdef1', 'sg-0123456789abcdef2', 'sg-0123456789abcdef3'] } })).toContain('vpc.securityGroupIds');
    expect(messageOf({ ...base, vpc: { ...existing, endpoints: ['s3'] } })).toContain('vpc.endpoints.0');
    expect(messageOf({ ...base, vpc: { ...existing, endpoints: ['ssm', 'ssm'] } })).toContain('lists a service twice');
    expect(messageOf({ ...base, vpc: { create: true, cidr: '10.0.0.0/33' } })).toContain('vpc.cidr');
    expect(messageOf({ ...base, vpc: { create: false } })).toContain('vpc');
  });

  it('needs no route tables when the VPC keeps its own DynamoDB endpoint', () => {
    expect(deployConfig({ ...base, vpc: { vpcId: existing.vpcId, subnetIds: existing.subnetIds, endpoints: ['sync-states'] } }).vpc).toBeDefined();
  });
});

describe('the runtime config (local runs, the functions)', () => {
  it('accepts vpc and alarms without reading them: they are validated at synth only', () => {
    const raw = { ...base, vpc: { vpcId: 'not-checked-here' }, alarms: { createTopic: true } };
    expect(parseConfig(raw).vpc).toEqual({ vpcId: 'not-checked-here' });
    expect(messageOf(raw)).toContain('vpc.vpcId: expected an id like vpc-0123456789abcdef0');
  });
});

describe('alarms and objectives', () => {
  it('defaults the objective to 99% and takes a tier\'s own', () => {
    expect(deployConfig({ ...base, alarms: {} }).alarms).toEqual({ createTopic: false, emails: [], objective: 0.99 });
    const tier = { ...base.tiers.default, slo: { ...base.tiers.default.slo, objective: 0.995 } };
    expect(deployConfig({ ...base, tiers: { default: tier } }).tiers.default!.slo!.objective).toBe(0.995);
    expect(messageOf({ ...base, alarms: { objective: 1 } })).toContain('alarms.objective');
    expect(messageOf({ ...base, alarms: { emails: ['not-an-address'], createTopic: true } })).toContain('alarms.emails.0');
  });
});

describe('docs/configuration.md', () => {
  const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
  const keysOf = (schema: unknown): string[] => {
    const def = (schema as { _zod: { def: { shape?: Record<string, unknown>; options?: unknown[] } } })._zod.def;
    return def.options ? def.options.flatMap(keysOf) : Object.keys(def.shape ?? {});
  };

  it('documents every field of vpc and alarms', () => {
    const fields = [...new Set([...keysOf(vpcSchema).map((k) => `vpc.${k}`), ...keysOf(alarmsSchema).map((k) => `alarms.${k}`)])];
    expect(fields.length).toBeGreaterThan(10);
    for (const field of fields) expect(docs, field).toContain(`\`${field}\``);
    expect(docs).toContain('`slo.objective`');
  });
});
