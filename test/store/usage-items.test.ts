import { describe, expect, it } from 'vitest';
import { dayKey, monthKey } from '../../lambda/store/usage-items.ts';

describe('day and month keys', () => {
  it('are the UTC date of the instant, across day and month boundaries, whatever the call order', () => {
    const lastOfJune = Date.UTC(2025, 5, 30, 23, 59, 59, 999);
    const firstOfJuly = lastOfJune + 1;
    const cases: Array<[number, string, string]> = [
      [lastOfJune, '2025-06-30', '2025-06'],
      [firstOfJuly, '2025-07-01', '2025-07'],
      [lastOfJune, '2025-06-30', '2025-06'],
      [Date.UTC(2024, 1, 29, 12), '2024-02-29', '2024-02'],
      [firstOfJuly + 3_600_000, '2025-07-01', '2025-07'],
      [0, '1970-01-01', '1970-01'],
      [-1, '1969-12-31', '1969-12'],
    ];
    for (const [ms, day, month] of cases) {
      expect(dayKey(ms), new Date(ms).toISOString()).toBe(day);
      expect(monthKey(ms)).toBe(month);
    }
  });
});
