/**
 * The planner's search: for each pool shape (one aggregated profile, or a prefill profile and a
 * decode profile), bound the replica counts from an analytic capacity estimate (capacity.ts: full
 * batch, no queueing), drop shapes whose decode cannot meet a tier's TPOT even alone, then replay
 * candidates in virtual time, cheapest first, until one meets every tier's SLO attainment on a
 * planning trace drawn at the rate plus a safety margin (a tier with too few requests in it to
 * judge rules nothing out, and is reported as not validated). That plan is then replayed on a fresh
 * seed at the nominal rate (validation) and at rising rates (headroom).
 */
import { meanSlotMs, replicaCapacity } from '../bench/goodput/capacity.ts';
import { firstTokenMs, interTokenMs } from '../sim/model.ts';
import type { SimRequest } from '../bench/goodput/workloads.ts';
import type { SimProfileName } from '../sim/profiles.ts';
import { PROFILES } from '../sim/profiles.ts';
import type { PoolPlan, PriceTable } from './deployments.ts';
import { planCost, planReplicas, priceTable, shapeOf } from './deployments.ts';
import type { ReplayResult } from './replay.ts';
import { MIN_TIER_REQUESTS, replay } from './replay.ts';
import type { Traffic } from './traffic.ts';
import { drawTrace } from './traffic.ts';

/** Most replicas in one pool unless told otherwise. */
export const DEFAULT_MAX_PER_POOL = 128;

/** Which profiles may serve which pool. */
export interface ShapeChoices {
  readonly aggregated: readonly SimProfileName[];
  readonly prefill: readonly SimProfileName[];
  readonly decode: readonly SimProfileName[];
}

/** Every shape the simulator's profiles support: GPUs aggregated, and any prefill × decode pair. */
export const DEFAULT_SHAPES: ShapeChoices = {
  aggregated: ['gpu-aggregated'],
  prefill: ['trainium-prefill', 'gpu-aggregated'],
  decode: ['cerebras-decode', 'gpu-aggregated'],
};

/** Options of {@link planDeployment}. */
export interface PlanOptions {
  /**
   * Virtual seconds of the validation replay; the planning replays use half. Both are stretched
   * (see {@link traceSeconds}) to hold about 2,000 requests, enough requests of the smallest tier
   * to judge it, and five full-batch request times of the slowest decode allowed. @default 60
   */
  readonly durationS?: number;
  /** Planning seed; validation uses seed + 1000. @default 1 */
  readonly seed?: number;
  /** Plans must meet the SLOs at rate × (1 + margin) on the planning trace. @default 0.1 */
  readonly margin?: number;
  readonly shapes?: ShapeChoices;
  /** Most replicas in one pool. @default DEFAULT_MAX_PER_POOL */
  readonly maxPerPool?: number;
  /** Most planning replays. @default 400 */
  readonly maxReplays?: number;
}

/** A shape left out before any replay, and why. */
export interface ExcludedShape {
  readonly shape: string;
  readonly reason: string;
  /** Left out only because it needs more replicas than `maxPerPool`. */
  readonly byCap?: true;
}

/** Longest planning or validation trace, virtual seconds (a day). */
export const MAX_TRACE_S = 86_400;

/** Most requests a trace is stretched to for the smallest tier's sake. */
export const MAX_TRACE_REQUESTS = 50_000;

/**
 * Virtual seconds of a planning or validation trace at `ratePerSecond`: at least `floorS`, about
 * 2,000 requests, and long enough that the smallest tier expects 1.25 × MIN_TIER_REQUESTS
 * requests in the measured window (the last nine tenths; at most MAX_TRACE_REQUESTS requests in
 * all for that), capped at MAX_TRACE_S. A tier still short of MIN_TIER_REQUESTS is reported as
 * not validated, never as met.
 *
 * @example
 * traceSeconds(parseTraffic({ ratePerSecond: 12, mix: 'chat' }), 12, 60); // 166.7 (2,000 requests; 333 of them priority)
 */
export function traceSeconds(traffic: Traffic, ratePerSecond: number, floorS: number): number {
  const smallest = Math.min(...traffic.tiers.map((t) => t.share));
  const forTier = (1.25 * MIN_TIER_REQUESTS) / (ratePerSecond * smallest * 0.9);
  return Math.min(MAX_TRACE_S, Math.max(floorS, 2_000 / ratePerSecond, Math.min(forTier, MAX_TRACE_REQUESTS / ratePerSecond)));
}

