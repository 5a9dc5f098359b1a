import { describe, expect, it } from 'vitest';
import { DEFAULT_TIERS, TrafficError, assignTiers, drawTrace, parseTraffic } from '../../planner/traffic.ts';
import { MIXES } from '../../bench/goodput/workloads.ts';

describe('traffic description', () => {
  it('resolves a named mix with the default tiers, attainment and no price overrides', () => {
    const t = parseTraffic({ ratePerSecond: 12, mix: 'rag' });
    expect(t.prompt).toEqual(MIXES.rag.prompt);
    expect(t.completion).toEqual(MIXES.rag.completion);
    expect(t.tiers).toEqual(DEFAULT_TIERS);
    expect(t.attainment).toBe(0.9);
    expect(t.prices).toEqual({});
  });

  it('takes log-normal shapes outright, filling sigma, min and max', () => {
    const t = parseTraffic({ ratePerSecond: 3, prompt: { median: 700 }, completion: { median: 90, sigma: 0.2 }, tiers: [{ name: 'gold', share: 1, ttftMs: 500, tpotMs: 20 }] });
    expect(t.prompt).toEqual({ median: 700, sigma: 0.6, min: 1, max: 32_768 });
    expect(t.completion.sigma).toBe(0.2);
    expect(t.mixName).toBeUndefined();
  });

  it.each([
    [{ mix: 'chat' }, /"ratePerSecond"/],
    [{ ratePerSecond: 5 }, /give "mix" or both "prompt" and "completion"/],
    [{ ratePerSecond: 5, mix: 'nope' }, /"mix"/],
    [{ ratePerSecond: 5, mix: 'chat', tiers: [{ name: 'a', share: 0.5, ttftMs: 1, tpotMs: 1 }] }, /"tiers": tier shares must add up to 1/],
    [{ ratePerSecond: 5, mix: 'chat', prices: { 'tpu-v9': 3 } }, /"prices/],
    [{ ratePerSecond: 5, mix: 'chat', extra: true }, /extra/],
    [{ ratePerSecond: 5, prompt: { median: 10, min: 20 }, completion: { median: 5 } }, /"prompt": needs min <= median <= max/],
  ])('refuses %j naming the field', (input, message) => {
    expect(() => parseTraffic(input)).toThrow(TrafficError);
    expect(() => parseTraffic(input)).toThrow(message);
  });

  it('draws the same tiered trace for the same seed, tiers at about their shares', () => {
    const t = parseTraffic({ ratePerSecond: 50, mix: 'chat' });
    const a = drawTrace(t, 40, 7);
    expect(drawTrace(t, 40, 7)).toEqual(a);
    expect(a.tierOf).toHaveLength(a.requests.length);
    const priority = a.tierOf.filter((k) => k === 0).length / a.tierOf.length;
    expect(priority).toBeGreaterThan(0.17);
    expect(priority).toBeLessThan(0.23);
    expect(assignTiers([{ name: 'only', share: 1, ttftMs: 1, tpotMs: 1 }], 5, 1)).toEqual([0, 0, 0, 0, 0]);
  });
});
