import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
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
