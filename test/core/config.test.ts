import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig, poolAuthSchema } from '../../lambda/core/config.ts';
import { ConfigError } from '../../lambda/core/errors.ts';

const designExample = {
  pools: {
    'trn-prefill': { protocol: 'vllm-nixl', role: 'prefill', endpoints: ['http://10.0.1.5:8000'] },
    'cs3-decode': { protocol: 'vllm-nixl', role: 'decode', simulate: { profile: 'cerebras-decode', replicas: 2 } },
    gpu: { protocol: 'openai', endpoints: ['http://127.0.0.1:8301'] },
    bedrock: { protocol: 'bedrock', region: 'us-east-1', modelIds: { 'llama-3.1-8b': 'meta.llama3-1-8b-instruct-v1:0' } },
  },
  models: { 'llama-3.1-8b': { pools: ['trn-prefill', 'cs3-decode', 'gpu', 'bedrock'] } },
  tiers: {
    priority: { route: { mode: 'disaggregated', prefill: 'trn-prefill', decode: 'cs3-decode' }, slo: { ttftMs: 300, tpotMs: 5 }, fallback: 'default' },
    default: { route: { mode: 'aggregated', pool: 'gpu' }, slo: { ttftMs: 1000, tpotMs: 50 }, fallback: 'flex' },
    flex: { route: { mode: 'bedrock', pool: 'bedrock' }, slo: { ttftMs: 5000, tpotMs: 200 } },
  },
  tenants: [{ id: 'acme', apiKeys: ['sk-local-acme'], tiers: ['priority', 'default'], limits: { priority: { rpm: 600, tpm: 200000 } } }],
};

function messageOf(input: unknown): string {
  try {
    parseConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it("accepts the documented example (docs/configuration.md) and fills defaults", () => {
    const config = parseConfig(designExample);
    expect(config.pools['cs3-decode']!.kvTransfer).toBe('pull');
    expect(config.tiers.priority!.route).toMatchObject({ localPrefillBelowTokens: 0 });
    expect(config.defaultMaxTokens).toBe(1024);
  });

  it('accepts the bundled splitserve.config.json', () => {
    const config = parseConfig(JSON.parse(readFileSync(new URL('../../splitserve.config.json', import.meta.url), 'utf8')));
    expect(Object.keys(config.tiers)).toContain('priority');
  });

  it('names the bad field', () => {
    const unknownPool = structuredClone(designExample) as typeof designExample;
    (unknownPool.tiers.priority.route as { prefill: string }).prefill = 'nope';
    expect(messageOf(unknownPool)).toContain('tiers.priority.route.prefill: unknown pool "nope"');

    const badProtocol = structuredClone(designExample) as Record<string, any>;
    badProtocol.pools.gpu.protocol = 'grpc';
    expect(messageOf(badProtocol)).toContain('pools.gpu.protocol');

    const bothSources = structuredClone(designExample) as Record<string, any>;
    bothSources.pools.gpu.simulate = { profile: 'gpu-aggregated' };
    expect(messageOf(bothSources)).toMatch(/pools\.gpu: a pool needs exactly one of "endpoints" or "simulate"/);

    const typo = structuredClone(designExample) as Record<string, any>;
    typo.tiers.default.fallbak = 'flex';
    expect(messageOf(typo)).toContain('tiers.default');
  });

  it('rejects a tier falling back to itself or to an unknown tier', () => {
    const self = structuredClone(designExample) as Record<string, any>;
    self.tiers.default.fallback = 'default';
    expect(messageOf(self)).toContain('tiers.default.fallback: a tier cannot fall back to itself');
    const missing = structuredClone(designExample) as Record<string, any>;
    delete missing.tiers.flex;
    expect(messageOf(missing)).toContain('tiers.default.fallback: unknown tier "flex"');
  });
});

