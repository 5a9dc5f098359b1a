/**
 * The pool directory's gauges (the metrics' PoolHealthyEndpoints and PoolInFlight): endpoints
 * whose health check passes and whose breaker is not open, and the calls in flight.
 */
import { describe, expect, it } from 'vitest';
import { PoolDirectory } from '../../lambda/backends/pool-directory.ts';
import { parseConfig } from '../../lambda/core/config.ts';

const A = 'http://127.0.0.1:1';
const B = 'http://127.0.0.1:2';

const config = parseConfig({
  pools: {
    p: { protocol: 'vllm-nixl', role: 'prefill', endpoints: [A] },
    d: { protocol: 'vllm-nixl', role: 'decode', endpoints: [A, B], breaker: { failures: 1, coolDownMs: 60_000 } },
    gpu: { protocol: 'openai', endpoints: [B] },
  },
  models: { m: { pools: ['p', 'd', 'gpu'] } },
  tiers: { priority: { route: { mode: 'disaggregated', prefill: 'p', decode: 'd' } }, default: { route: { mode: 'aggregated', pool: 'gpu' } } },
});

describe('PoolDirectory.poolGauges', () => {
  it('every pool with its role, endpoints, healthy endpoints and calls in flight', () => {
    const dir = new PoolDirectory(config.pools, { retryAvoidMs: 0 });
    expect(dir.poolGauges()).toEqual([
      { pool: 'p', role: 'prefill', endpoints: 1, healthy: 1, inFlight: 0 },
      { pool: 'd', role: 'decode', endpoints: 2, healthy: 2, inFlight: 0 },
      { pool: 'gpu', role: 'both', endpoints: 1, healthy: 1, inFlight: 0 },
    ]);
    const held = [dir.acquire('d'), dir.acquire('d'), dir.acquire('gpu')];
    expect(dir.poolGauges().map((g) => g.inFlight)).toEqual([0, 2, 1]);
    for (const lease of held) lease.release(true);

    dir.setHealth('p', A, false);
    dir.acquire('d', A).release(false); // the breaker of A opens after one failure
    expect(dir.snapshot('d')[0]!.breaker).toBe('open');
    expect(dir.poolGauges().map((g) => [g.pool, g.healthy, g.inFlight])).toEqual([
      ['p', 0, 0],
      ['d', 1, 0],
      ['gpu', 1, 0],
    ]);
  });
});
