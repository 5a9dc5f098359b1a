/**
 * PoolDirectory: leases, retries to another endpoint, breaker per endpoint (injected clock),
 * health marks, decode-first pairs and SGLang pair leases. Plain data, no servers.
 */
import { describe, expect, it } from 'vitest';
import { PoolDirectory } from '../../lambda/backends/pool-directory.ts';
import type { PoolConfig, SplitserveConfig } from '../../lambda/core/config.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { UpstreamError } from '../../lambda/core/errors.ts';

const A = 'http://127.0.0.1:1';
const B = 'http://127.0.0.1:2';
const C = 'http://127.0.0.1:3';

function pools(extra: Partial<Record<string, unknown>> = {}, decodeExtra: Partial<Record<string, unknown>> = {}, protocol = 'vllm-nixl'): SplitserveConfig['pools'] {
  return parseConfig({
    pools: {
      p: { protocol, role: 'prefill', endpoints: [A, B, C], ...extra },
      d: { protocol, role: 'decode', endpoints: [A, B], ...decodeExtra },
    },
    models: { m: { pools: ['p', 'd'] } },
    tiers: { priority: { route: { mode: 'disaggregated', prefill: 'p', decode: 'd' } } },
  }).pools;
}

function clock(start = 1000) {
  let t = start;
  return { now: () => t, advance: (ms: number) => void (t += ms) };
}

