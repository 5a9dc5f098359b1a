/**
 * Planning over a bursty trace: the rate steps (e.g. 1 → 24 req/s) and the planner runs once per
 * interval on the traffic it observed in the interval before (rate, and log-normal prompt and
 * completion shapes fitted to the observed requests). Each interval is replayed on the plan made
 * for it; every request still waiting for its first token when an interval ends (arrived in it,
 * or carried into it and still not served) is carried into the next one, ahead of its arrivals
 * (the backlog the new pools inherit). That
 * backlog is known when planning (it is the queue), so a plan is also checked on it plus a trace
 * of the observed traffic, and sized for a higher rate (BACKLOG_FACTORS) until it drains it.
 *
 * Simplifications, stated: replicas of a new plan are ready at the interval's start (no
 * provisioning delay), and decodes in flight finish on the old pools.
 */
import { runDeployment } from '../bench/goodput/cluster.ts';
import type { RequestOutcome } from '../bench/goodput/cluster.ts';
import type { SimRequest, TokenDistribution } from '../bench/goodput/workloads.ts';
import type { PoolPlan } from './deployments.ts';
import { describePlan, toClusterRun } from './deployments.ts';
import type { ReplayResult } from './replay.ts';
import { scoreTiers } from './replay.ts';
import type { PlanOptions } from './search.ts';
import { planDeployment } from './search.ts';
import type { TierTrace, Traffic } from './traffic.ts';
import { drawTrace } from './traffic.ts';

/** A step trace: one rate per planning interval. */
export interface StepTrace {
  readonly intervalS: number;
  readonly rates: readonly number[];
}

/** The default bursty trace: three minutes at 1 req/s, then 24 req/s, in 60 s intervals. */
export const DEFAULT_STEP: StepTrace = { intervalS: 60, rates: [1, 1, 1, 24, 24, 24, 24] };

/** A request still waiting for its first token when an interval ends, and its tier. */
export interface Waiting {
  readonly request: SimRequest;
  readonly tier: number;
}

/** Rate factors the planner tries, in order, until its plan also drains the backlog. */
export const BACKLOG_FACTORS = [1, 1.5, 2, 3, 4, 6, 8, 12, 16] as const;

/**
 * Replays one interval: the backlog first (all arriving at the interval's start), then `trace`'s
 * arrivals; scores the trace's requests over the interval (no warm-up; the backlog was scored in
 * the interval it arrived in) and returns every request still waiting for its first token at the
 * interval's end, backlog included. Without a plan nothing is served: every request misses and
 * all of them are carried.
 */
export function runInterval(plan: PoolPlan | undefined, backlog: readonly Waiting[], trace: TierTrace, traffic: Traffic, intervalS: number): { readonly result: ReplayResult; readonly left: Waiting[] } {
  const carried = backlog.map((b, i) => ({ ...b.request, id: i, arrivalMs: 0 }));
  const fresh = trace.requests.map((r) => ({ ...r, id: r.id + carried.length }));
  const all = [...carried, ...fresh];
  const tierOf = [...backlog.map((b) => b.tier), ...trace.tierOf];
  let outcomes: RequestOutcome[];
  if (plan) {
    const { deployment, profiles } = toClusterRun(plan);
    outcomes = runDeployment(deployment, all, profiles);
  } else {
    outcomes = all.map((request) => ({ request, route: 'aggregated', ttftMs: Infinity, tpotMs: Infinity, e2eMs: Infinity }));
  }
  const endMs = intervalS * 1000;
  const scored = outcomes.filter((o) => o.request.id >= carried.length);
  return {
    result: scoreTiers(scored, tierOf, traffic.tiers, traffic.attainment, 0, endMs),
    left: outcomes.filter((o) => o.request.arrivalMs + o.ttftMs > endMs).map((o) => ({ request: o.request, tier: tierOf[o.request.id]! })),
  };
}

/** One interval of the bursty run. */
export interface IntervalResult {
  readonly index: number;
  readonly ratePerSecond: number;
  /** Rate the plan was made for (observed in the interval before; the first interval's own rate). */
  readonly plannedForRate: number;
  /** Factor on that rate the plan was sized for so that it also drains the backlog (1: none needed). */
  readonly sizedForBacklog: number;
  readonly plan: PoolPlan | undefined;
  readonly planText: string;
  readonly costPerHourUsd: number;
  readonly carried: number;
  readonly result: ReplayResult;
}

