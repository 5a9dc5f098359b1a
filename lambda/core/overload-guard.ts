/**
 * The overload guard: places each request at a tier before it is sent (lambda/routing/overload.ts
 * decides; this holds the state). Per pool it counts this instance's requests by tier (in flight,
 * and not yet at their first token) and per tier the tokens each tenant has in flight, and reads
 * the pool's queue from the pool directory (the engines' `/metrics`, corrected by this instance's
 * own calls since).
 *
 * One instance per process, shared by every request. In Lambda an instance serves one request at
 * a time, so its counts hold only that request: what it knows of the others is the polled queue
 * (at most one poll interval old; see lambda/routing/load-estimate.ts for what that costs).
 */
import type { PoolLoad, PoolTiers, TenantShare, TierBudget } from '../routing/overload.ts';
import { OVERLOAD_DECISIONS, admitAtTier, lastResort } from '../routing/overload.ts';
import { TIER_RANK } from '../routing/tier-grant.ts';
import { tierEnginePriority } from '../routing/tier-engine-priority.ts';
import { routePools, tierRoute } from '../routing/tier-route.ts';
import type { SplitserveConfig, TierName } from './config.ts';
import { TierOverloadedError } from './errors.ts';
import type { PoolQueue } from './backend-ports.ts';

/** Where the guard reads a pool's queue (the pool directory). */
export interface QueueSource {
  queue(pool: string): PoolQueue;
}

/** A request to place. */
export interface PlacementRequest {
  readonly tier: TierName;
  readonly model: string;
  readonly tenantId: string;
  /** Tokens it may use: prompt estimate + max tokens. */
  readonly tokens: number;
}

/** A placed request: release it exactly once when it ends (`firstToken` when its first output arrives). */
export interface Placement {
  /** The tier to serve at: the one asked, or a fallback the overload moved it to. */
  readonly tier: TierName;
  /** The tier it was moved from, when it was. */
  readonly yieldedFrom: TierName | undefined;
  /** The estimated queueing (ms) at the tier served, when known. */
  readonly waitMs: number | undefined;
  /** The request's first output arrived (it no longer waits in an engine queue). */
  firstToken(): void;
  release(): void;
}

interface PoolCounts {
  readonly pending: number[];
  readonly inFlight: number[];
  /** Per tier rank: tenant → tokens in flight. */
  readonly tokens: Array<Map<string, number>>;
}

/** Places requests at tiers under overload (see lambda/routing/overload.ts). */
export class OverloadGuard {
  private readonly counts = new Map<string, PoolCounts>();
  /** Per tier: its budget (worked out once). */
  private readonly budgets = new Map<TierName, TierBudget>();
  /** Per pool, the better tiers routing through it: (rank, budget). */
  private readonly budgetsByPool = new Map<string, Array<{ rank: number; budgetMs: number }>>();
  /** Per tier and model: the counts of the route's pools (a request touches these, no lookups). */
  private readonly routeCounts = new Map<string, readonly PoolCounts[]>();

  constructor(
    private readonly config: SplitserveConfig,
    private readonly queues: QueueSource,
  ) {
    for (const name of TIER_RANK) {
      const tier = config.tiers[name];
      const slo = tier?.slo;
      const budget: TierBudget = {
        rank: TIER_RANK.indexOf(name),
        budgetMs: slo ? (slo.maxQueueMs ?? slo.ttftMs / 2) : undefined,
        behindUntagged: tierEnginePriority(name, tier) >= 0,
      };
      this.budgets.set(name, budget);
      if (!tier || budget.budgetMs === undefined) continue;
      for (const pool of routePools(tier.route)) {
        const list = this.budgetsByPool.get(pool) ?? [];
        list.push({ rank: budget.rank, budgetMs: budget.budgetMs });
        this.budgetsByPool.set(pool, list);
      }
    }
  }

  /**
   * Places a request: at its tier, at a fallback tier that is faster and within its own budget,
   * or at its tier anyway while a lower tier holds capacity on the route.
   *
   * @throws TierOverloadedError (429) when the request is shed
   */
  place(request: PlacementRequest): Placement {
    const first = this.evaluate(request.tier, request);
    if (first.decision === OVERLOAD_DECISIONS.serve) return this.occupy(request, request.tier, first.waitMs);
    const tried = new Set<TierName>([request.tier]);
    for (let tier = this.config.tiers[request.tier]?.fallback; tier && !tried.has(tier); tier = this.config.tiers[tier]?.fallback) {
      tried.add(tier);
      if (!this.serves(tier, request.model)) continue;
      const next = this.evaluate(tier, request);
      if (next.decision === OVERLOAD_DECISIONS.serve && (next.waitMs ?? 0) < first.waitMs!) return this.occupy(request, tier, next.waitMs, request.tier);
    }
    const last = lastResort(first.tier, first.pools, first.waitMs!, first.budgetMs!);
    if (last.decision === 'serve') return this.occupy(request, request.tier, first.waitMs);
    throw new TierOverloadedError(request.tier, last.retryAfterMs, first.waitMs!, first.budgetMs!);
  }

