/**
 * Prefix-cache affinity (rendezvous hashing with bounded loads) and the routing key: pure units
 * on plain data. Hit rates here are "share of a key's requests on its first endpoint".
 */
import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../lambda/core/errors.ts';
import { selectPairDecodeFirst } from '../../lambda/routing/pair-selection.ts';
import type { EndpointView, SelectionPolicy } from '../../lambda/routing/policy.ts';
import { DEFAULT_LOAD_FACTOR, prefixAffinity, rendezvousOrder } from '../../lambda/routing/prefix-affinity.ts';
import { roundRobin } from '../../lambda/routing/round-robin.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { MAX_SESSION_CHARS, PREFIX_KEY_CHARS, promptOpening, routesByKey, routingKey, sessionOf } from '../../lambda/routing/routing-key.ts';

const endpoints = (n: number, load: (i: number) => number = () => 0): EndpointView[] =>
  Array.from({ length: n }, (_, i) => ({ url: `http://10.0.0.${i + 1}:8000`, outstanding: load(i) }));

const keys = (n: number, prefix = 'p:k'): string[] => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

/** A policy that records what it was asked and always answers `answer`. */
function recording(answer: number): SelectionPolicy & { calls: Array<string | undefined> } {
  const calls: Array<string | undefined> = [];
  return { calls, select: (_e, key) => (calls.push(key), answer) };
}

describe('prefix affinity: where keys go', () => {
  it('sends a key to the same endpoint every time while loads are even', () => {
    const policy = prefixAffinity(roundRobin());
    const e = endpoints(6);
    for (const key of keys(200)) {
      const first = policy.select(e, key);
      for (let i = 0; i < 5; i++) expect(policy.select(e, key)).toBe(first);
    }
  });

  it('spreads many keys evenly (each of 8 endpoints within 15% of an eighth of 16,000 keys)', () => {
    const policy = prefixAffinity(roundRobin());
    const e = endpoints(8);
    const counts = new Array<number>(8).fill(0);
    for (const key of keys(16_000)) counts[policy.select(e, key)]! += 1;
    for (const c of counts) expect(Math.abs(c - 2000) / 2000).toBeLessThan(0.15);
  });

  it('depends only on the endpoint URLs, not on their order in the list (every gateway instance agrees)', () => {
    const e = endpoints(5);
    const reversed = [...e].reverse();
    const policy = prefixAffinity(roundRobin());
    for (const key of keys(300)) expect(reversed[policy.select(reversed, key)]!.url).toBe(e[policy.select(e, key)]!.url);
  });

  it('hands requests without a key to the fallback policy', () => {
    const fallback = recording(2);
    const policy = prefixAffinity(fallback);
    expect(policy.select(endpoints(4), undefined)).toBe(2);
    expect(fallback.calls).toEqual([undefined]);
    expect(policy.select(endpoints(4), 's:abc')).not.toBeUndefined();
    expect(fallback.calls).toHaveLength(1);
  });
});