/** What the planner recommends (or why it cannot). */
export interface Recommendation {
  readonly traffic: Traffic;
  readonly prices: PriceTable;
  /** The cheapest plan that met every tier on the planning trace; undefined when none did. */
  readonly plan: PoolPlan | undefined;
  readonly costPerHourUsd: number;
  /** The planning replay of `plan` (rate × (1 + margin), planning seed). */
  readonly planning: ReplayResult | undefined;
  /** The replay at the nominal rate on a seed the search never saw. */
  readonly validation: ReplayResult | undefined;
  /** Largest tested rate factor − 1 that still met every tier on the validation seed (0 if only 1× did). */
  readonly headroom: number;
  /** The first tested factor that failed, or undefined if every tested factor passed. */
  readonly failsAtFactor: number | undefined;
  readonly excluded: readonly ExcludedShape[];
  /**
   * When no plan met every tier: the replayed candidate that came closest (highest worst-tier
   * attainment), with its planning replay, so the answer says which tier is out of reach.
   */
  readonly closest: { readonly plan: PoolPlan; readonly costPerHourUsd: number; readonly planning: ReplayResult } | undefined;
  readonly replays: number;
  readonly candidates: number;
  /** True when the search stopped at `maxReplays` with candidates left untried. */
  readonly exhausted: boolean;
  /**
   * True when no plan was found and the per-pool cap (`maxPerPool`) is what stopped the search: a
   * shape needed more replicas than the cap, or every candidate up to the cap missed.
   */
  readonly cappedByMaxPerPool: boolean;
  /** Virtual seconds of the planning and validation traces actually drawn. */
  readonly traces: { readonly planningS: number; readonly validationS: number };
  readonly options: Required<Omit<PlanOptions, 'shapes'>> & { readonly shapes: ShapeChoices };
}

/** Rate factors tried for the headroom, in order. */
export const HEADROOM_FACTORS = [1.1, 1.25, 1.5, 1.75, 2, 2.5, 3] as const;

interface Candidate {
  readonly plan: PoolPlan;
  readonly cost: number;
  readonly shape: string;
  readonly counts: readonly number[];
}

function range(lo: number, hi: number): number[] {
  return Array.from({ length: Math.max(0, hi - lo + 1) }, (_, i) => lo + i);
}

/**
 * The candidates, cheapest first, with the shapes excluded up front (a decode slower alone than a
 * tier's TPOT; too few prompts reaching their first token within a tier's TTFT even with no
 * queueing, on a sample of the traffic). A shape's counts start at the analytic lower bound
 * (rate × (1 + margin) / full-batch capacity per replica: fewer replicas queue without bound, whatever
 * a short trace shows) and go to 3× it (at least 12 more), capped at `maxPerPool`.
 */
