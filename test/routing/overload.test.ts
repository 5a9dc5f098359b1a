/**
 * Overload control's pure functions: the estimated wait of a request on a pool (FIFO or priority
 * scheduling), the queueing budget on a route, the fair share, the decision at a tier and the
 * last resort (serve while a lower tier holds capacity, else shed with a retry-after). Plain data.
 */
import { describe, expect, it } from 'vitest';
import {
  OVERLOAD_DECISIONS, admitAtTier, effectiveBudgetMs, estimatedWaitMs, lastResort, lowerTierHolds, routeWaitMs, underFairShare,
} from '../../lambda/routing/overload.ts';
import type { PoolLoad, PoolTiers, TenantShare, TierBudget } from '../../lambda/routing/overload.ts';

/** A pool with a fresh reading: FIFO, 10 completions/s, nothing of this instance's there. */
function pool(over: Partial<PoolLoad> = {}): PoolLoad {
  return { endpoints: 1, waiting: 0, completionsPerSecond: 10, honoursPriority: false, pendingByRank: [0, 0, 0], inFlightByRank: [0, 0, 0], ...over };
}

const PRIORITY: TierBudget = { rank: 0, budgetMs: 250, behindUntagged: false };
const DEFAULT: TierBudget = { rank: 1, budgetMs: 500, behindUntagged: true };
const FLEX: TierBudget = { rank: 2, budgetMs: 2_000, behindUntagged: true };

const on = (p: PoolLoad, betterBudgetsMs: number[] = []): PoolTiers => ({ pool: p, betterBudgetsMs });

/** A share under which a tenant is never under its fair share (it is alone). */
const ALONE: TenantShare = { tenantTokens: 5_000, tierTokens: 5_000, tenants: 1, requestTokens: 300 };
/** A light tenant among busy ones: under its share. */
const LIGHT: TenantShare = { tenantTokens: 0, tierTokens: 9_000, tenants: 2, requestTokens: 300 };

describe('estimatedWaitMs', () => {
  it('is undefined without a fresh reading (no endpoints) or without a measured rate', () => {
    expect(estimatedWaitMs(pool({ endpoints: 0, waiting: 5 }), DEFAULT)).toBeUndefined();
    expect(estimatedWaitMs(pool({ completionsPerSecond: undefined, waiting: 5 }), DEFAULT)).toBeUndefined();
    expect(estimatedWaitMs(pool({ endpoints: 0, waiting: 0 }), DEFAULT)).toBeUndefined();
  });

  it('is 0 when nothing waits, even at a rate of 0', () => {
    expect(estimatedWaitMs(pool({ waiting: 0 }), DEFAULT)).toBe(0);
    expect(estimatedWaitMs(pool({ waiting: 0, completionsPerSecond: 0 }), DEFAULT)).toBe(0);
  });

  it('on a FIFO pool counts every waiting request: (waiting + 1) / rate', () => {
    // 9 ahead + this one, at 10/s: 1 s
    expect(estimatedWaitMs(pool({ waiting: 9 }), DEFAULT)).toBe(1_000);
    // 4 ahead at 2.5/s: 5 / 2.5 = 2 s
    expect(estimatedWaitMs(pool({ waiting: 4, completionsPerSecond: 2.5 }), DEFAULT)).toBe(2_000);
    expect(estimatedWaitMs(pool({ waiting: 3, completionsPerSecond: 8 }), DEFAULT)).toBe(500);
  });

  it('on a FIFO pool is the same for every tier, whatever this instance has pending', () => {
    const fifo = pool({ waiting: 9, pendingByRank: [1, 2, 3] });
    expect([PRIORITY, DEFAULT, FLEX].map((t) => estimatedWaitMs(fifo, t))).toEqual([1_000, 1_000, 1_000]);
  });

  it('is Infinity when requests wait and nothing completes', () => {
    expect(estimatedWaitMs(pool({ waiting: 1, completionsPerSecond: 0 }), DEFAULT)).toBe(Number.POSITIVE_INFINITY);
    expect(estimatedWaitMs(pool({ waiting: 1, completionsPerSecond: 0, honoursPriority: true }), PRIORITY)).toBe(Number.POSITIVE_INFINITY);
  });

  describe('on an engine that honours the priority sent', () => {
    // 10 waiting: this instance's pending 2 priority, 3 default, 1 flex; 4 are others' (untagged)
    const prio = pool({ waiting: 10, honoursPriority: true, pendingByRank: [2, 3, 1] });

    it("counts only this instance's pending requests of the same or a better tier for a tier ahead of untagged traffic", () => {
      // priority: its own 2 ahead, others' 4 are behind it → (2 + 1) / 10 s
      expect(estimatedWaitMs(prio, PRIORITY)).toBe(300);
    });

    it('adds the foreign waiting requests for a tier behind untagged traffic', () => {
      // default: own 2 + 3, plus the 4 foreign → 9 ahead
      expect(estimatedWaitMs(prio, DEFAULT)).toBe(1_000);
      // flex: own 2 + 3 + 1, plus 4 foreign → 10 ahead
      expect(estimatedWaitMs(prio, FLEX)).toBe(1_100);
    });

    it('ignores foreign requests for a tier not behind untagged traffic, whatever its rank', () => {
      // a default tier configured with a negative engine priority
      expect(estimatedWaitMs(prio, { ...DEFAULT, behindUntagged: false })).toBe(600);
    });

    it('counts a better tier behind untagged traffic with the foreign ones too', () => {
      expect(estimatedWaitMs(prio, { ...PRIORITY, behindUntagged: true })).toBe(700);
    });

    it('never counts more ahead than wait in the engine', () => {
      // 30 of this instance's priority requests not yet at their first token, only 5 waiting
      expect(estimatedWaitMs(pool({ waiting: 5, honoursPriority: true, pendingByRank: [30, 0, 0] }), PRIORITY)).toBe(600);
    });

    it("takes no foreign requests when this instance's pending exceed the queue", () => {
      // 4 waiting, 6 own pending (some already running): foreign is 0, not negative
      expect(estimatedWaitMs(pool({ waiting: 4, honoursPriority: true, pendingByRank: [1, 5, 0] }), DEFAULT)).toBe(500);
    });

    it('is the wait of one start when nothing of this tier or better is ahead', () => {
      expect(estimatedWaitMs(pool({ waiting: 50, honoursPriority: true, pendingByRank: [0, 0, 0] }), PRIORITY)).toBe(100);
    });
  });
});

