import { describe, expect, it } from 'vitest';
import { decide, decodeCounts, hasLimits } from '../../lambda/store/window-counter.ts';

const one = { requests: 1, tokens: 100, cost: 100 };

describe('decide (after a failed conditional update)', () => {
  it('refuses the month first: retrying in a new minute would not help', () => {
    expect(decide({ minute: 10, req: 50, tok: 0, mon: 950 }, { rpm: 50, monthlyTokens: 1000 }, one, 10)).toEqual({ refuse: 'month', minute: 10 });
  });

  it('rolls an item still in an older minute, or never rolled', () => {
    expect(decide({ minute: 9, req: 50, tok: 0, mon: 0 }, { rpm: 50 }, one, 10)).toEqual({ next: 'roll', minute: 10 });
    expect(decide(decodeCounts(undefined), { tpm: 1000 }, one, 10)).toEqual({ next: 'roll', minute: 10 });
  });

  it('names the minute limit that refused', () => {
    expect(decide({ minute: 10, req: 50, tok: 0, mon: 0 }, { rpm: 50, tpm: 1000 }, one, 10)).toEqual({ refuse: 'requests', minute: 10 });
    expect(decide({ minute: 10, req: 1, tok: 950, mon: 0 }, { rpm: 50, tpm: 1000 }, one, 10)).toEqual({ refuse: 'tokens', minute: 10 });
  });

  it('adopts a minute written by an instance whose clock is ahead', () => {
    expect(decide({ minute: 11, req: 3, tok: 0, mon: 0 }, { rpm: 50 }, one, 10)).toEqual({ next: 'add', minute: 11 });
    expect(decide({ minute: 11, req: 50, tok: 0, mon: 0 }, { rpm: 50 }, one, 10)).toEqual({ refuse: 'requests', minute: 11 });
  });

  it('retries a month-only item that raced', () => {
    expect(decide({ minute: undefined, req: 0, tok: 0, mon: 100 }, { monthlyTokens: 1000 }, one, 10)).toEqual({ next: 'month', minute: 10 });
  });

  it('treats a tier with no limit set as unlimited', () => {
    expect(hasLimits(undefined)).toBe(false);
    expect(hasLimits({})).toBe(false);
    expect(hasLimits({ tpm: 1 })).toBe(true);
  });
});