export function enumerateCandidates(traffic: Traffic, shapes: ShapeChoices, prices: PriceTable, maxPerPool: number, sample: readonly SimRequest[], margin = 0): { candidates: Candidate[]; excluded: ExcludedShape[] } {
  const tightestTpot = Math.min(...traffic.tiers.map((t) => t.tpotMs));
  const excluded: ExcludedShape[] = [];
  // A prefill-only or decode-only profile makes no plan alone: say so rather than offer nothing.
  if (shapes.decode.length === 0) {
    for (const pre of shapes.prefill) {
      excluded.push({ shape: `pd:${pre}>(none)`, reason: `${pre} only runs prefill: a prefill pool needs a decode profile too (${DEFAULT_SHAPES.decode.join(' or ')})` });
    }
  }
  if (shapes.prefill.length === 0) {
    for (const dec of shapes.decode) {
      if (!shapes.aggregated.includes(dec)) excluded.push({ shape: `pd:(none)>${dec}`, reason: `${dec} only runs decode: a decode pool needs a prefill profile too (${DEFAULT_SHAPES.prefill.join(' or ')})` });
    }
  }
  // A pool whose full-batch capacity is below the rate it is planned for queues without bound.
  const bound = (cap: number) => Math.max(1, Math.ceil((traffic.ratePerSecond * (1 + margin)) / cap - 1e-9));
  const counts = (lo: number) => range(Math.min(lo, maxPerPool), Math.min(maxPerPool, Math.max(lo * 3, lo + 12)));
  /** Unloaded TTFT (no queueing, which only adds) must meet each tier's TTFT for its attainment share. */
  const ttftOk = (shape: string, ttft0: (r: SimRequest) => number) => {
    const times = sample.map(ttft0);
    for (const tier of traffic.tiers) {
      const within = times.filter((t) => t <= tier.ttftMs).length / Math.max(1, times.length);
      if (within < traffic.attainment) {
        excluded.push({ shape, reason: `even unloaded only ${(within * 100).toFixed(1)}% of prompts reach the first token within tier ${tier.name}'s ${tier.ttftMs} ms` });
        return false;
      }
    }
    return true;
  };
  const tpotOk = (name: SimProfileName, shape: string) => {
    const itl = interTokenMs(PROFILES[name], 1);
    if (itl <= tightestTpot) return true;
    excluded.push({ shape, reason: `${name} decodes at ${itl.toFixed(2)} ms/token alone, above the tightest tier's TPOT ${tightestTpot} ms` });
    return false;
  };
  const out: Candidate[] = [];
  for (const name of shapes.aggregated) {
    const plan0 = { kind: 'aggregated', aggregated: { profile: name, count: 1 } } as const;
    if (!tpotOk(name, shapeOf(plan0))) continue;
    if (!ttftOk(shapeOf(plan0), (r) => firstTokenMs({ profile: PROFILES[name], promptTokens: r.promptTokens, kind: 'aggregated' }).totalMs)) continue;
    const lo = bound(replicaCapacity(PROFILES[name], 'aggregated', sample));
    if (lo > maxPerPool) {
      excluded.push({ shape: shapeOf(plan0), reason: `needs at least ${lo} replicas (more than the cap of ${maxPerPool} per pool)`, byCap: true });
      continue;
    }
    for (const n of counts(lo)) {
      const plan: PoolPlan = { kind: 'aggregated', aggregated: { profile: name, count: n } };
      out.push({ plan, cost: planCost(plan, prices), shape: shapeOf(plan), counts: [n] });
    }
  }
  for (const pre of shapes.prefill) {
    for (const dec of shapes.decode) {
      const plan0 = { kind: 'disaggregated', prefill: { profile: pre, count: 1 }, decode: { profile: dec, count: 1 } } as const;
      if (!tpotOk(dec, shapeOf(plan0))) continue;
      const ttft0 = (r: SimRequest) =>
        firstTokenMs({ profile: PROFILES[pre], promptTokens: r.promptTokens, kind: 'prefill' }).totalMs + firstTokenMs({ profile: PROFILES[dec], promptTokens: r.promptTokens, kind: 'decode-remote' }).totalMs;
      if (!ttftOk(shapeOf(plan0), ttft0)) continue;
      const pLo = bound(replicaCapacity(PROFILES[pre], 'prefill', sample));
      const dLo = bound(replicaCapacity(PROFILES[dec], 'decode-remote', sample));
      if (pLo > maxPerPool || dLo > maxPerPool) {
        excluded.push({ shape: shapeOf(plan0), reason: `needs at least ${pLo} prefill and ${dLo} decode replicas (more than the cap of ${maxPerPool} per pool)`, byCap: true });
        continue;
      }
      for (const p of counts(pLo)) {
        for (const d of counts(dLo)) {
          const plan: PoolPlan = { kind: 'disaggregated', prefill: { profile: pre, count: p }, decode: { profile: dec, count: d } };
          out.push({ plan, cost: planCost(plan, prices), shape: shapeOf(plan), counts: [p, d] });
        }
      }
    }
  }
  out.sort((a, b) => a.cost - b.cost || planReplicas(a.plan) - planReplicas(b.plan));
  return { candidates: out, excluded };
}

/** True when some failed candidate of the same shape had at least as many replicas in every pool. */
function dominatedByFailure(c: Candidate, failures: ReadonlyMap<string, (readonly number[])[]>): boolean {
  return (failures.get(c.shape) ?? []).some((f) => f.every((n, i) => c.counts[i]! <= n));
}

/**
 * Recommends the cheapest plan meeting every tier's SLO for `traffic` (see the module comment).
 * Deterministic: same traffic and options, same answer.
 *
 * @example
 * const rec = planDeployment(parseTraffic({ ratePerSecond: 20, mix: 'chat' }));
 * rec.plan; // e.g. { kind: 'disaggregated', prefill: { profile: 'trainium-prefill', count: 1 }, … }
 */
