import { describe, expect, it } from 'vitest';
import { median, percentile, summarize } from '../../bench/stats.ts';

describe('percentile', () => {
  it('interpolates linearly between the closest ranks', () => {
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([10, 20, 30, 40, 50], 25)).toBe(20);
    expect(percentile([0, 100], 99)).toBeCloseTo(99, 10);
  });

  it('sorts its input without mutating it', () => {
    const values = [9, 1, 5];
    expect(percentile(values, 0)).toBe(1);
    expect(percentile(values, 100)).toBe(9);
    expect(values).toEqual([9, 1, 5]);
  });

  it('p99 of 1..100 sits between the two top values', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(values, 99)).toBeCloseTo(99.01, 10);
  });

  it('is NaN for no samples and refuses out-of-range p', () => {
    expect(percentile([], 50)).toBeNaN();
    expect(() => percentile([1], 101)).toThrow(RangeError);
    expect(() => percentile([1], -1)).toThrow(RangeError);
  });
});

describe('median', () => {
  it('takes the middle value, or the mean of the two middle ones', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
    expect(median([7])).toBe(7);
  });

  it('ignores NaN rounds', () => {
    expect(median([Number.NaN, 5, 1, 3])).toBe(3);
    expect(median([Number.NaN])).toBeNaN();
  });
});

describe('summarize', () => {
  it('gives count, p50 and p99', () => {
    expect(summarize([2, 4, 6])).toEqual({ count: 3, p50: 4, p99: 5.96 });
  });
});
