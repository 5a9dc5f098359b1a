/**
 * The planner against a brute-force sweep: for each mix, `splitserve plan`'s recommendation for
 * the mix at the benchmark's `gpu` load point is replayed on the evaluation seed, and so is every
 * deployment of a grid (aggregated GPUs, and every prefill × decode profile pair, up to 16
 * replicas a pool) that costs no more than it. The check: the planner's goodput (requests meeting
 * their own tier's SLO per second) is within 5 % of the best the sweep finds at no more cost.
 */
import type { PoolPlan } from '../../planner/deployments.ts';
import { describePlan, planCost } from '../../planner/deployments.ts';
import { replay } from '../../planner/replay.ts';
import type { Recommendation } from '../../planner/search.ts';
import { DEFAULT_SHAPES, planDeployment } from '../../planner/search.ts';
import type { Tier, Traffic } from '../../planner/traffic.ts';
import { DEFAULT_TIERS, drawTrace, parseTraffic } from '../../planner/traffic.ts';
import { TIER_SLOS, offeredRate } from './experiment.ts';
import type { MixName } from './workloads.ts';
import { MIXES } from './workloads.ts';

/** The planner's goodput must be at least this share of the sweep's best at no more cost. */
export const PLANNER_TOLERANCE = 0.95;

/** One mix's check. */
export interface PlannerCheck {
  readonly mix: MixName;
  readonly traffic: Traffic;
  /** Why the tiers are what they are (all tiers, or the default tier alone when no plan met all). */
  readonly tiersNote: string;
  readonly recommendation: Recommendation;
  readonly plannerGoodput: number;
  readonly plannerMet: boolean;
  readonly best: { readonly plan: PoolPlan; readonly description: string; readonly cost: number; readonly goodput: number; readonly met: boolean } | undefined;
  readonly swept: number;
  /** plannerGoodput >= 0.95 × best goodput; undefined without a plan. */
  readonly pass: boolean | undefined;
}

/** Every grid deployment costing at most `budget`. */
export function sweepGrid(budget: number, prices: Recommendation['prices'], maxPerPool = 16): PoolPlan[] {
  const out: PoolPlan[] = [];
  for (const profile of DEFAULT_SHAPES.aggregated) {
    for (let n = 1; n <= 2 * maxPerPool; n++) {
      const plan: PoolPlan = { kind: 'aggregated', aggregated: { profile, count: n } };
      if (planCost(plan, prices) <= budget + 1e-9) out.push(plan);
    }
  }
  for (const pre of DEFAULT_SHAPES.prefill) {
    for (const dec of DEFAULT_SHAPES.decode) {
      for (let p = 1; p <= maxPerPool; p++) {
        for (let d = 1; d <= maxPerPool; d++) {
          const plan: PoolPlan = { kind: 'disaggregated', prefill: { profile: pre, count: p }, decode: { profile: dec, count: d } };
          if (planCost(plan, prices) <= budget + 1e-9) out.push(plan);
        }
      }
    }
  }
  return out;
}

/**
 * Runs the check for each mix (planner seeded with the tuning seed, everything measured on `seed`).
 *
 * @example
 * checkPlanner({ seed: 1, durationS: 20, units: 8, mixes: ['chat'] })[0].pass;
 */