/** What {@link runBursty} returns. */
export interface BurstyResult {
  readonly step: StepTrace;
  readonly intervals: readonly IntervalResult[];
  /** Index of the first interval whose rate rose. */
  readonly stepAt: number;
  /**
   * Intervals from the step until no tier misses its SLO again to the end (0: never missed; a
   * tier with no request in an interval has nothing to miss there); undefined when it never
   * converges within the trace.
   */
  readonly intervalsToConverge: number | undefined;
}

/** Log-normal shape fitted to observed token counts (median = e^mean(ln), sigma = sd(ln)). */
export function fitTokens(values: readonly number[], fallback: TokenDistribution): TokenDistribution {
  if (values.length < 2) return fallback;
  const logs = values.map((v) => Math.log(Math.max(1, v)));
  const mean = logs.reduce((s, x) => s + x, 0) / logs.length;
  const sd = Math.sqrt(logs.reduce((s, x) => s + (x - mean) ** 2, 0) / (logs.length - 1));
  const min = Math.min(...values);
  const max = Math.max(...values);
  return { median: Math.min(max, Math.max(min, Math.round(Math.exp(mean)))), sigma: Math.min(3, sd), min, max };
}

/** The traffic observed in an interval's requests, with the configured tiers and prices. */
export function observedTraffic(base: Traffic, requests: readonly SimRequest[], intervalS: number): Traffic {
  const { mixName: _dropped, ...rest } = base;
  return {
    ...rest,
    ratePerSecond: Math.max(requests.length / intervalS, 0.01),
    prompt: fitTokens(requests.map((r) => r.promptTokens), base.prompt),
    completion: fitTokens(requests.map((r) => r.completionTokens), base.completion),
  };
}

/**
 * Runs the planner over a step trace (see the module comment).
 *
 * @example
 * const run = runBursty(traffic, DEFAULT_STEP, { seed: 1 });
 * run.intervalsToConverge; // e.g. 1
 */
export function runBursty(traffic: Traffic, step: StepTrace = DEFAULT_STEP, options: PlanOptions = {}): BurstyResult {
  const seed = options.seed ?? 1;
  const intervals: IntervalResult[] = [];
  let observed: Traffic = { ...traffic, ratePerSecond: step.rates[0]! };
  let backlog: Waiting[] = [];
  step.rates.forEach((rate, index) => {
    const planFor = (t: Traffic) => planDeployment(t, { ...options, durationS: step.intervalS, seed: seed + index });
    let rec = planFor(observed);
    let sizedFor = 1;
    // The queue left over is observable when planning: the plan must also drain it. Check the plan
    // on the backlog plus a trace of the observed traffic, and plan for more until it passes.
    if (backlog.length > 0 && rec.plan) {
      const expected = drawTrace(observed, step.intervalS, seed + 20_000 + index);
      for (const factor of BACKLOG_FACTORS) {
        const candidate = factor === 1 ? rec : planFor({ ...observed, ratePerSecond: observed.ratePerSecond * factor });
        if (!candidate.plan) break;
        rec = candidate;
        sizedFor = factor;
        if (!runInterval(candidate.plan, backlog, expected, observed, step.intervalS).result.missed) break;
      }
    }
    const plan = rec.plan ?? rec.closest?.plan;
    const trace = drawTrace(traffic, step.intervalS, seed + 10_000 + index, rate);
    const run = runInterval(plan, backlog, trace, traffic, step.intervalS);
    intervals.push({
      index,
      ratePerSecond: rate,
      plannedForRate: observed.ratePerSecond,
      sizedForBacklog: sizedFor,
      plan,
      planText: plan ? `${describePlan(plan)}${rec.plan ? '' : ' (closest; none met every tier)'}` : 'none',
      costPerHourUsd: rec.plan ? rec.costPerHourUsd : (rec.closest?.costPerHourUsd ?? NaN),
      carried: backlog.length,
      result: run.result,
    });
    backlog = run.left;
    observed = observedTraffic(traffic, trace.requests, step.intervalS);
  });
  const stepAt = Math.max(0, step.rates.findIndex((r, i) => i > 0 && r > step.rates[i - 1]!));
  let lastMiss = -1;
  intervals.forEach((x, i) => {
    if (i >= stepAt && x.result.missed) lastMiss = i;
  });
  const intervalsToConverge = lastMiss === intervals.length - 1 ? undefined : lastMiss < 0 ? 0 : lastMiss + 1 - stepAt;
  return { step, intervals, stepAt, intervalsToConverge };
}
