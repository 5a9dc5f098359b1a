/**
 * PoolDirectory with `affinity`: the routing key picks the endpoint for plain leases and for the
 * prefill side of a pair (both pairing orders), skips endpoints that are unhealthy or just failed,
 * passes over a key's endpoint once it is above the load bound, and leaves requests without a
 * key to the pool's policy. Plain data, no servers (load polling off).
 */
import { describe, expect, it } from 'vitest';
import { PoolDirectory } from '../../lambda/backends/pool-directory.ts';
import type { SplitserveConfig } from '../../lambda/core/config.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { rendezvousOrder } from '../../lambda/routing/prefix-affinity.ts';

const URLS = ['http://127.0.0.1:1', 'http://127.0.0.1:2', 'http://127.0.0.1:3', 'http://127.0.0.1:4'];

function pools(prefill: Record<string, unknown>, decode: Record<string, unknown> = {}): SplitserveConfig['pools'] {
  return parseConfig({
    pools: {
      p: { protocol: 'vllm-nixl', role: 'prefill', endpoints: URLS, load: false, ...prefill },
      d: { protocol: 'vllm-nixl', role: 'decode', endpoints: URLS.slice(0, 2), load: false, ...decode },
    },
    models: { m: { pools: ['p', 'd'] } },
    tiers: { priority: { route: { mode: 'disaggregated', prefill: 'p', decode: 'd' } } },
  }).pools;
}

/** The key's endpoints in order (what the policy prefers first). */
const orderOf = (key: string) => rendezvousOrder(URLS.map((url) => ({ url })), key).map((i) => URLS[i]!);

function take(dir: PoolDirectory, key: string | undefined): string {
  const lease = dir.acquire('p', undefined, undefined, key);
  lease.release(true);
  return lease.target.endpoint;
}

describe('PoolDirectory with affinity', () => {
  it('parses `affinity` and refuses a load factor below 1', () => {
    expect(pools({ affinity: { loadFactor: 1.5 } }).p!.affinity).toEqual({ loadFactor: 1.5 });
    expect(() => pools({ affinity: { loadFactor: 0.5 } })).toThrow(/loadFactor/);
    expect(() => pools({ affinity: { ring: 3 } })).toThrow();
  });

  it('sends each key to its first endpoint, every time', () => {
    const dir = new PoolDirectory(pools({ affinity: {} }));
    for (const key of ['p:a', 'p:b', 's:c', 's:d', 'p:e', 'p:f']) {
      const expected = orderOf(key)[0];
      for (let i = 0; i < 4; i++) expect(take(dir, key)).toBe(expected);
    }
  });

  it('leaves requests without a key to the pool\'s policy (round robin here)', () => {
    const dir = new PoolDirectory(pools({ affinity: {}, policy: 'round-robin' }));
    expect([0, 1, 2, 3, 4].map(() => take(dir, undefined))).toEqual([...URLS, URLS[0]]);
  });

  it('ignores the key on a pool without affinity', () => {
    const dir = new PoolDirectory(pools({ policy: 'round-robin' }));
    expect([0, 1, 2].map(() => take(dir, 'p:same'))).toEqual(URLS.slice(0, 3));
  });

  it('skips an unhealthy endpoint and a just-failed one, then returns to the key\'s endpoint', () => {
    let t = 1000;
    const dir = new PoolDirectory(pools({ affinity: {} }), { now: () => t, retryAvoidMs: 100 });
    const key = 'p:conversation';
    const [first, second] = orderOf(key);
    dir.setHealth('p', first!, false);
    expect(take(dir, key)).toBe(second);
    dir.setHealth('p', first!, true);
    expect(take(dir, key)).toBe(first);
    const failed = dir.acquire('p', undefined, undefined, key);
    failed.release(false);
    expect(take(dir, key)).toBe(second);
    t += 101;
    expect(take(dir, key)).toBe(first);
  });

  it('passes over the key\'s endpoint while it is above the load bound (calls in flight)', () => {
    const dir = new PoolDirectory(pools({ affinity: { loadFactor: 1 } }));
    const key = 'p:hot';
    const held = [0, 1, 2, 3].map(() => dir.acquire('p', undefined, undefined, key));
    // Loads may never exceed ⌈1 × average⌉: four calls of one key land on four endpoints.
    expect(new Set(held.map((l) => l.target.endpoint)).size).toBe(4);
    expect(held[0]!.target.endpoint).toBe(orderOf(key)[0]);
    for (const l of held) l.release(true);
  });

  it('keys an SGLang fresh pair (a retry) to the key\'s next endpoint, leaving out the failed one', () => {
    const dir = new PoolDirectory(pools({ affinity: {} }));
    const key = 'p:retry';
    const [first, second] = orderOf(key);
    const decode = dir.acquire('d');
    const fresh = dir.pairLeases('p', 'd', decode, key).fresh(new Set([first!]));
    expect(fresh.prefill.target.endpoint).toBe(second);
    fresh.prefill.release(true);
    fresh.decode.release(true);
    decode.release(true);
  });

  it('keys the prefill side of a pair, in both pairing orders', () => {
    for (const pairing of [{}, { pairing: 'decode-first' }]) {
      const dir = new PoolDirectory(pools({ affinity: {}, ...pairing }));
      for (const key of ['p:x', 'p:y', 's:z']) {
        for (let i = 0; i < 3; i++) {
          const { lease, decodeEndpoint } = dir.acquirePair('p', 'd', false, key);
          expect(lease.target.endpoint).toBe(orderOf(key)[0]);
          expect(URLS.slice(0, 2)).toContain(decodeEndpoint);
          lease.release(true);
        }
      }
    }
  });
});
