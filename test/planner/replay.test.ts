import { describe, expect, it } from 'vitest';
import type { RequestOutcome } from '../../bench/goodput/cluster.ts';
import { MIN_TIER_REQUESTS, scoreTiers } from '../../planner/replay.ts';
import type { Tier } from '../../planner/traffic.ts';

const tiers: Tier[] = [
  { name: 'gold', share: 0.5, ttftMs: 300, tpotMs: 5 },
  { name: 'bronze', share: 0.5, ttftMs: 1000, tpotMs: 50 },
];

/** `n` outcomes arriving 10 ms apart, each with the given TTFT and TPOT. */
function outcomes(n: number, ttftMs: number, tpotMs: number, firstId = 0): RequestOutcome[] {
  return Array.from({ length: n }, (_, i) => ({
    request: { id: firstId + i, arrivalMs: i * 10, promptTokens: 100, completionTokens: 50 },
    route: 'aggregated',
    ttftMs,
    tpotMs,
    e2eMs: ttftMs + 49 * tpotMs,
  }));
}

describe('splitserve plan: scoring tiers', () => {
  it('never calls a tier with no request met: it is listed as too few, and the replay is not met', () => {
    const served = outcomes(300, 100, 2);
    const r = scoreTiers(served, served.map(() => 1), tiers, 0.9, 0, 10_000);
    expect(r.tiers[0]).toMatchObject({ tier: 'gold', requests: 0, enough: false, met: false });
    expect(r.tiers[1]).toMatchObject({ tier: 'bronze', requests: 300, enough: true, met: true });
    expect(r.tooFew).toEqual(['gold']);
    expect(r.missed).toBe(false);
    expect(r.met).toBe(false);
  });

  it('needs the minimum number of requests per tier when asked, and still reports a real miss', () => {
    const gold = outcomes(MIN_TIER_REQUESTS - 1, 100, 2);
    const bronze = outcomes(MIN_TIER_REQUESTS, 5_000, 2, gold.length);
    const tierOf = [...gold.map(() => 0), ...bronze.map(() => 1)];
    const r = scoreTiers([...gold, ...bronze], tierOf, tiers, 0.9, 0, 10_000, MIN_TIER_REQUESTS);
    expect(r.tiers[0]!.attainment).toBe(1);
    expect(r.tiers[0]!.met).toBe(false);
    expect(r.tooFew).toEqual(['gold']);
    expect(r.tiers[1]!.met).toBe(false);
    expect(r.missed).toBe(true);
    // With one request fewer required, gold has enough and is met.
    expect(scoreTiers([...gold, ...bronze], tierOf, tiers, 0.9, 0, 10_000, MIN_TIER_REQUESTS - 1).tiers[0]!.met).toBe(true);
  });
});