  private serves(tier: TierName, model: string): boolean {
    try {
      tierRoute(this.config, tier, model);
      return true;
    } catch {
      return false;
    }
  }

  private evaluate(tier: TierName, request: PlacementRequest) {
    const budget = this.budgets.get(tier)!;
    // A tier without an SLO never yields: its pools' queues are not even read.
    if (budget.budgetMs === undefined) return { decision: OVERLOAD_DECISIONS.serve, waitMs: undefined, budgetMs: undefined, tier: budget, pools: [] };
    const poolNames = routePools(tierRoute(this.config, tier, request.model));
    const pools: PoolTiers[] = poolNames.map((name) => ({
      pool: this.poolLoad(name),
      betterBudgetsMs: (this.budgetsByPool.get(name) ?? []).filter((b) => b.rank < budget.rank).map((b) => b.budgetMs),
    }));
    // Without a reading on any of its pools nothing is known: no estimate, no share to work out.
    if (pools.every((p) => p.pool.endpoints === 0)) return { decision: OVERLOAD_DECISIONS.serve, waitMs: undefined, budgetMs: budget.budgetMs, tier: budget, pools };
    return { ...admitAtTier({ tier: budget, pools, share: this.share(poolNames, budget.rank, request) }), tier: budget, pools };
  }

  /**
   * A pool's load: the engines' queue as read, and at least what this instance alone has there
   * beyond the engines' capacity. The reading lags (one poll interval, and the calls of requests
   * placed but not yet sent), so a burst from this instance would otherwise all be placed on one
   * stale reading. On a prefill pool a request occupies the engine until its first token; on any
   * other, until it ends.
   */
  private poolLoad(name: string): PoolLoad {
    const queue = this.queues.queue(name);
    const counts = this.countsOf(name);
    const own = (this.config.pools[name]?.role === 'prefill' ? counts.pending : counts.inFlight).reduce((a, b) => a + b, 0);
    const waiting = queue.capacity === undefined ? queue.waiting : Math.max(queue.waiting, own - queue.capacity);
    return { ...queue, waiting, pendingByRank: counts.pending, inFlightByRank: counts.inFlight };
  }

  private share(pools: readonly string[], rank: number, request: PlacementRequest): TenantShare {
    let tenantTokens = 0;
    let tierTokens = 0;
    const tenants = new Set<string>([request.tenantId]);
    for (const pool of pools) {
      for (const [tenant, tokens] of this.countsOf(pool).tokens[rank]!) {
        tierTokens += tokens;
        if (tenant === request.tenantId) tenantTokens += tokens;
        tenants.add(tenant);
      }
    }
    return { tenantTokens, tierTokens, tenants: tenants.size, requestTokens: request.tokens };
  }

  private countsOf(pool: string): PoolCounts {
    let counts = this.counts.get(pool);
    if (!counts) {
      counts = { pending: TIER_RANK.map(() => 0), inFlight: TIER_RANK.map(() => 0), tokens: TIER_RANK.map(() => new Map()) };
      this.counts.set(pool, counts);
    }
    return counts;
  }

  private occupy(request: PlacementRequest, tier: TierName, waitMs: number | undefined, yieldedFrom?: TierName): Placement {
    const key = `${tier}\u0000${request.model}`;
    let pools = this.routeCounts.get(key);
    if (!pools) this.routeCounts.set(key, (pools = routePools(tierRoute(this.config, tier, request.model)).map((p) => this.countsOf(p))));
    return new HeldPlacement(tier, TIER_RANK.indexOf(tier), pools, request, waitMs, yieldedFrom);
  }
}

/** A placement holding its counts on the route's pools until released. */
class HeldPlacement implements Placement {
  private waiting = true;
  private released = false;

  constructor(
    readonly tier: TierName,
    private readonly rank: number,
    private readonly pools: readonly PoolCounts[],
    private readonly request: PlacementRequest,
    readonly waitMs: number | undefined,
    readonly yieldedFrom: TierName | undefined,
  ) {
    for (const c of pools) {
      c.pending[rank]! += 1;
      c.inFlight[rank]! += 1;
      const tokens = c.tokens[rank]!;
      tokens.set(request.tenantId, (tokens.get(request.tenantId) ?? 0) + request.tokens);
    }
  }

  firstToken(): void {
    if (!this.waiting) return;
    this.waiting = false;
    for (const c of this.pools) c.pending[this.rank]! -= 1;
  }

  release(): void {
    if (this.released) return;
    this.released = true;
    this.firstToken();
    const { tenantId, tokens: used } = this.request;
    for (const c of this.pools) {
      c.inFlight[this.rank]! -= 1;
      const tokens = c.tokens[this.rank]!;
      const left = (tokens.get(tenantId) ?? 0) - used;
      if (left > 0) tokens.set(tenantId, left);
      else tokens.delete(tenantId);
    }
  }
}
