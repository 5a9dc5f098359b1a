/**
 * Goodput at equal hardware and at equal cost, measured as DistServe does: the highest request
 * rate a deployment sustains with at least 90 % of the requests meeting the default tier's SLO
 * (its "SLO capacity"), found by bisection on Poisson traces. Equal hardware: N GPUs aggregated against the same
 * N GPUs split into a prefill pool and a decode pool (GPU-only P/D, DistServe's comparison; the
 * replica model's prefill-decode stall is what separates them). Equal cost: the same budget
 * (N GPU-hours) spent on Trainium prefill + Cerebras decode, at the profiles' prices
 * (sim/profiles.ts), with the break-even Cerebras price at which it matches the best GPU option's
 * goodput per dollar. Each deployment is picked on the tuning seed and measured on the evaluation
 * seed, as the rest of the benchmark.
 */
import type { SimProfileName } from '../../sim/profiles.ts';
import { PROFILES } from '../../sim/profiles.ts';
import type { PoolPlan } from '../../planner/deployments.ts';
import { describePlan, planCost, priceTable, toClusterRun } from '../../planner/deployments.ts';
import { replicaCapacity } from './capacity.ts';
import { runDeployment } from './cluster.ts';
import { TIER_SLOS } from './experiment.ts';
import type { RunScore } from './metrics.ts';
import { scoreRun } from './metrics.ts';
import type { MixName } from './workloads.ts';
import { MIXES, generateRequests } from './workloads.ts';

/** Share of requests that must meet the default tier's SLO for a rate to count (DistServe's 90 %). */
export const CAPACITY_ATTAINMENT = 0.9;

/** One deployment in the comparison. */
export interface CostRow {
  readonly mix: MixName;
  readonly label: 'aggregated GPU' | 'GPU P/D' | 'Trainium + Cerebras';
  readonly plan: PoolPlan;
  readonly description: string;
  readonly costPerHourUsd: number;
  /** Highest rate (req/s) with >= 90 % default-tier attainment, evaluation seed. */
  readonly sloCapacity: number;
  /** Default-tier scores at that rate (evaluation seed). */
  readonly atCapacity: RunScore;
  /** SLO capacity per replica. */
  readonly perReplica: number;
  /** Requests served within the SLO per dollar at capacity (capacity × 3600 / cost). */
  readonly requestsPerDollar: number;
}

/** Per mix: the rows and the break-even Cerebras price. */
export interface CostComparison {
  readonly mix: MixName;
  readonly units: number;
  readonly budgetPerHourUsd: number;
  readonly rows: readonly CostRow[];
  /**
   * Hourly price of a Cerebras replica at which the best Trainium + Cerebras split of N replicas
   * serves as many requests per dollar (at SLO capacity) as the best GPU deployment; null when the
   * GPUs sustain no rate (any price breaks even), at most 0 when no price does.
   */
  readonly breakEvenCs3PerHourUsd: number | null;
}

/** Options of {@link compareAtEqualCost}. */
export interface EqualCostOptions {
  readonly seed: number;
  readonly durationS: number;
  readonly units: number;
  readonly mixes: readonly MixName[];
  /** Most Trainium replicas tried at equal cost. @default 48 */
  readonly maxPrefill?: number;
}

/** Default-tier score of `plan` on `mix` at `rate` over `durationS` (first tenth not scored). */
function scoreAt(plan: PoolPlan, mix: MixName, rate: number, durationS: number, seed: number): RunScore {
  const { deployment, profiles } = toClusterRun(plan);
  const outcomes = runDeployment(deployment, generateRequests(MIXES[mix], rate, durationS * 1000, seed), profiles);
  return scoreRun(outcomes, TIER_SLOS.default, durationS * 100, durationS * 1000);
}

/** A rate bound no deployment of `plan` can pass: twice the analytic full-batch capacity. */
function upperRate(plan: PoolPlan, mix: MixName, seed: number): number {
  const sample = generateRequests(MIXES[mix], 1000, 5_000, seed + 3_000);
  if (plan.kind === 'aggregated') return 2 * plan.aggregated.count * replicaCapacity(PROFILES[plan.aggregated.profile], 'aggregated', sample);
  const pre = plan.prefill.count * replicaCapacity(PROFILES[plan.prefill.profile], 'prefill', sample);
  const dec = plan.decode.count * replicaCapacity(PROFILES[plan.decode.profile], 'decode-remote', sample);
  return 2 * Math.min(pre, dec);
}

/**
 * The highest rate at which `plan` keeps >= 90 % of the requests within the default tier's SLO,
 * bisected to 1 % of the bound (the same seed at every rate, so the search sees one trace family).
 *
 * @example
 * sloCapacity({ kind: 'aggregated', aggregated: { profile: 'gpu-aggregated', count: 8 } }, 'chat', 20, 1);
 */
export function sloCapacity(plan: PoolPlan, mix: MixName, durationS: number, seed: number): number {
  let hi = upperRate(plan, mix, seed);
  let lo = 0;
  const passes = (rate: number) => scoreAt(plan, mix, rate, durationS, seed).attainment >= CAPACITY_ATTAINMENT;
  while (hi - lo > Math.max(0.05, hi * 0.01)) {
    const mid = (lo + hi) / 2;
    if (passes(mid)) lo = mid;
    else hi = mid;
  }
  return lo;
}

const pd = (pre: SimProfileName, p: number, dec: SimProfileName, d: number): PoolPlan => ({ kind: 'disaggregated', prefill: { profile: pre, count: p }, decode: { profile: dec, count: d } });

/**
 * Runs the equal-hardware and equal-cost comparison per mix (see the module comment).
 *
 * @example
 * compareAtEqualCost({ seed: 1, durationS: 20, units: 8, mixes: ['chat'] });
 */