export function planDeployment(traffic: Traffic, options: PlanOptions = {}): Recommendation {
  const opts = {
    durationS: options.durationS ?? 60,
    seed: options.seed ?? 1,
    margin: options.margin ?? 0.1,
    maxPerPool: options.maxPerPool ?? DEFAULT_MAX_PER_POOL,
    maxReplays: options.maxReplays ?? 400,
    shapes: options.shapes ?? DEFAULT_SHAPES,
  };
  const prices = priceTable(traffic.prices);
  // At low rates a short trace holds few requests and its attainment is noise: at least ~2,000.
  const sample = drawTrace(traffic, Math.max(20, 2_000 / traffic.ratePerSecond), opts.seed + 2_000).requests;
  // A trace must outlast its requests many times over to show a queue building: at least five
  // full-batch slot times of the slowest decode the shapes allow.
  const settleS = Math.max(...[...opts.shapes.aggregated, ...opts.shapes.decode].map((name) => (5 * meanSlotMs(PROFILES[name], 'decode-remote', sample)) / 1000));
  const planningS = traceSeconds(traffic, traffic.ratePerSecond * (1 + opts.margin), Math.max(opts.durationS / 2, settleS));
  const validationS = traceSeconds(traffic, traffic.ratePerSecond, Math.max(opts.durationS, settleS));
  const planningTrace = drawTrace(traffic, planningS, opts.seed, traffic.ratePerSecond * (1 + opts.margin));
  const { candidates, excluded } = enumerateCandidates(traffic, opts.shapes, prices, opts.maxPerPool, sample, opts.margin);
  const failures = new Map<string, (readonly number[])[]>();
  let replays = 0;
  let exhausted = false;
  let found: { candidate: Candidate; result: ReplayResult } | undefined;
  let closest: { candidate: Candidate; result: ReplayResult; worst: number } | undefined;
  for (const c of candidates) {
    if (replays >= opts.maxReplays) {
      exhausted = true;
      break;
    }
    if (dominatedByFailure(c, failures)) continue;
    replays++;
    const result = replay(c.plan, planningTrace, traffic.tiers, traffic.attainment, MIN_TIER_REQUESTS);
    // A tier with too few requests even in the longest trace cannot rule a candidate out; the
    // validation replay then reports it as not validated.
    if (!result.missed) {
      found = { candidate: c, result };
      break;
    }
    failures.set(c.shape, [...(failures.get(c.shape) ?? []), c.counts]);
    const worst = Math.min(...result.tiers.map((t) => (t.enough ? t.attainment : 1)));
    if (!closest || worst > closest.worst) closest = { candidate: c, result, worst };
  }
  const base = { traffic, prices, excluded, replays, candidates: candidates.length, options: opts, exhausted, traces: { planningS, validationS } };
  if (!found) {
    const cappedByMaxPerPool = !exhausted && (excluded.some((e) => e.byCap) || candidates.some((c) => c.counts.some((n) => n >= opts.maxPerPool)));
    const near = closest ? { plan: closest.candidate.plan, costPerHourUsd: closest.candidate.cost, planning: closest.result } : undefined;
    return { ...base, cappedByMaxPerPool, closest: near, plan: undefined, costPerHourUsd: NaN, planning: undefined, validation: undefined, headroom: 0, failsAtFactor: undefined };
  }
  const plan = found.candidate.plan;
  const validationSeed = opts.seed + 1_000;
  const validation = replay(plan, drawTrace(traffic, validationS, validationSeed), traffic.tiers, traffic.attainment, MIN_TIER_REQUESTS);
  let headroom = 0;
  let failsAtFactor: number | undefined;
  if (validation.met) {
    for (const f of HEADROOM_FACTORS) {
      const r = replay(plan, drawTrace(traffic, validationS, validationSeed, traffic.ratePerSecond * f), traffic.tiers, traffic.attainment, MIN_TIER_REQUESTS);
      if (!r.met) {
        failsAtFactor = f;
        break;
      }
      headroom = f - 1;
    }
  }
  return { ...base, cappedByMaxPerPool: false, closest: undefined, plan, costPerHourUsd: found.candidate.cost, planning: found.result, validation, headroom, failsAtFactor };
}
