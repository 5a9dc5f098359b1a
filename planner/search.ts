/**
 * The planner's search: for each pool shape (one aggregated profile, or a prefill profile and a
 * decode profile), bound the replica counts from an analytic capacity estimate (capacity.ts: full
 * batch, no queueing), drop shapes whose decode cannot meet a tier's TPOT even alone, then replay
 * candidates in virtual time, cheapest first, until one meets every tier's SLO attainment on a
 * planning trace drawn at the rate plus a safety margin. That plan is then replayed on a fresh
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
import { replay } from './replay.ts';
import type { Traffic } from './traffic.ts';
import { drawTrace } from './traffic.ts';

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
   * to hold about 2,000 requests at low rates, and to five full-batch request times of the
   * slowest decode allowed (at most an hour). @default 60
   */
  readonly durationS?: number;
  /** Planning seed; validation uses seed + 1000. @default 1 */
  readonly seed?: number;
  /** Plans must meet the SLOs at rate × (1 + margin) on the planning trace. @default 0.1 */
  readonly margin?: number;
  readonly shapes?: ShapeChoices;
  /** Most replicas in one pool. @default 128 */
  readonly maxPerPool?: number;
  /** Most planning replays. @default 400 */
  readonly maxReplays?: number;
}

/** A shape left out before any replay, and why. */
export interface ExcludedShape {
  readonly shape: string;
  readonly reason: string;
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
      excluded.push({ shape: shapeOf(plan0), reason: `needs at least ${lo} replicas (more than ${maxPerPool})` });
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
        excluded.push({ shape: shapeOf(plan0), reason: `needs at least ${pLo} prefill and ${dLo} decode replicas (cap ${maxPerPool} per pool)` });
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
    maxPerPool: options.maxPerPool ?? 128,
    maxReplays: options.maxReplays ?? 400,
    shapes: options.shapes ?? DEFAULT_SHAPES,
  };
  const prices = priceTable(traffic.prices);
  // At low rates a short trace holds few requests and its attainment is noise: at least ~2,000.
  const sample = drawTrace(traffic, Math.max(20, 2_000 / traffic.ratePerSecond), opts.seed + 2_000).requests;
  // A trace must outlast its requests many times over to show a queue building: at least five
  // full-batch slot times of the slowest decode the shapes allow.
  const settleS = Math.max(...[...opts.shapes.aggregated, ...opts.shapes.decode].map((name) => (5 * meanSlotMs(PROFILES[name], 'decode-remote', sample)) / 1000));
  const planningS = Math.min(3_600, Math.max(opts.durationS / 2, 2_000 / traffic.ratePerSecond, settleS));
  const validationS = Math.min(3_600, Math.max(opts.durationS, 2_000 / traffic.ratePerSecond, settleS));
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
    const result = replay(c.plan, planningTrace, traffic.tiers, traffic.attainment);
    if (result.met) {
      found = { candidate: c, result };
      break;
    }
    failures.set(c.shape, [...(failures.get(c.shape) ?? []), c.counts]);
    const worst = Math.min(...result.tiers.map((t) => (t.requests === 0 ? 1 : t.attainment)));
    if (!closest || worst > closest.worst) closest = { candidate: c, result, worst };
  }
  const base = { traffic, prices, excluded, replays, candidates: candidates.length, options: opts, exhausted, traces: { planningS, validationS } };
  if (!found) {
    const near = closest ? { plan: closest.candidate.plan, costPerHourUsd: closest.candidate.cost, planning: closest.result } : undefined;
    return { ...base, closest: near, plan: undefined, costPerHourUsd: NaN, planning: undefined, validation: undefined, headroom: 0, failsAtFactor: undefined };
  }
  const plan = found.candidate.plan;
  const validationSeed = opts.seed + 1_000;
  const validation = replay(plan, drawTrace(traffic, validationS, validationSeed), traffic.tiers, traffic.attainment);
  let headroom = 0;
  let failsAtFactor: number | undefined;
  if (validation.met) {
    for (const f of HEADROOM_FACTORS) {
      const r = replay(plan, drawTrace(traffic, validationS, validationSeed, traffic.ratePerSecond * f), traffic.tiers, traffic.attainment);
      if (!r.met) {
        failsAtFactor = f;
        break;
      }
      headroom = f - 1;
    }
  }
  return { ...base, closest: undefined, plan, costPerHourUsd: found.candidate.cost, planning: found.result, validation, headroom, failsAtFactor };
}
