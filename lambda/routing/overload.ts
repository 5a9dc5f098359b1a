/**
 * Overload control: whether a request may join a busy pool at its tier, as small pure functions
 * of the pool's queue (pool-directory.ts, from the engines' `/metrics`) and what this gateway
 * instance has in flight there. The guard that holds that state is lambda/core/overload-guard.ts.
 *
 * **Estimated wait.** The queue is the engines' reading (pool-directory.ts), and never less than
 * what this instance alone has there beyond their capacity (overload-guard.ts: the reading lags).
 * A request waits for every request the engine will start before it; each
 * start needs a finished request, so the wait is (ahead + 1) / completion rate. Who is ahead:
 * - an engine that schedules by the priority the gateway sends: the waiting requests of this tier
 *   and better (this instance's own, not yet at their first token), plus, for a tier whose engine
 *   priority is 0 or more, the waiting requests that are not this instance's (an engine's untagged
 *   traffic has priority 0); a better tier's own requests are the only ones ahead of it;
 * - an engine that does not (FIFO): every waiting request.
 * No wait is estimated without a fresh load reading and a measured completion rate: overload
 * control then stands aside (requests are sent as before).
 *
 * **Budget.** A tier may meet `slo.maxQueueMs` of queueing (default half its `slo.ttftMs`). On a
 * FIFO pool that a better tier also routes through, a request queues in front of that tier's
 * requests, so the lower tier's budget is also the better tier's. A tier without an SLO never
 * yields.
 *
 * **Decision**, in this order:
 * 1. within budget: serve;
 * 2. fair share: a tenant holding less than an equal share of the tier's in-flight tokens on the
 *    route's pools is still served while the wait is within twice the budget (max-min fairness
 *    weighted by tokens: one tenant's burst is shed before a light tenant of the same tier is);
 * 3. the tier's fallback, if its route is within its own budget and faster (the caller walks the
 *    fallback chain and echoes the tier served);
 * 4. a request whose pools may hold requests of a lower tier (this instance's, or, for the best
 *    tier, others' of unknown tier waiting there) is served anyway: the lower tier yields (an engine that
 *    schedules by priority starts it first; on a FIFO pool new lower-tier requests are shed until
 *    the queue is back within the better tier's budget) — so a tier is never shed while a lower
 *    one holds capacity;
 * 5. otherwise shed: HTTP 429, with `retry-after` the time the queue needs to come back within
 *    the budget.
 */

/** What overload control knows of one pool for one decision. */
export interface PoolLoad {
  /** Endpoints with a fresh load reading (0: nothing is known). */
  readonly endpoints: number;
  /** Requests waiting for a batch slot in the pool's engines now. */
  readonly waiting: number;
  /** Requests the engines finished per second, recently (undefined: not measured yet). */
  readonly completionsPerSecond: number | undefined;
  /** Whether the engines schedule by the priority the gateway sends. */
  readonly honoursPriority: boolean;
  /** This instance's requests on the pool not yet at their first token, by tier rank (0 = best). */
  readonly pendingByRank: readonly number[];
  /** This instance's requests on the pool in flight (any stage), by tier rank. */
  readonly inFlightByRank: readonly number[];
}

/** The tier a decision is about. */
export interface TierBudget {
  /** 0 = best (priority), then default, flex. */
  readonly rank: number;
  /** Queueing allowed, ms; undefined: the tier never yields. */
  readonly budgetMs: number | undefined;
  /** Whether the tier's engine priority is 0 or more (it queues behind an engine's untagged traffic). */
  readonly behindUntagged: boolean;
}

/**
 * The estimated wait (ms) of a new request of tier `rank` on a pool; undefined when there is no
 * fresh reading or no measured rate.
 *
 * @example
 * estimatedWaitMs(pool, { rank: 1, budgetMs: 500, behindUntagged: true }); // (ahead + 1) / rate
 */
export function estimatedWaitMs(pool: PoolLoad, tier: TierBudget): number | undefined {
  if (pool.endpoints === 0 || pool.completionsPerSecond === undefined) return undefined;
  if (pool.waiting <= 0) return 0;
  let ahead = pool.waiting;
  if (pool.honoursPriority) {
    const ownPending = pool.pendingByRank.reduce((a, b) => a + b, 0);
    const ownAhead = pool.pendingByRank.slice(0, tier.rank + 1).reduce((a, b) => a + b, 0);
    const foreign = Math.max(0, pool.waiting - ownPending);
    ahead = Math.min(pool.waiting, ownAhead + (tier.behindUntagged ? foreign : 0));
  }
  if (pool.completionsPerSecond <= 0) return Number.POSITIVE_INFINITY;
  return ((ahead + 1) / pool.completionsPerSecond) * 1000;
}

/** The tiers that route through a pool, for the FIFO protection of better tiers. */
export interface PoolTiers {
  readonly pool: PoolLoad;
  /** Budgets of the better tiers (lower rank) that also route through this pool. */
  readonly betterBudgetsMs: readonly number[];
}