describe('effectiveBudgetMs', () => {
  it("is the tier's own budget on its own pools", () => {
    expect(effectiveBudgetMs(DEFAULT, [on(pool())])).toBe(500);
    expect(effectiveBudgetMs(DEFAULT, [])).toBe(500);
  });

  it('takes the smallest budget of the better tiers on a FIFO pool they share', () => {
    expect(effectiveBudgetMs(FLEX, [on(pool(), [250, 500])])).toBe(250);
    expect(effectiveBudgetMs(FLEX, [on(pool({ honoursPriority: true })), on(pool(), [700])])).toBe(700);
  });

  it('keeps its own budget when it is already the smaller', () => {
    expect(effectiveBudgetMs({ ...DEFAULT, budgetMs: 100 }, [on(pool(), [250])])).toBe(100);
  });

  it("ignores better tiers' budgets on a pool that honours priority", () => {
    expect(effectiveBudgetMs(FLEX, [on(pool({ honoursPriority: true }), [250])])).toBe(2_000);
  });

  it('stays undefined for a tier without a budget', () => {
    expect(effectiveBudgetMs({ ...FLEX, budgetMs: undefined }, [on(pool(), [250])])).toBeUndefined();
  });
});

describe('routeWaitMs', () => {
  it('sums the waits of the pools (prefill then decode)', () => {
    expect(routeWaitMs(DEFAULT, [on(pool({ waiting: 9 })), on(pool({ waiting: 4, completionsPerSecond: 5 }))])).toBe(2_000);
  });

  it('sums only the pools with an estimate', () => {
    expect(routeWaitMs(DEFAULT, [on(pool({ endpoints: 0, waiting: 99 })), on(pool({ waiting: 1 }))])).toBe(200);
  });

  it('is 0, not undefined, when a pool has an estimate of 0', () => {
    expect(routeWaitMs(DEFAULT, [on(pool({ waiting: 0 }))])).toBe(0);
  });

  it('is undefined when no pool has an estimate', () => {
    expect(routeWaitMs(DEFAULT, [on(pool({ endpoints: 0, waiting: 3 })), on(pool({ completionsPerSecond: undefined }))])).toBeUndefined();
    expect(routeWaitMs(DEFAULT, [])).toBeUndefined();
  });

  it('is Infinity when a pool stands still', () => {
    expect(routeWaitMs(DEFAULT, [on(pool({ waiting: 1 })), on(pool({ waiting: 1, completionsPerSecond: 0 }))])).toBe(Number.POSITIVE_INFINITY);
  });
});