describe('prefix affinity: the load bound (Mirrokni et al., SODA 2018)', () => {
  it('passes over the key\'s endpoint when it is above ⌈c × average⌉, to the next of its order', () => {
    const e = endpoints(4);
    const key = 'p:hot';
    const order = rendezvousOrder(e, key);
    const busy = endpoints(4, (i) => (i === order[0] ? 10 : 1));
    // total with the request = 10 + 3 + 1 = 14; bound = ⌈1.25 × 14 / 4⌉ = 5: the first choice (10) is over it.
    expect(prefixAffinity(roundRobin()).select(busy, key)).toBe(order[1]);
    // Within the bound it keeps the first choice: 3 + 1 vs ⌈1.25 × (3 + 2 + 2 + 2 + 1) / 4⌉ = 4.
    const mild = endpoints(4, (i) => (i === order[0] ? 3 : 2));
    expect(prefixAffinity(roundRobin()).select(mild, key)).toBe(order[0]);
  });

  it('a single hot key never puts more than ⌈c × average⌉ on any endpoint', () => {
    for (const c of [1, 1.25, 2]) {
      const e = endpoints(5);
      const policy = prefixAffinity(roundRobin(), { loadFactor: c });
      const loads = new Array<number>(5).fill(0);
      for (let placed = 0; placed < 500; placed++) {
        const i = policy.select(e.map((x, j) => ({ ...x, outstanding: loads[j]! })), 'p:one-hot-key');
        loads[i]! += 1;
        const bound = Math.ceil((c * (placed + 1)) / 5);
        expect(Math.max(...loads)).toBeLessThanOrEqual(bound);
      }
    }
  });

  it('weighs the engine\'s reported load when there is one, not the instance\'s own calls', () => {
    const e = endpoints(3);
    const key = 'p:engine-load';
    const order = rendezvousOrder(e, key);
    const views = e.map((x, i) => ({ ...x, outstanding: 0, load: i === order[0] ? 40 : 2 }));
    expect(prefixAffinity(roundRobin(), { loadFactor: DEFAULT_LOAD_FACTOR }).select(views, key)).not.toBe(order[0]);
  });
});

describe('prefix affinity: endpoint set changes move ~1/n of the keys', () => {
  const policy = prefixAffinity(roundRobin());
  const all = keys(10_000);
  const where = (e: EndpointView[]) => new Map(all.map((k) => [k, e[policy.select(e, k)]!.url]));

  it('removing one of 10 endpoints moves exactly the keys it held', () => {
    const before = where(endpoints(10));
    const removed = endpoints(10)[3]!.url;
    const after = where(endpoints(10).filter((e) => e.url !== removed));
    const moved = all.filter((k) => before.get(k) !== after.get(k));
    expect(moved.every((k) => before.get(k) === removed)).toBe(true);
    expect(moved.length).toBe(all.filter((k) => before.get(k) === removed).length);
    expect(moved.length / all.length).toBeGreaterThan(0.07);
    expect(moved.length / all.length).toBeLessThan(0.13);
  });

  it('adding an 11th endpoint (a worker registering) moves ~1/11 of the keys, all onto it', () => {
    const before = where(endpoints(10));
    const grown = endpoints(11);
    const after = where(grown);
    const moved = all.filter((k) => before.get(k) !== after.get(k));
    expect(moved.every((k) => after.get(k) === grown[10]!.url)).toBe(true);
    expect(moved.length / all.length).toBeGreaterThan(1 / 11 - 0.025);
    expect(moved.length / all.length).toBeLessThan(1 / 11 + 0.025);
  });

  it('an unavailable endpoint (left out of the candidates) sends its keys to their next choice only', () => {
    const e = endpoints(6);
    const without = e.filter((_, i) => i !== 0);
    for (const key of keys(500)) {
      const order = rendezvousOrder(e, key).map((i) => e[i]!.url);
      const expected = order[0] === e[0]!.url ? order[1] : order[0];
      expect(without[policy.select(without, key)]!.url).toBe(expected);
    }
  });
});

describe('pair selection carries the key to both sides', () => {
  it('keeps a key on the same prefill endpoint whatever the decode side picks', () => {
    const prefill = endpoints(4);
    const decode = endpoints(3).map((e) => ({ ...e, url: e.url.replace('10.0.0', '10.0.1') }));
    const prefillPolicy = prefixAffinity(roundRobin());
    const firsts = new Set<number>();
    for (let i = 0; i < 6; i++) firsts.add(selectPairDecodeFirst({ prefill, decode, prefillPolicy, decodePolicy: roundRobin(), key: 'p:conversation' }).prefill);
    expect(firsts.size).toBe(1);
  });
});