/**
 * A tier's queueing budget on a route: its own, and, on a FIFO pool shared with better tiers,
 * no more than theirs.
 */
export function effectiveBudgetMs(tier: TierBudget, pools: readonly PoolTiers[]): number | undefined {
  if (tier.budgetMs === undefined) return undefined;
  let budget = tier.budgetMs;
  for (const p of pools) if (!p.pool.honoursPriority) for (const b of p.betterBudgetsMs) budget = Math.min(budget, b);
  return budget;
}

/** The estimated wait on a route: the sum over its pools (prefill then decode), undefined when no pool has an estimate. */
export function routeWaitMs(tier: TierBudget, pools: readonly PoolTiers[]): number | undefined {
  let total: number | undefined;
  for (const p of pools) {
    const wait = estimatedWaitMs(p.pool, tier);
    if (wait !== undefined) total = (total ?? 0) + wait;
  }
  return total;
}

/** A tenant's share of its tier's in-flight tokens on a route. */
export interface TenantShare {
  /** This tenant's tokens in flight on the route's pools at this tier (this request not included). */
  readonly tenantTokens: number;
  /** Every tenant's tokens in flight there at this tier. */
  readonly tierTokens: number;
  /** Tenants with tokens in flight there at this tier, this one counted. */
  readonly tenants: number;
  /** This request's tokens (prompt estimate + max tokens). */
  readonly requestTokens: number;
}

/**
 * Whether a tenant is under its equal share of the tier's in-flight tokens, counting this request
 * (max-min fairness): `(tenant + request) ≤ (tier + request) / tenants`.
 *
 * @example
 * underFairShare({ tenantTokens: 0, tierTokens: 9000, tenants: 2, requestTokens: 300 }); // true
 */
export function underFairShare(s: TenantShare): boolean {
  if (s.tenants <= 1) return false;
  return s.tenantTokens + s.requestTokens <= (s.tierTokens + s.requestTokens) / s.tenants;
}

/** Outcomes of {@link admitAtTier}. */
export const OVERLOAD_DECISIONS = {
  /** Serve at this tier. */
  serve: 'serve',
  /** Over budget: try the tier's fallback; if none takes it, {@link lastResort}. */
  yield: 'yield',
} as const;
export type OverloadDecision = (typeof OVERLOAD_DECISIONS)[keyof typeof OVERLOAD_DECISIONS];

/** Everything {@link admitAtTier} looks at. */
export interface TierRequest {
  readonly tier: TierBudget;
  readonly pools: readonly PoolTiers[];
  readonly share: TenantShare;
}

/**
 * Steps 1 and 2: serve within budget, or within twice the budget for a tenant under its fair
 * share; else yield. Also returns the wait and budget it compared.
 */
export function admitAtTier(r: TierRequest): { readonly decision: OverloadDecision; readonly waitMs: number | undefined; readonly budgetMs: number | undefined } {
  const budgetMs = effectiveBudgetMs(r.tier, r.pools);
  const waitMs = routeWaitMs(r.tier, r.pools);
  if (budgetMs === undefined || waitMs === undefined || waitMs <= budgetMs) return { decision: OVERLOAD_DECISIONS.serve, waitMs, budgetMs };
  if (waitMs <= 2 * budgetMs && underFairShare(r.share)) return { decision: OVERLOAD_DECISIONS.serve, waitMs, budgetMs };
  return { decision: OVERLOAD_DECISIONS.yield, waitMs, budgetMs };
}

/**
 * Whether a lower tier than `rank` may hold capacity on the pool: this instance has requests of
 * one in flight there, or, for the best tier (rank 0), requests of others wait there: their tier
 * is unknown (in Lambda every other instance's requests are such), but none is better than the
 * best. For another tier, others' waiting requests may be of its own tier or a better one, so
 * they do not count.
 */
export function lowerTierHolds(pool: PoolLoad, rank: number): boolean {
  if (pool.inFlightByRank.some((n, r) => r > rank && n > 0)) return true;
  const ownPending = pool.pendingByRank.reduce((a, b) => a + b, 0);
  return rank === 0 && pool.waiting - ownPending > 0;
}

/**
 * Steps 4 and 5, once no fallback took the request: serve when a lower tier may hold capacity on
 * the route's pools ({@link lowerTierHolds}: it yields), else shed, retrying once the queue is
 * back within budget.
 *
 * @returns `serve`, or `shed` with the milliseconds to wait before retrying (at least 100)
 */
export function lastResort(
  tier: TierBudget,
  pools: readonly PoolTiers[],
  waitMs: number,
  budgetMs: number,
): { readonly decision: 'serve' } | { readonly decision: 'shed'; readonly retryAfterMs: number } {
  if (pools.some((p) => lowerTierHolds(p.pool, tier.rank))) return { decision: 'serve' };
  const over = Number.isFinite(waitMs) ? waitMs - budgetMs : 5000;
  return { decision: 'shed', retryAfterMs: Math.max(100, Math.ceil(over)) };
}
