import { describe, expect, it } from 'vitest';
import { backoffDelay } from '../../lambda/core/backoff.ts';

describe('backoffDelay', () => {
  it('doubles from the base by default', () => {
    expect([1, 2, 3, 4].map((retry) => backoffDelay({ baseMs: 25 }, retry))).toEqual([25, 50, 100, 200]);
  });

  it('grows by the given rate and stops at the cap', () => {
    expect([1, 2, 3, 4].map((retry) => backoffDelay({ baseMs: 50, rate: 3, maxMs: 1000 }, retry))).toEqual([50, 150, 450, 1000]);
  });

  it('treats retry 0 as the first (a loop that counts failures from zero)', () => {
    expect(backoffDelay({ baseMs: 50, maxMs: 5000 }, 0)).toBe(50);
  });
});