describe('PoolDirectory', () => {
  it('without the new fields, parses as before and round-robins', () => {
    const cfg = pools();
    const fields: Array<keyof PoolConfig> = ['policy', 'pairing', 'health', 'breaker', 'bootstrapPort'];
    for (const f of fields) expect(cfg.p).not.toHaveProperty(f);
    const dir = new PoolDirectory(cfg);
    const urls = [0, 1, 2, 3].map(() => {
      const lease = dir.acquire('p');
      lease.release(true);
      return lease.target.endpoint;
    });
    expect(urls).toEqual([A, B, C, A]);
  });

  it('counts calls in flight per endpoint and releases once', () => {
    const dir = new PoolDirectory(pools());
    const a = dir.acquire('p');
    const b = dir.acquire('p');
    expect(dir.inFlight('p')).toBe(2);
    a.release(true);
    a.release(false);
    expect(dir.inFlight('p')).toBe(1);
    expect(dir.snapshot('p').map((e) => e.outstanding)).toEqual([0, 1, 0]);
    b.release();
  });

  it('sends the retry after a failure to another endpoint, even when it was preferred', () => {
    const c = clock();
    const dir = new PoolDirectory(pools(), { now: c.now });
    const first = dir.acquire('d');
    expect(first.target.endpoint).toBe(A);
    first.release(false);
    for (let i = 0; i < 3; i++) {
      const retry = dir.acquire('d', A);
      expect(retry.target.endpoint).toBe(B);
      retry.release(true);
    }
    c.advance(1000);
    expect(dir.acquire('d', A).target.endpoint).toBe(A); // the mark is short
  });

  it('honours exclude unless nothing else is left', () => {
    const dir = new PoolDirectory(pools());
    expect(dir.acquire('d', A, new Set([A])).target.endpoint).toBe(B);
    expect(dir.acquire('d', undefined, new Set([A, B])).target.endpoint).toMatch(/127/);
  });

  it('opens a breaker after N failures, probes after the cool-down and closes on success', () => {
    const c = clock();
    const dir = new PoolDirectory(pools({}, { breaker: { failures: 2, coolDownMs: 5000 } }), { now: c.now, retryAvoidMs: 0 });
    for (let i = 0; i < 2; i++) dir.acquire('d', A).release(false);
    expect(dir.snapshot('d')[0]).toMatchObject({ breaker: 'open', consecutiveFailures: 2 });
    for (let i = 0; i < 4; i++) expect(dir.acquire('d', A).target.endpoint).toBe(B);
    c.advance(5000);
    const probe = dir.acquire('d', A);
    expect(probe.target.endpoint).toBe(A);
    expect(dir.snapshot('d')[0]!.breaker).toBe('half-open');
    expect(dir.acquire('d', A).target.endpoint).toBe(B); // one probe at a time
    probe.release(true);
    expect(dir.snapshot('d')[0]).toMatchObject({ breaker: 'closed', consecutiveFailures: 0 });
  });

  it('a success of a call started before a failure does not reset the breaker', () => {
    const dir = new PoolDirectory(pools({}, { breaker: { failures: 2 } }), { retryAvoidMs: 0 });
    const old = dir.acquire('d', A);
    dir.acquire('d', A).release(false);
    old.release(true);
    dir.acquire('d', A).release(false);
    expect(dir.snapshot('d')[0]!.breaker).toBe('open');
  });

  it('fails fast (503, retryable) when every endpoint is open, and leaves unhealthy endpoints out', () => {
    const dir = new PoolDirectory(pools({}, { breaker: { failures: 1 } }), { retryAvoidMs: 0 });
    dir.acquire('d', A).release(false);
    dir.acquire('d', B).release(false);
    let error: unknown;
    try {
      dir.acquire('d');
    } catch (err) {
      error = err;
    }
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ statusCode: 503, retryable: true });
    dir.setHealth('p', B, false);
    expect(new Set([0, 1, 2, 3].map(() => dir.acquire('p').target.endpoint))).toEqual(new Set([A, C]));
    dir.setHealth('p', B, true);
    expect(new Set([0, 1, 2].map(() => dir.acquire('p').target.endpoint))).toContain(B);
  });

  it('least-outstanding pools avoid the busy endpoint', () => {
    const dir = new PoolDirectory(pools({ policy: 'least-outstanding' }), { random: () => 0 });
    dir.acquire('p', A);
    dir.acquire('p', A);
    expect(dir.acquire('p').target.endpoint).toBe(B);
  });

  it('decode-first pairing names decode\'s endpoint for the decode step', () => {
    const dir = new PoolDirectory(pools({}, { pairing: 'decode-first', policy: 'least-outstanding' }), { random: () => 0 });
    const busy = dir.acquire('d', A);
    const pick = dir.acquirePair('p', 'd', false);
    expect(pick.decodeEndpoint).toBe(B);
    expect(pick.lease.target.pool).toBe('p');
    expect(dir.inFlight('p')).toBe(1);
    busy.release(true);
  });

  it('picks the pair once: without decode-first the decode endpoint is chosen with prefill, by its own policy, and the decode step takes it', () => {
    const dir = new PoolDirectory(pools());
    const first = dir.acquirePair('p', 'd', false);
    const second = dir.acquirePair('p', 'd', false);
    expect([first.decodeEndpoint, second.decodeEndpoint]).toEqual([A, B]);
    expect(dir.inFlight('d')).toBe(0);
    expect(dir.acquire('d', second.decodeEndpoint).target.endpoint).toBe(B);
    expect(dir.acquire('d', first.decodeEndpoint).target.endpoint).toBe(A);
  });

  it('SGLang: the prefill step takes no call; the pair leases carry the calls and the fresh pair', () => {
    const dir = new PoolDirectory(pools({}, {}, 'sglang'));
    const pick = dir.acquirePair('p', 'd', true);
    expect(dir.inFlight('p')).toBe(0);
    const decode = dir.acquire('d');
    const leases = dir.pairLeases('p', 'd', decode);
    const prefill = leases.prefill(pick.lease.target.endpoint);
    expect(prefill.target.endpoint).toBe(pick.lease.target.endpoint);
    expect(dir.inFlight('p')).toBe(1);
    prefill.release(false);
    decode.release();
    const fresh = leases.fresh(new Set([pick.lease.target.endpoint]));
    expect(fresh.prefill.target.endpoint).not.toBe(pick.lease.target.endpoint);
    expect(fresh.decode.target.pool).toBe('d');
    fresh.prefill.release(true);
    fresh.decode.release(true);
    expect(dir.inFlight('p') + dir.inFlight('d')).toBe(0);
  });
});