export function checkPlanner(options: { readonly seed: number; readonly durationS: number; readonly units: number; readonly mixes: readonly MixName[] }): PlannerCheck[] {
  const out: PlannerCheck[] = [];
  for (const mix of options.mixes) {
    const rate = offeredRate('gpu', mix, options.units, options.seed + 2_000);
    let tiers: readonly Tier[] = DEFAULT_TIERS;
    let tiersNote = 'both tiers (20 % priority, 80 % default)';
    let traffic = parseTraffic({ ratePerSecond: rate, mix, tiers });
    let rec = planDeployment(traffic, { durationS: options.durationS, seed: options.seed + 1_000 });
    if (!rec.plan) {
      tiers = [{ name: 'default', share: 1, ...TIER_SLOS.default }];
      tiersNote = `default tier alone (no plan met the priority tier: best ${describeClosest(rec)})`;
      traffic = parseTraffic({ ratePerSecond: rate, mix, tiers });
      rec = planDeployment(traffic, { durationS: options.durationS, seed: options.seed + 1_000 });
    }
    const trace = drawTrace(traffic, options.durationS, options.seed);
    if (!rec.plan) {
      out.push({ mix, traffic, tiersNote, recommendation: rec, plannerGoodput: 0, plannerMet: false, best: undefined, swept: 0, pass: undefined });
      continue;
    }
    const mine = replay(rec.plan, trace, traffic.tiers, traffic.attainment);
    let best: PlannerCheck['best'];
    const grid = sweepGrid(rec.costPerHourUsd, rec.prices);
    for (const plan of grid) {
      const r = replay(plan, trace, traffic.tiers, traffic.attainment);
      if (!best || r.goodput > best.goodput) best = { plan, description: describePlan(plan), cost: planCost(plan, rec.prices), goodput: r.goodput, met: r.met };
    }
    out.push({ mix, traffic, tiersNote, recommendation: rec, plannerGoodput: mine.goodput, plannerMet: mine.met, best, swept: grid.length, pass: best ? mine.goodput >= PLANNER_TOLERANCE * best.goodput - 1e-9 : true });
  }
  return out;
}

function describeClosest(rec: Recommendation): string {
  if (!rec.closest) {
    const why = rec.excluded.find((e) => e.shape === 'pd:trainium-prefill>cerebras-decode') ?? rec.excluded[0];
    return why ? `every shape ruled out before replay, e.g. ${why.shape}: ${why.reason}` : 'none replayed';
  }
  const worst = rec.closest.planning.tiers.reduce((a, b) => (a.attainment <= b.attainment ? a : b));
  return `${describePlan(rec.closest.plan)}, ${worst.tier} ${(worst.attainment * 100).toFixed(1)} %`;
}

/** The checks as text lines. */
export function formatPlannerChecks(checks: readonly PlannerCheck[]): string[] {
  if (checks.length === 0) return [];
  const lines = [`planner vs sweep: splitserve plan's pick against every grid deployment costing no more (goodput = req/s meeting their own tier's SLO, evaluation seed; PASS = within ${Math.round((1 - PLANNER_TOLERANCE) * 100)} % of the best)`];
  for (const c of checks) {
    const r = c.recommendation;
    lines.push(`  ${MIXES[c.mix].label} at ${c.traffic.ratePerSecond.toFixed(1)} req/s, ${c.tiersNote}:`);
    if (!r.plan) {
      lines.push(`    planner: no plan meets the tiers at ${(c.traffic.attainment * 100).toFixed(0)} % attainment (closest: ${describeClosest(r)}); nothing to compare`);
      continue;
    }
    lines.push(`    planner: ${describePlan(r.plan)}, $${r.costPerHourUsd.toFixed(2)}/h, goodput ${c.plannerGoodput.toFixed(2)} req/s, SLO ${c.plannerMet ? 'met' : 'MISSED'}; validation (its own seed) ${r.validation?.met ? 'met' : 'MISSED'}, headroom ${(r.headroom * 100).toFixed(0)} %`);
    if (c.best) {
      lines.push(
        `    sweep:   best of ${c.swept} at <= $${r.costPerHourUsd.toFixed(2)}/h: ${c.best.description}, $${c.best.cost.toFixed(2)}/h, goodput ${c.best.goodput.toFixed(2)} req/s -> planner at ${((c.plannerGoodput / Math.max(c.best.goodput, 1e-9)) * 100).toFixed(1)} %: ${c.pass ? 'PASS' : 'MISS'}`,
      );
    }
  }
  return lines;
}