describe('underFairShare', () => {
  it('is true for a light tenant among busy ones (TSDoc example)', () => {
    expect(underFairShare(LIGHT)).toBe(true);
  });

  it('is false for a tenant alone at its tier', () => {
    expect(underFairShare(ALONE)).toBe(false);
    expect(underFairShare({ tenantTokens: 0, tierTokens: 0, tenants: 1, requestTokens: 10 })).toBe(false);
    expect(underFairShare({ tenantTokens: 0, tierTokens: 0, tenants: 0, requestTokens: 10 })).toBe(false);
  });

  it('is false for the tenant holding most of the tier', () => {
    expect(underFairShare({ tenantTokens: 8_000, tierTokens: 9_000, tenants: 2, requestTokens: 300 })).toBe(false);
  });

  it('counts this request on both sides, and holds at exactly the equal share', () => {
    // (200 + 100) ≤ (800 + 100) / 3 = 300
    expect(underFairShare({ tenantTokens: 200, tierTokens: 800, tenants: 3, requestTokens: 100 })).toBe(true);
    expect(underFairShare({ tenantTokens: 201, tierTokens: 801, tenants: 3, requestTokens: 100 })).toBe(false);
  });

  it('refuses a request large enough to take the tenant over its share by itself', () => {
    // (0 + 6000) ≤ (4000 + 6000) / 2 = 5000? no
    expect(underFairShare({ tenantTokens: 0, tierTokens: 4_000, tenants: 2, requestTokens: 6_000 })).toBe(false);
  });
});

describe('admitAtTier', () => {
  it('serves within the budget', () => {
    // FIFO, 4 waiting at 10/s: 500 ms, the default budget
    const r = admitAtTier({ tier: DEFAULT, pools: [on(pool({ waiting: 4 }))], share: ALONE });
    expect(r).toEqual({ decision: OVERLOAD_DECISIONS.serve, waitMs: 500, budgetMs: 500 });
  });

  it('yields over the budget when the tenant is not under its fair share', () => {
    const r = admitAtTier({ tier: DEFAULT, pools: [on(pool({ waiting: 5 }))], share: ALONE });
    expect(r).toEqual({ decision: 'yield', waitMs: 600, budgetMs: 500 });
  });

  it('serves over the budget but within twice it for a tenant under its fair share', () => {
    expect(admitAtTier({ tier: DEFAULT, pools: [on(pool({ waiting: 5 }))], share: LIGHT }).decision).toBe('serve');
    expect(admitAtTier({ tier: DEFAULT, pools: [on(pool({ waiting: 9 }))], share: LIGHT })).toEqual({ decision: 'serve', waitMs: 1_000, budgetMs: 500 });
  });

  it('yields beyond twice the budget, even under the fair share', () => {
    expect(admitAtTier({ tier: DEFAULT, pools: [on(pool({ waiting: 10 }))], share: LIGHT })).toEqual({ decision: 'yield', waitMs: 1_100, budgetMs: 500 });
  });

  it('serves when no wait can be estimated, and says so', () => {
    expect(admitAtTier({ tier: DEFAULT, pools: [on(pool({ endpoints: 0, waiting: 100 }))], share: ALONE })).toEqual({ decision: 'serve', waitMs: undefined, budgetMs: 500 });
  });

  it('serves a tier without a budget however long the queue', () => {
    const r = admitAtTier({ tier: { ...FLEX, budgetMs: undefined }, pools: [on(pool({ waiting: 1_000 }))], share: ALONE });
    expect(r.decision).toBe('serve');
    expect(r.budgetMs).toBeUndefined();
    expect(r.waitMs).toBe(100_100);
  });

  it("compares against the better tier's budget on a shared FIFO pool", () => {
    // flex alone would serve (700 ms within 2000), but priority (250 ms) shares this FIFO pool
    const r = admitAtTier({ tier: FLEX, pools: [on(pool({ waiting: 6 }), [250])], share: ALONE });
    expect(r).toEqual({ decision: 'yield', waitMs: 700, budgetMs: 250 });
    expect(admitAtTier({ tier: FLEX, pools: [on(pool({ waiting: 6, honoursPriority: true }), [250])], share: ALONE }).decision).toBe('serve');
  });

  it('yields on a standing-still pool (infinite wait), even under the fair share', () => {
    expect(admitAtTier({ tier: DEFAULT, pools: [on(pool({ waiting: 1, completionsPerSecond: 0 }))], share: LIGHT }).decision).toBe('yield');
  });

  it('adds the pools of the route before comparing', () => {
    // 300 + 300 = 600 > 500, though each pool alone is within it
    const pools = [on(pool({ waiting: 2 })), on(pool({ waiting: 2 }))];
    expect(admitAtTier({ tier: DEFAULT, pools, share: ALONE })).toEqual({ decision: 'yield', waitMs: 600, budgetMs: 500 });
  });
});

