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
  readonly met: boolean;
}

/** What a replay found. */
export interface ReplayResult {
  readonly tiers: readonly TierScore[];
  /** Requests per second that met their own tier's SLO (all tiers). */
  readonly goodput: number;
  /** Requests per second measured. */
  readonly throughput: number;
  /** Every tier met the attainment target. */
  readonly met: boolean;
}

/** The measured window: the first tenth of the trace is warm-up (as the goodput benchmark). */
export function measuredWindow(durationS: number): { readonly fromMs: number; readonly toMs: number } {
  return { fromMs: durationS * 100, toMs: durationS * 1000 };
}

/**
 * Scores outcomes per tier (tier of a request: `tierOf[request.id]`) over `[fromMs, toMs)`.
 *
 * @example
 * scoreTiers(outcomes, trace.tierOf, traffic.tiers, 0.9, 3_000, 30_000).met;
 */
export function scoreTiers(outcomes: readonly RequestOutcome[], tierOf: readonly number[], tiers: readonly Tier[], attainment: number, fromMs: number, toMs: number): ReplayResult {
  const scores = tiers.map((tier, k) => {
    const score = scoreRun(outcomes.filter((o) => tierOf[o.request.id] === k), tier, fromMs, toMs);
    // A tier with no request in the window has nothing to miss.
    return { ...score, tier: tier.name, met: score.requests === 0 || score.attainment >= attainment - 1e-12 };
  });
  return {
    tiers: scores,
    goodput: scores.reduce((s, x) => s + x.goodput, 0),
    throughput: scores.reduce((s, x) => s + x.throughput, 0),
    met: scores.every((s) => s.met),
  };
}

/**
 * Runs `trace` through `plan` and scores it (the first tenth of the trace not scored).
 *
 * @example
 * replay(plan, drawTrace(traffic, 30, 1), traffic.tiers, 0.9).met;
 */
export function replay(plan: PoolPlan, trace: TierTrace, tiers: readonly Tier[], attainment: number): ReplayResult {
  const { deployment, profiles } = toClusterRun(plan);
  const outcomes = runDeployment(deployment, trace.requests, profiles);
  const { fromMs, toMs } = measuredWindow(trace.durationS);
  return scoreTiers(outcomes, trace.tierOf, tiers, attainment, fromMs, toMs);
}
