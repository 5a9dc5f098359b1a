/**
 * Load estimates: requests and queue in an engine now (its last reading corrected by this
 * instance's calls since), and the smoothed completion rate from its finished-request counter.
 * Pure arithmetic on plain data.
 */
import { describe, expect, it } from 'vitest';
import { RATE_SMOOTHING, estimatedRequests, estimatedWaiting, nextCompletionRate } from '../../lambda/routing/load-estimate.ts';
import type { LoadReading } from '../../lambda/routing/load-estimate.ts';

const reading = (running: number, waiting: number, outstandingAt: number, kvUsage?: number): LoadReading => ({
  running, waiting, outstandingAt, at: 1_000, ...(kvUsage !== undefined ? { kvUsage } : {}),
});

describe('estimatedRequests', () => {
  it('is the reading when this instance has as many calls in flight as then', () => {
    expect(estimatedRequests(reading(8, 2, 4), 4)).toBe(10);
  });

  it('adds the calls started since the reading (TSDoc example)', () => {
    expect(estimatedRequests(reading(8, 2, 4), 6)).toBe(12);
  });

  it('takes away the calls finished since the reading', () => {
    expect(estimatedRequests(reading(8, 2, 4), 1)).toBe(7);
  });

  it('is never below the calls this instance has in flight', () => {
    // the reading predates 5 new calls of an engine that was idle: at least those 5 are there
    expect(estimatedRequests(reading(0, 0, 0), 5)).toBe(5);
    // more finished than the reading showed (others' calls ended too): not negative, not below own
    expect(estimatedRequests(reading(2, 0, 10), 3)).toBe(3);
    expect(estimatedRequests(reading(1, 0, 6), 0)).toBe(0);
  });

  it('ignores the KV-cache use and the time of the reading', () => {
    expect(estimatedRequests(reading(3, 1, 2, 0.9), 2)).toBe(4);
    expect(estimatedRequests({ ...reading(3, 1, 2), at: 99_999 }, 2)).toBe(4);
  });
});

describe('estimatedWaiting', () => {
  it('is 0 while no capacity is known, however long the reported queue', () => {
    expect(estimatedWaiting(reading(8, 50, 0), 0, undefined)).toBe(0);
    expect(estimatedWaiting(reading(8, 50, 0), 20, undefined)).toBe(0);
  });

  it('is what the reading reports beyond the capacity, with no calls since', () => {
    expect(estimatedWaiting(reading(8, 3, 4), 4, 8)).toBe(3);
  });

  it('grows with the calls this instance started since (TSDoc example)', () => {
    expect(estimatedWaiting(reading(8, 2, 4), 6, 8)).toBe(4);
  });

  it('shrinks with the calls this instance finished since', () => {
    expect(estimatedWaiting(reading(8, 3, 4), 2, 8)).toBe(1);
  });

  it('is never negative: an engine below its capacity has no queue', () => {
    expect(estimatedWaiting(reading(8, 2, 4), 0, 8)).toBe(0);
    expect(estimatedWaiting(reading(3, 0, 0), 0, 8)).toBe(0);
  });

  it("counts this instance's calls beyond the capacity even when the reading shows none", () => {
    // reading: idle; since then this instance sent 11 calls to an engine of 8 slots
    expect(estimatedWaiting(reading(0, 0, 0), 11, 8)).toBe(3);
  });

  it('uses a capacity of 0 as such (every request waits)', () => {
    expect(estimatedWaiting(reading(0, 2, 0), 0, 0)).toBe(2);
  });
});

describe('nextCompletionRate', () => {
  it('uses RATE_SMOOTHING 0.5', () => {
    expect(RATE_SMOOTHING).toBe(0.5);
  });

  it('is the first interval\'s rate when none was measured (TSDoc example)', () => {
    expect(nextCompletionRate(undefined, { count: 100, at: 0 }, { count: 120, at: 1000 })).toBe(20);
  });

  it('measures per second, whatever the interval', () => {
    expect(nextCompletionRate(undefined, { count: 0, at: 5_000 }, { count: 3, at: 5_250 })).toBe(12);
    expect(nextCompletionRate(undefined, { count: 10, at: 0 }, { count: 25, at: 3_000 })).toBe(5);
  });

  it('moves the previous rate RATE_SMOOTHING of the way towards the new sample', () => {
    // sample 30/s, previous 10/s → 10 + 0.5 × (30 − 10) = 20
    expect(nextCompletionRate(10, { count: 0, at: 0 }, { count: 30, at: 1_000 })).toBe(20);
    // sample 0/s (nothing finished): halves the rate
    expect(nextCompletionRate(8, { count: 50, at: 0 }, { count: 50, at: 1_000 })).toBe(4);
    expect(nextCompletionRate(4, { count: 0, at: 0 }, { count: 2, at: 1_000 })).toBe(4 + RATE_SMOOTHING * (2 - 4));
  });

  it('converges on a steady rate over successive readings', () => {
    let rate: number | undefined = 100;
    let count = 0;
    for (let i = 0; i < 20; i++) {
      rate = nextCompletionRate(rate, { count, at: i * 1_000 }, { count: count + 6, at: (i + 1) * 1_000 });
      count += 6;
    }
    expect(rate).toBeCloseTo(6, 3);
  });

  it('leaves the rate unchanged when the counter went backwards (an engine restart)', () => {
    expect(nextCompletionRate(12, { count: 500, at: 0 }, { count: 3, at: 1_000 })).toBe(12);
    expect(nextCompletionRate(undefined, { count: 500, at: 0 }, { count: 3, at: 1_000 })).toBeUndefined();
  });

  it('leaves the rate unchanged for an empty or negative interval', () => {
    expect(nextCompletionRate(7, { count: 10, at: 1_000 }, { count: 20, at: 1_000 })).toBe(7);
    expect(nextCompletionRate(7, { count: 10, at: 2_000 }, { count: 20, at: 1_000 })).toBe(7);
    expect(nextCompletionRate(undefined, { count: 10, at: 1_000 }, { count: 20, at: 1_000 })).toBeUndefined();
  });

  it('yields a finite rate for every accepted reading (no division by zero)', () => {
    for (const [from, to] of [[0, 1], [1, 1], [1, 0], [0, -5]] as const) {
      const r = nextCompletionRate(3, { count: 0, at: from }, { count: 4, at: to });
      expect(Number.isFinite(r)).toBe(true);
    }
  });
});