describe('lowerTierHolds', () => {
  it("is true when this instance has a lower tier's request in flight there", () => {
    expect(lowerTierHolds(pool({ inFlightByRank: [0, 0, 1] }), 1)).toBe(true);
    expect(lowerTierHolds(pool({ inFlightByRank: [0, 2, 0] }), 0)).toBe(true);
  });

  it('is false for in-flight requests of the same or a better tier', () => {
    expect(lowerTierHolds(pool({ inFlightByRank: [3, 4, 0] }), 1)).toBe(false);
    expect(lowerTierHolds(pool({ inFlightByRank: [3, 4, 5] }), 2)).toBe(false);
  });

  it('is true for the best tier when others\' requests (of unknown tier) wait there', () => {
    expect(lowerTierHolds(pool({ waiting: 3, pendingByRank: [1, 0, 0] }), 0)).toBe(true);
  });

  it("is false for the best tier when every waiting request is this instance's own", () => {
    expect(lowerTierHolds(pool({ waiting: 3, pendingByRank: [2, 1, 0] }), 0)).toBe(false);
  });

  it("does not count others' waiting requests for a tier below the best, nor for the lowest", () => {
    // they may be of the tier's own or a better one
    expect(lowerTierHolds(pool({ waiting: 8 }), 1)).toBe(false);
    expect(lowerTierHolds(pool({ waiting: 8 }), 2)).toBe(false);
  });
});

describe('lastResort', () => {
  it('serves when any of the route\'s pools holds a lower tier\'s request of this instance', () => {
    const pools = [on(pool({ waiting: 20 })), on(pool({ waiting: 20, inFlightByRank: [0, 0, 1] }))];
    expect(lastResort(DEFAULT, pools, 2_100, 500)).toEqual({ decision: 'serve' });
  });

  it("serves the best tier while others' requests wait on its pools", () => {
    expect(lastResort(PRIORITY, [on(pool({ waiting: 20 }))], 2_100, 250)).toEqual({ decision: 'serve' });
  });

  it("sheds a lower tier facing only others' waiting requests", () => {
    expect(lastResort(DEFAULT, [on(pool({ waiting: 20 }))], 2_100, 500)).toEqual({ decision: 'shed', retryAfterMs: 1_600 });
    expect(lastResort(FLEX, [on(pool({ waiting: 40 }))], 4_100, 2_000)).toEqual({ decision: 'shed', retryAfterMs: 2_100 });
  });

  it('sheds with retryAfterMs the time the wait needs to come back within the budget, rounded up', () => {
    expect(lastResort(DEFAULT, [on(pool({ waiting: 20, inFlightByRank: [5, 5, 0] }))], 1_234.2, 500)).toEqual({ decision: 'shed', retryAfterMs: 735 });
  });

  it('retries after at least 100 ms', () => {
    expect(lastResort(DEFAULT, [on(pool())], 520, 500)).toEqual({ decision: 'shed', retryAfterMs: 100 });
    expect(lastResort(DEFAULT, [on(pool())], 600, 500)).toEqual({ decision: 'shed', retryAfterMs: 100 });
    expect(lastResort(DEFAULT, [on(pool())], 600.5, 500)).toEqual({ decision: 'shed', retryAfterMs: 101 });
  });

  it('retries after 5000 ms when the wait is infinite', () => {
    expect(lastResort(FLEX, [on(pool({ waiting: 3, completionsPerSecond: 0 }))], Number.POSITIVE_INFINITY, 2_000)).toEqual({ decision: 'shed', retryAfterMs: 5_000 });
  });

  it('sheds the best tier when nothing but its own requests is there', () => {
    expect(lastResort(PRIORITY, [on(pool({ waiting: 4, pendingByRank: [4, 0, 0], inFlightByRank: [12, 0, 0] }))], 500, 250)).toEqual({ decision: 'shed', retryAfterMs: 250 });
  });
});