describe('routing key', () => {
  const chat = (...messages: Array<[string, string]>) => ({ model: 'm', messages: messages.map(([role, content]) => ({ role, content })) });
  const turn1 = chat(['system', 'You are terse.'], ['user', 'Plan a trip to Lyon.']);
  const turn2 = chat(['system', 'You are terse.'], ['user', 'Plan a trip to Lyon.'], ['assistant', 'Day 1: old town.'], ['user', 'And day 2?']);

  it('gives every turn of a conversation the key of its opening (system prompt and first user message)', () => {
    expect(routingKey('t', undefined, turn2)).toBe(routingKey('t', undefined, turn1));
    expect(routingKey('t', undefined, turn1)).toMatch(/^p:[A-Za-z0-9_-]{22}$/);
    expect(routingKey('t', undefined, chat(['system', 'You are terse.'], ['user', 'Plan a trip to Nice.']))).not.toBe(routingKey('t', undefined, turn1));
  });

  it('scopes the prefix key to the tenant: the same opening from two tenants is not steered to one engine', () => {
    expect(routingKey('tenant-a', undefined, turn1)).not.toBe(routingKey('tenant-b', undefined, turn1));
    expect(routingKey('tenant-a', undefined, turn2)).toBe(routingKey('tenant-a', undefined, turn1));
  });

  it('caps the opening at PREFIX_KEY_CHARS, so conversations behind one long system prompt share a key', () => {
    const long = 'x'.repeat(PREFIX_KEY_CHARS + 100);
    const a = chat(['system', long], ['user', 'a']);
    const b = chat(['system', long], ['user', 'b']);
    expect(promptOpening(a)).toHaveLength(PREFIX_KEY_CHARS);
    expect(routingKey('t', undefined, a)).toBe(routingKey('t', undefined, b));
  });

  it('keys /v1/completions by the opening of the prompt (the first prompt of a batch)', () => {
    expect(routingKey('t', undefined, { model: 'm', prompt: 'Once upon a time' })).toBe(routingKey('t', undefined, { model: 'm', prompt: ['Once upon a time', 'other'] }));
    expect(routingKey('t', undefined, { model: 'm', prompt: '' })).toBeUndefined();
  });

  it('prefers a session (x-session-id, else prompt_cache_key, else user), scoped to the tenant, and never keeps its value', () => {
    const withUser = { ...turn1, user: 'alice' };
    expect(sessionOf(undefined, withUser)).toBe('alice');
    expect(sessionOf(undefined, { ...withUser, prompt_cache_key: 'conv-7' })).toBe('conv-7');
    expect(sessionOf('sess-42', { ...withUser, prompt_cache_key: 'conv-7' })).toBe('sess-42');
    const key = routingKey('tenant-a', 'alice', withUser)!;
    expect(key).toMatch(/^s:/);
    expect(key).not.toContain('alice');
    expect(routingKey('tenant-b', 'alice', withUser)).not.toBe(key);
    expect(routingKey('tenant-a', 'alice', turn2)).toBe(key);
  });

  it('is computed only for a config with a pool that routes by it', () => {
    const config = (affinity: object | undefined) =>
      parseConfig({
        pools: { gpu: { protocol: 'openai', endpoints: ['http://127.0.0.1:1'], ...(affinity ? { affinity } : {}) }, other: { protocol: 'openai', endpoints: ['http://127.0.0.1:2'] } },
        models: { m: { pools: ['gpu', 'other'] } },
        tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
      });
    expect(routesByKey(config({}))).toBe(true);
    expect(routesByKey(config(undefined))).toBe(false);
  });

  it('refuses an empty or overlong session header (400) and ignores an unusable user field', () => {
    expect(() => sessionOf('', {})).toThrow(InvalidRequestError);
    expect(() => sessionOf('s'.repeat(MAX_SESSION_CHARS + 1), {})).toThrow(/x-session-id/);
    expect(sessionOf(undefined, { user: 42 })).toBeUndefined();
    expect(sessionOf(undefined, { user: 'u'.repeat(MAX_SESSION_CHARS + 1) })).toBeUndefined();
    expect(sessionOf(undefined, { prompt_cache_key: '', user: 'bob' })).toBe('bob');
  });
});
