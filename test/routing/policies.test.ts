/**
 * Selection policies, pair selection, circuit breaker and availability: pure units on plain data.
 */
import { describe, expect, it } from 'vitest';
import { availableEndpoints } from '../../lambda/routing/availability.ts';
import type { EndpointStatus } from '../../lambda/routing/availability.ts';
import {
  CLOSED_BREAKER, breakerAllows, breakerOnAbandon, breakerOnCall, breakerOnFailure, breakerOnSuccess,
} from '../../lambda/routing/circuit-breaker.ts';
import type { Breaker } from '../../lambda/routing/circuit-breaker.ts';
import { leastOutstanding } from '../../lambda/routing/least-outstanding.ts';
import { selectPairDecodeFirst } from '../../lambda/routing/pair-selection.ts';
import type { EndpointView, SelectionPolicy } from '../../lambda/routing/policy.ts';
import { roundRobin } from '../../lambda/routing/round-robin.ts';
import { mulberry32 } from '../../sim/prng.ts';

const views = (...outstanding: number[]): EndpointView[] => outstanding.map((o, i) => ({ url: `http://e${i}`, outstanding: o }));

describe('round robin', () => {
  it('cycles through the endpoints', () => {
    const rr = roundRobin();
    const e = views(0, 0, 0);
    expect([0, 1, 2, 3].map(() => rr.select(e))).toEqual([0, 1, 2, 0]);
  });
});

describe('least outstanding (power of two choices)', () => {
  it('takes the less loaded of the two sampled endpoints', () => {
    // first sample 0 (random 0), second: offset 0 → index 1
    expect(leastOutstanding(() => 0).select(views(5, 1, 9))).toBe(1);
    expect(leastOutstanding(() => 0).select(views(1, 5, 9))).toBe(0);
  });

  it('never samples the same endpoint twice, and keeps the first sample on a tie', () => {
    const rnd = mulberry32(7);
    const lor = leastOutstanding(rnd);
    for (let i = 0; i < 200; i++) {
      const picked = lor.select(views(0, 0));
      expect([0, 1]).toContain(picked);
    }
    expect(leastOutstanding(() => 0.99).select(views(3, 3, 3))).toBe(2);
  });

  it('under a seeded draw avoids a heavily loaded endpoint far more than round robin does', () => {
    const lor = leastOutstanding(mulberry32(42));
    const rr = roundRobin();
    const loaded = views(20, 0, 1, 0);
    const count = (p: SelectionPolicy) => Array.from({ length: 400 }, () => p.select(loaded)).filter((i) => i === 0).length;
    expect(count(lor)).toBe(0); // the loaded one loses every comparison
    expect(count(rr)).toBe(100);
  });

  it('is deterministic under the same seed', () => {
    const run = () => {
      const lor = leastOutstanding(mulberry32(3));
      return Array.from({ length: 20 }, () => lor.select(views(1, 1, 1, 1, 1)));
    };
    expect(run()).toEqual(run());
  });
});

describe('pair selection, decode first', () => {
  it('asks the decode policy before the prefill policy', () => {
    const order: string[] = [];
    const spy = (side: string, index: number): SelectionPolicy => ({ select: () => (order.push(side), index) });
    const pair = selectPairDecodeFirst({ prefill: views(0, 0), decode: views(0, 0, 0), prefillPolicy: spy('prefill', 1), decodePolicy: spy('decode', 2) });
    expect(pair).toEqual({ prefill: 1, decode: 2 });
    expect(order).toEqual(['decode', 'prefill']);
  });

  it('does not consult a policy for a single endpoint', () => {
    const never: SelectionPolicy = { select: () => { throw new Error('called'); } };
    expect(selectPairDecodeFirst({ prefill: views(0), decode: views(0), prefillPolicy: never, decodePolicy: never })).toEqual({ prefill: 0, decode: 0 });
  });
});

describe('circuit breaker', () => {
  const s = { failures: 3, coolDownMs: 1000 };

  it('opens after N consecutive failures, not before; a success resets the count', () => {
    let b: Breaker = CLOSED_BREAKER;
    b = breakerOnFailure(b, 0, s);
    b = breakerOnFailure(b, 0, s);
    b = breakerOnSuccess(b);
    expect(b).toEqual(CLOSED_BREAKER);
    for (let i = 0; i < 2; i++) b = breakerOnFailure(b, 10, s);
    expect(b.state).toBe('closed');
    b = breakerOnFailure(b, 10, s);
    expect(b).toMatchObject({ state: 'open', openedAt: 10 });
    expect(breakerAllows(b, 500, s)).toBe(false);
  });

  it('lets one probe through after the cool-down; the probe closes or reopens it', () => {
    let b: Breaker = { state: 'open', consecutiveFailures: 3, openedAt: 0 };
    expect(breakerAllows(b, 1000, s)).toBe(true);
    b = breakerOnCall(b, 1000, s);
    expect(b.state).toBe('half-open');
    expect(breakerAllows(b, 1001, s)).toBe(false); // one probe at a time
    expect(breakerOnSuccess(b)).toEqual(CLOSED_BREAKER);
    const reopened = breakerOnFailure(b, 1500, s);
    expect(reopened).toMatchObject({ state: 'open', openedAt: 1500 });
    expect(breakerAllows(reopened, 2400, s)).toBe(false);
    expect(breakerAllows(reopened, 2500, s)).toBe(true);
  });

  it('an abandoned probe leaves it open with the cool-down spent; open failures do not extend it', () => {
    const half: Breaker = { state: 'half-open', consecutiveFailures: 3, openedAt: 0 };
    const back = breakerOnAbandon(half);
    expect(back.state).toBe('open');
    expect(breakerAllows(back, 1000, s)).toBe(true);
    const open: Breaker = { state: 'open', consecutiveFailures: 3, openedAt: 0 };
    expect(breakerOnFailure(open, 900, s).openedAt).toBe(0);
    expect(breakerOnCall(CLOSED_BREAKER, 0, s)).toBe(CLOSED_BREAKER);
  });
});

describe('availability', () => {
  const status = (url: string, over: Partial<EndpointStatus> = {}): EndpointStatus => ({
    url, outstanding: 0, healthy: true, breaker: CLOSED_BREAKER, avoidUntil: 0, ...over,
  });
  const s = { failures: 1, coolDownMs: 1000 };

  it('drops unhealthy, open and excluded endpoints', () => {
    const list = [
      status('a', { healthy: false }),
      status('b', { breaker: { state: 'open', consecutiveFailures: 1, openedAt: 0 } }),
      status('c'),
      status('d'),
    ];
    expect(availableEndpoints(list, 10, s, new Set(['d']))).toEqual([2]);
    expect(availableEndpoints(list, 10, undefined)).toEqual([1, 2, 3]); // no breaker configured
    expect(availableEndpoints(list, 1000, s)).toEqual([1, 2, 3]); // cool-down passed: b may probe
  });

  it('prefers endpoints that did not fail a moment ago, but uses them as a last resort', () => {
    const list = [status('a', { avoidUntil: 100 }), status('b')];
    expect(availableEndpoints(list, 50, undefined)).toEqual([1]);
    expect(availableEndpoints([status('a', { avoidUntil: 100 })], 50, undefined)).toEqual([0]);
    expect(availableEndpoints(list, 100, undefined)).toEqual([0, 1]);
  });
});