export function compareAtEqualCost(options: EqualCostOptions): CostComparison[] {
  const { seed, durationS, units } = options;
  const prices = priceTable();
  const tuningS = durationS / 2;
  const tuningSeed = seed + 1_000;
  const out: CostComparison[] = [];
  for (const mix of options.mixes) {
    const budget = units * prices['gpu-aggregated'];
    /** The plan with the highest tuning-seed SLO capacity (cheaper first on ties); stops after 3 plans without a gain when `early`. */
    const pick = (plans: readonly PoolPlan[], early = false) => {
      let best: { plan: PoolPlan; cap: number } | undefined;
      let since = 0;
      for (const plan of plans) {
        const cap = sloCapacity(plan, mix, tuningS, tuningSeed);
        if (!best || cap > best.cap * 1.001) {
          best = { plan, cap };
          since = 0;
        } else if (early && ++since >= 3) break;
      }
      return best!.plan;
    };
    const row = (label: CostRow['label'], plan: PoolPlan): CostRow => {
      const cap = sloCapacity(plan, mix, durationS, seed);
      const cost = planCost(plan, prices);
      const replicas = plan.kind === 'aggregated' ? plan.aggregated.count : plan.prefill.count + plan.decode.count;
      return { mix, label, plan, description: describePlan(plan), costPerHourUsd: cost, sloCapacity: cap, atCapacity: scoreAt(plan, mix, Math.max(cap, 0.01), durationS, seed), perReplica: cap / replicas, requestsPerDollar: (cap * 3600) / cost };
    };
    const splits = Array.from({ length: units - 1 }, (_, i) => i + 1);
    const rows: CostRow[] = [
      row('aggregated GPU', { kind: 'aggregated', aggregated: { profile: 'gpu-aggregated', count: units } }),
      row('GPU P/D', pick(splits.map((p) => pd('gpu-aggregated', p, 'gpu-aggregated', units - p)))),
    ];
    const trn = prices['trainium-prefill'];
    const cs3 = prices['cerebras-decode'];
    const byDecode: PoolPlan[] = [];
    for (let d = 1; d * cs3 + trn <= budget + 1e-9; d++) {
      const maxP = Math.min(options.maxPrefill ?? 48, Math.floor((budget - d * cs3) / trn + 1e-9));
      byDecode.push(pick(Array.from({ length: maxP }, (_, i) => pd('trainium-prefill', i + 1, 'cerebras-decode', d)), true));
    }
    if (byDecode.length > 0) rows.push(row('Trainium + Cerebras', pick(byDecode)));
    const gpuBest = Math.max(...rows.filter((r) => r.label !== 'Trainium + Cerebras').map((r) => r.requestsPerDollar));
    let breakEven: number | null = null;
    if (gpuBest > 0) {
      breakEven = -Infinity;
      for (const p of splits) {
        const capacity = sloCapacity(pd('trainium-prefill', p, 'cerebras-decode', units - p), mix, durationS, seed);
        // capacity × 3600 / (p × trn + d × X) = gpuBest  →  X = (capacity × 3600 / gpuBest − p × trn) / d
        breakEven = Math.max(breakEven, ((capacity * 3600) / gpuBest - p * trn) / (units - p));
      }
    }
    out.push({ mix, units, budgetPerHourUsd: budget, rows, breakEvenCs3PerHourUsd: breakEven });
  }
  return out;
}

const fmt = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

/** The comparison as text lines. */
export function formatEqualCost(comparisons: readonly CostComparison[]): string[] {
  if (comparisons.length === 0) return [];
  const c0 = comparisons[0]!;
  const lines = [
    `equal hardware (${c0.units} x H100) and equal cost ($${c0.budgetPerHourUsd.toFixed(2)}/h = ${c0.units} GPU-hours): SLO capacity = highest rate (req/s) with >= ${CAPACITY_ATTAINMENT * 100}% of requests within the default tier's SLO (TTFT <= ${TIER_SLOS.default.ttftMs} ms, TPOT <= ${TIER_SLOS.default.tpotMs} ms)`,
    `prices: ${Object.values(PROFILES).map((p) => `${p.name} $${p.costPerHourUsd.toFixed(2)}/h (${p.costBasis})`).join('; ')}`,
  ];
  for (const c of comparisons) {
    lines.push(`  ${MIXES[c.mix].label}:`);
    for (const r of c.rows) {
      lines.push(
        `    ${r.label.padEnd(20)} ${r.description.padEnd(46)} $${r.costPerHourUsd.toFixed(2).padStart(6)}/h  SLO capacity ${r.sloCapacity.toFixed(1).padStart(7)} req/s (${r.perReplica.toFixed(2)} per replica)  TTFT p99 ${fmt(r.atCapacity.ttftP99, 0).padStart(5)} ms  TPOT p99 ${fmt(r.atCapacity.tpotP99, 1).padStart(5)} ms  req/$ ${r.requestsPerDollar.toFixed(0).padStart(6)}`,
      );
    }
    const be = c.breakEvenCs3PerHourUsd;
    lines.push(
      `    break-even Cerebras price: ${be === null ? 'any (the GPU deployments sustain no rate within the SLO)' : be <= 0 ? 'none (even free, Trainium + Cerebras serves fewer requests per dollar)' : be > 1_000 ? `above $1,000/h (the GPUs sustain almost no rate within the SLO)` : `$${be.toFixed(2)}/h per CS-3 replica (assumed: $${PROFILES['cerebras-decode'].costPerHourUsd.toFixed(2)})`}`,
    );
  }
  return lines;
}
