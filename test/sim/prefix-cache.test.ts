/**
 * The simulator's prefix cache: the pure LRU of chained block hashes, the timing model's use of
 * it, and the live server reporting `usage.prompt_tokens_details.cached_tokens` on 127.0.0.1.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { firstTokenMs } from '../../sim/model.ts';
import { PrefixCache, blockIds, syntheticBlockIds } from '../../sim/prefix-cache.ts';
import { getProfile } from '../../sim/profiles.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { startSimulator } from '../../sim/index.ts';

const text = (n: number, seed = 'a') => Array.from({ length: n }, (_, i) => `${seed}${i % 10}`).join('').slice(0, n);

describe('prefix cache (pure)', () => {
  it('chains block hashes: a block matches only after the same whole prefix', () => {
    const a = blockIds('0123456789abcdef' + 'XXXXXXXXXXXXXXXX', 4);
    const b = blockIds('ffff456789abcdef' + 'XXXXXXXXXXXXXXXX', 4);
    expect(a).toHaveLength(2);
    expect(a[1]).not.toBe(b[1]);
    expect(blockIds('0123456789abcdefXXXXXXXXXXXXXXXXtail', 4).slice(0, 2)).toEqual(a);
  });

  it('finds the leading blocks of a longer prompt that extends a cached one, never the whole prompt', () => {
    const cache = new PrefixCache(10_000, 16);
    const first = text(64 * 10);
    expect(cache.admit(blockIds(first, 16), 160).cachedTokens).toBe(0);
    const next = first + text(64 * 5, 'b');
    expect(cache.admit(blockIds(next, 16), 240).cachedTokens).toBe(160);
    expect(cache.admit(blockIds(next, 16), 240).cachedTokens).toBe(239);
    expect(cache.hitTokens).toBe(399);
  });

  it('evicts least recently used blocks beyond its capacity', () => {
    const cache = new PrefixCache(16 * 4, 16);
    const a = syntheticBlockIds('a', 64, 16);
    const b = syntheticBlockIds('b', 64, 16);
    cache.admit(a, 65);
    cache.admit(b, 65);
    expect(cache.size).toBe(4);
    expect(cache.admit(a, 65).cachedTokens).toBe(0);
    expect(cache.admit(a, 65).cachedTokens).toBe(64);
  });

  it('is off at capacity 0', () => {
    const cache = new PrefixCache(0, 16);
    const ids = syntheticBlockIds('a', 160, 16);
    cache.admit(ids, 160);
    expect(cache.admit(ids, 160).cachedTokens).toBe(0);
  });

  it('shortens prefill to the uncached suffix', () => {
    const profile = getProfile('gpu-aggregated');
    const full = firstTokenMs({ profile, promptTokens: 4000, kind: 'aggregated' });
    const hit = firstTokenMs({ profile, promptTokens: 4000, kind: 'aggregated', cachedTokens: 3000 });
    expect(hit.prefillMs).toBeCloseTo(full.prefillMs / 4, 6);
    expect(firstTokenMs({ profile, promptTokens: 10, kind: 'aggregated', cachedTokens: 50 }).prefillMs).toBe(0);
  });
});

describe('prefix cache (live simulator)', () => {
  let sim: SimulatorHandle | undefined;
  afterEach(async () => {
    await sim?.close();
    sim = undefined;
  });

  const ask = async (s: SimulatorHandle, messages: Array<{ role: string; content: string }>) => {
    const res = await fetch(`${s.url}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'm', messages, max_tokens: 2 }) });
    expect(res.status).toBe(200);
    return (await res.json()) as { usage: { prompt_tokens: number; prompt_tokens_details?: { cached_tokens: number } } };
  };

  it('reports cached_tokens for a second turn that repeats the first', async () => {
    sim = await startSimulator({ profile: 'gpu-aggregated', speedup: 1000, prefixCacheTokens: 100_000 });
    const turn1 = [{ role: 'system', content: text(2000, 's') }, { role: 'user', content: 'first question' }];
    const first = await ask(sim, turn1);
    expect(first.usage.prompt_tokens_details).toEqual({ cached_tokens: 0 });
    const second = await ask(sim, [...turn1, { role: 'assistant', content: 'an answer' }, { role: 'user', content: 'second question' }]);
    const cached = second.usage.prompt_tokens_details!.cached_tokens;
    expect(cached).toBeGreaterThan(400);
    expect(cached).toBeLessThan(second.usage.prompt_tokens);
    expect(sim.prefixCache()).toEqual({ lookups: 2, promptTokens: first.usage.prompt_tokens + second.usage.prompt_tokens, cachedTokens: cached });
    const metrics = await (await fetch(`${sim.url}/metrics`)).text();
    expect(metrics).toContain(`vllm:prefix_cache_queries_total{engine="0",model_name="llama-3.1-8b"} ${(first.usage.prompt_tokens + second.usage.prompt_tokens).toFixed(1)}`);
    expect(metrics).toContain(`vllm:prefix_cache_hits_total{engine="0",model_name="llama-3.1-8b"} ${cached.toFixed(1)}`);
  });

  it('sends no prompt_tokens_details without a prefix cache', async () => {
    sim = await startSimulator({ profile: 'gpu-aggregated', speedup: 1000 });
    const turn = [{ role: 'user', content: text(800) }];
    await ask(sim, turn);
    expect((await ask(sim, turn)).usage.prompt_tokens_details).toBeUndefined();
    expect(await (await fetch(`${sim.url}/metrics`)).text()).not.toContain('prefix_cache');
  });
});