describe('config: a pool\'s auth', () => {
  const SECRET_ARN = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/vllm-key-AbCdEf';
  const withAuth = (auth: unknown, protocol = 'openai') => {
    const cfg = structuredClone(designExample) as Record<string, any>;
    if (protocol === 'bedrock') cfg.pools.bedrock.auth = auth;
    else cfg.pools.gpu.auth = auth;
    return cfg;
  };

  it('takes exactly one source, with the header and the cache bound defaulted', () => {
    expect(parseConfig(withAuth({ env: 'GPU_KEY' })).pools.gpu!.auth).toEqual({ env: 'GPU_KEY', header: 'authorization', cacheMs: 300_000 });
    expect(parseConfig(withAuth({ secretArn: SECRET_ARN, jsonKey: 'apiKey', kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab' })).pools.gpu!.auth).toMatchObject({ secretArn: SECRET_ARN, jsonKey: 'apiKey' });
    expect(parseConfig(withAuth({ parameter: '/prod/vllm-key', header: 'x-api-key', cacheMs: 60_000 })).pools.gpu!.auth).toEqual({ parameter: '/prod/vllm-key', header: 'x-api-key', cacheMs: 60_000 });
    expect(parseConfig(withAuth({ parameter: 'arn:aws:ssm:us-east-1:123456789012:parameter/prod/vllm-key' })).pools.gpu!.auth?.parameter).toContain('arn:aws:ssm');
    expect(parseConfig(designExample).pools.gpu!.auth).toBeUndefined();
  });

  it('names what is wrong', () => {
    expect(messageOf(withAuth({}))).toContain('pools.gpu.auth: needs exactly one of "secretArn", "parameter" or "env"');
    expect(messageOf(withAuth({ env: 'A', parameter: '/a' }))).toContain('needs exactly one of "secretArn", "parameter" or "env" (has parameter, env)');
    expect(messageOf(withAuth({ secretArn: 'arn:aws:secretsmanager:us-east-1:123456789012:secret:prod/vllm-key' }))).toContain("pools.gpu.auth.secretArn: expected the secret's complete ARN");
    expect(messageOf(withAuth({ parameter: 'has spaces' }))).toContain('pools.gpu.auth.parameter: expected a parameter name');
    expect(messageOf(withAuth({ env: 'AWS_SECRET_ACCESS_KEY' }))).toContain('pools.gpu.auth.env: expected an environment variable name');
    expect(messageOf(withAuth({ env: 'K', jsonKey: 'x' }))).toContain('pools.gpu.auth.jsonKey: "jsonKey" goes with "secretArn" only');
    expect(messageOf(withAuth({ env: 'K', kmsKeyArn: 'arn:aws:kms:us-east-1:123456789012:key/abc' }))).toContain('pools.gpu.auth.kmsKeyArn: "kmsKeyArn" goes with "secretArn" or "parameter" only');
    expect(messageOf(withAuth({ env: 'K', header: 'Content-Length' }))).toContain('pools.gpu.auth.header: "Content-Length" is set by the gateway itself');
    expect(messageOf(withAuth({ env: 'K', header: 'bad header' }))).toContain('pools.gpu.auth.header: expected an HTTP header name');
    expect(messageOf(withAuth({ env: 'K', cacheMs: 10 }))).toContain('pools.gpu.auth.cacheMs');
    expect(messageOf(withAuth({ env: 'K', token: 'x' }))).toContain('pools.gpu.auth');
  });

  it('refuses auth on a Bedrock pool (called with the IAM role)', () => {
    expect(messageOf(withAuth({ env: 'K' }, 'bedrock'))).toContain('pools.bedrock.auth: Bedrock pools are called with the functions\' IAM role; remove "auth"');
  });

  it('documents every auth field in docs/configuration.md', () => {
    const docs = readFileSync(new URL('../../docs/configuration.md', import.meta.url), 'utf8');
    const fields = Object.keys(poolAuthSchema.def.shape);
    expect(fields).toEqual(['secretArn', 'jsonKey', 'parameter', 'env', 'kmsKeyArn', 'header', 'cacheMs']);
    const section = docs.slice(docs.indexOf('### Upstream credentials'));
    for (const field of fields) expect(section).toContain(`\`${field}\``);
  });
});
