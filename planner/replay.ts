/**
 * Replays a tiered trace through a plan in the goodput benchmark's virtual-time cluster and
 * scores every tier against its own SLO: the planner's check, and the figures it reports.
 */
import { runDeployment } from '../bench/goodput/cluster.ts';
import type { RequestOutcome } from '../bench/goodput/cluster.ts';
import type { RunScore } from '../bench/goodput/metrics.ts';
import { scoreRun } from '../bench/goodput/metrics.ts';
import type { PoolPlan } from './deployments.ts';
import { toClusterRun } from './deployments.ts';
import type { Tier, TierTrace } from './traffic.ts';

/** One tier's figures in a replay. */
export interface TierScore extends RunScore {
  readonly tier: string;
  /** The tier had at least the minimum number of requests in the window to be judged at all. */
  readonly enough: boolean;
  /** Enough requests, and enough of them met the tier's SLO. */
  readonly met: boolean;
}

/** What a replay found. */
export interface ReplayResult {
  readonly tiers: readonly TierScore[];
  /** Requests per second that met their own tier's SLO (all tiers). */
  readonly goodput: number;
  /** Requests per second measured. */
  readonly throughput: number;
  /** Every tier had enough requests and met the attainment target. */
  readonly met: boolean;
  /** Some tier with enough requests missed the attainment target. */
  readonly missed: boolean;
  /** Names of the tiers with too few requests in the window to be judged (neither met nor missed). */
  readonly tooFew: readonly string[];
}

/** Fewest requests of a tier in a measured window for its attainment to count as validated. */
export const MIN_TIER_REQUESTS = 200;

/** The measured window: the first tenth of the trace is warm-up (as the goodput benchmark). */
export function measuredWindow(durationS: number): { readonly fromMs: number; readonly toMs: number } {
  return { fromMs: durationS * 100, toMs: durationS * 1000 };
}

/**
 * Scores outcomes per tier (tier of a request: `tierOf[request.id]`) over `[fromMs, toMs)`. A tier
 * with fewer than `minRequests` requests in the window (at least 1) is neither met nor missed: it
 * is listed in `tooFew`, and the replay as a whole is not `met`.
 *
 * @example
 * scoreTiers(outcomes, trace.tierOf, traffic.tiers, 0.9, 3_000, 30_000, MIN_TIER_REQUESTS).met;
 */
export function scoreTiers(outcomes: readonly RequestOutcome[], tierOf: readonly number[], tiers: readonly Tier[], attainment: number, fromMs: number, toMs: number, minRequests = 1): ReplayResult {
  const least = Math.max(1, minRequests);
  const scores = tiers.map((tier, k) => {
    const score = scoreRun(outcomes.filter((o) => tierOf[o.request.id] === k), tier, fromMs, toMs);
    const enough = score.requests >= least;
    return { ...score, tier: tier.name, enough, met: enough && score.attainment >= attainment - 1e-12 };
  });
  return {
    tiers: scores,
    goodput: scores.reduce((s, x) => s + x.goodput, 0),
    throughput: scores.reduce((s, x) => s + x.throughput, 0),
    met: scores.every((s) => s.met),
    missed: scores.some((s) => s.enough && !s.met),
    tooFew: scores.filter((s) => !s.enough).map((s) => s.tier),
  };
}

/**
 * Runs `trace` through `plan` and scores it (the first tenth of the trace not scored); a tier
 * needs `minRequests` measured requests to be judged (see {@link scoreTiers}).
 *
 * @example
 * replay(plan, drawTrace(traffic, 30, 1), traffic.tiers, 0.9).met;
 */
export function replay(plan: PoolPlan, trace: TierTrace, tiers: readonly Tier[], attainment: number, minRequests = 1): ReplayResult {
  const { deployment, profiles } = toClusterRun(plan);
  const outcomes = runDeployment(deployment, trace.requests, profiles);
  const { fromMs, toMs } = measuredWindow(trace.durationS);
  return scoreTiers(outcomes, trace.tierOf, tiers, attainment, fromMs, toMs, minRequests);
}
