/**
 * The goodput experiment: for each load point and mix, pick each strategy's deployment on a
 * tuning seed (prefill:decode split, and for conditional disaggregation its two thresholds), then
 * measure the chosen deployments on the evaluation seed. All three strategies get the same number
 * of replicas ("units"); picking on one seed and reporting on another keeps the sweep from
 * grading its own homework.
 */
import type { ConditionalRoute } from '../../lambda/routing/conditional-disaggregation.ts';
import { disaggregatedCapacity, replicaCapacity } from './capacity.ts';
import type { Deployment, StrategyName } from './cluster.ts';
import { DEFAULT_PROFILES, STRATEGIES, runDeployment } from './cluster.ts';
import type { RunScore, Slo } from './metrics.ts';
import { scoreRun } from './metrics.ts';
import type { MixName, SimRequest } from './workloads.ts';
import { MIXES, MIX_NAMES, generateRequests } from './workloads.ts';

/** Tier SLOs of docs/configuration.md (the config's `slo`): what goodput counts against. */
export const TIER_SLOS = {
  priority: { ttftMs: 300, tpotMs: 5 },
  default: { ttftMs: 1000, tpotMs: 50 },
} as const satisfies Record<string, Slo>;
export type SloName = keyof typeof TIER_SLOS;

/**
 * Offered-load points, each a fraction of an analytic capacity (capacity.ts) that depends on no
 * strategy's simulated result: `disagg` loads the best disaggregated split to 80 %; `gpu` loads
 * the all-GPU deployment to 80 %.
 */
export const LOAD_POINTS = {
  disagg: { label: '0.8 x disaggregated capacity', fraction: 0.8 },
  gpu: { label: '0.8 x aggregated-GPU capacity', fraction: 0.8 },
} as const;
export type LoadName = keyof typeof LOAD_POINTS;

/** `localPrefillBelowTokens` candidates of the conditional sweep (0 = never by length). */
export const THRESHOLD_CANDIDATES = [0, 128, 256, 512] as const;
/** `maxPrefillQueue` candidates, as multiples of the prefill pool's slots (undefined = no bound). */
export const QUEUE_FACTOR_CANDIDATES = [undefined, 1, 2] as const;

/** Options of {@link runExperiment}. */
export interface ExperimentOptions {
  readonly seed: number;
  /** Virtual seconds of arrivals per run. */
  readonly durationS: number;
  /** Replicas per deployment. */
  readonly units: number;
  readonly mixes?: readonly MixName[];
  readonly loads?: readonly LoadName[];
}

/** One strategy on one mix at one load, measured on the evaluation seed. */
export interface Cell {
  readonly load: LoadName;
  readonly mix: MixName;
  readonly ratePerSecond: number;
  readonly strategy: StrategyName;
  readonly deployment: Deployment;
  readonly scores: Readonly<Record<SloName, RunScore>>;
}

/** Tuning-seed goodput of a split, always-disaggregated vs the best conditional route there. */
export interface SplitRow {
  readonly load: LoadName;
  readonly mix: MixName;
  readonly prefill: number;
  readonly decode: number;
  readonly disaggregated: number;
  readonly conditional: number;
  readonly conditionalRoute: ConditionalRoute;
}

/**
 * A deployment picked for one mix (`tunedOn`) serving another (`mix`), at the served mix's rate:
 * pools are sized for yesterday's traffic until the next plan, and a route's thresholds with them.
 */
export interface ShiftCell {
  readonly load: LoadName;
  readonly tunedOn: MixName;
  readonly mix: MixName;
  readonly ratePerSecond: number;
  readonly strategy: StrategyName;
  readonly deployment: Deployment;
  readonly scores: Readonly<Record<SloName, RunScore>>;
}

/** What {@link runExperiment} returns. */
export interface ExperimentResult {
  readonly seed: number;
  readonly tuningSeed: number;
  readonly durationS: number;
  /** Virtual seconds of each tuning run. */
  readonly tuningDurationS: number;
  readonly warmupS: number;
  readonly units: number;
  readonly cells: readonly Cell[];
  readonly splits: readonly SplitRow[];
  /** Every mix served by the deployments picked for each other mix (evaluation seed). */
  readonly shifts: readonly ShiftCell[];
}

/** Warm-up left out of the scores: a tenth of the run. */
function windowOf(durationS: number): { readonly fromMs: number; readonly toMs: number } {
  return { fromMs: durationS * 100, toMs: durationS * 1000 };
}

function scoreAll(deployment: Deployment, requests: readonly SimRequest[], durationS: number): Record<SloName, RunScore> {
  const outcomes = runDeployment(deployment, requests);
  const { fromMs, toMs } = windowOf(durationS);
  return { priority: scoreRun(outcomes, TIER_SLOS.priority, fromMs, toMs), default: scoreRun(outcomes, TIER_SLOS.default, fromMs, toMs) };
}

/** Priority-tier goodput first, default-tier goodput on ties; earlier (simpler) candidates win exact ties. */
function better(a: Record<SloName, RunScore>, b: Record<SloName, RunScore> | undefined): boolean {
  if (!b) return true;
  if (a.priority.goodput !== b.priority.goodput) return a.priority.goodput > b.priority.goodput;
  return a.default.goodput > b.default.goodput;
}

/** Candidate deployments of a strategy with `units` replicas, simplest first. */
export function candidates(strategy: StrategyName, units: number, prefillSlots: number): Deployment[] {
  if (strategy === 'aggregated') return [{ strategy, gpu: units, prefill: 0, decode: 0, route: {} }];
  const out: Deployment[] = [];
  for (let p = 1; p < units; p++) {
    if (strategy === 'disaggregated') {
      out.push({ strategy, gpu: 0, prefill: p, decode: units - p, route: {} });
      continue;
    }
    for (const below of THRESHOLD_CANDIDATES) {
      for (const factor of QUEUE_FACTOR_CANDIDATES) {
        const route: ConditionalRoute = { localPrefillBelowTokens: below, ...(factor === undefined ? {} : { maxPrefillQueue: factor * p * prefillSlots }) };
        out.push({ strategy, gpu: 0, prefill: p, decode: units - p, route });
      }
    }
  }
  return out;
}

/** Offered rate (req/s) of a load point for a mix. */
export function offeredRate(load: LoadName, mix: MixName, units: number, seed: number): number {
  const sample = generateRequests(MIXES[mix], 1000, 20_000, seed);
  const capacity = load === 'disagg' ? disaggregatedCapacity(units, sample) : units * replicaCapacity(DEFAULT_PROFILES.gpu, 'aggregated', sample);
  return Math.round(LOAD_POINTS[load].fraction * capacity * 10) / 10;
}

/**
 * Runs the whole experiment (pure and deterministic: same options, same result).
 *
 * @example
 * const result = runExperiment({ seed: 1, durationS: 60, units: 8 });
 */
export function runExperiment(options: ExperimentOptions): ExperimentResult {
  const { seed, durationS, units } = options;
  const tuningSeed = seed + 1_000;
  /** The sweep runs on half the duration (it is most of the work). */
  const tuningS = durationS / 2;
  const cells: Cell[] = [];
  const splits: SplitRow[] = [];
  for (const load of options.loads ?? (Object.keys(LOAD_POINTS) as LoadName[])) {
    for (const mix of options.mixes ?? MIX_NAMES) {
      const rate = offeredRate(load, mix, units, seed + 2_000);
      const tuning = generateRequests(MIXES[mix], rate, tuningS * 1000, tuningSeed);
      const evaluation = generateRequests(MIXES[mix], rate, durationS * 1000, seed);
      const bySplit = new Map<number, { disaggregated: number; conditional: number; conditionalRoute: ConditionalRoute }>();
      for (const strategy of STRATEGIES) {
        let best: { deployment: Deployment; scores: Record<SloName, RunScore> } | undefined;
        for (const deployment of candidates(strategy, units, DEFAULT_PROFILES.prefill.maxBatch)) {
          const scores = scoreAll(deployment, tuning, tuningS);
          if (better(scores, best?.scores)) best = { deployment, scores };
          if (strategy !== 'aggregated') {
            const row = bySplit.get(deployment.prefill) ?? { disaggregated: 0, conditional: -1, conditionalRoute: {} };
            if (strategy === 'disaggregated') row.disaggregated = scores.priority.goodput;
            else if (scores.priority.goodput > row.conditional) Object.assign(row, { conditional: scores.priority.goodput, conditionalRoute: deployment.route });
            bySplit.set(deployment.prefill, row);
          }
        }
        cells.push({ load, mix, ratePerSecond: rate, strategy, deployment: best!.deployment, scores: scoreAll(best!.deployment, evaluation, durationS) });
      }
      for (const [prefill, row] of bySplit) splits.push({ load, mix, prefill, decode: units - prefill, ...row });
    }
  }
  const shifts: ShiftCell[] = [];
  for (const served of cells.filter((c) => c.strategy === STRATEGIES[0])) {
    const evaluation = generateRequests(MIXES[served.mix], served.ratePerSecond, durationS * 1000, seed);
    for (const picked of cells.filter((c) => c.load === served.load && c.mix !== served.mix)) {
      shifts.push({ load: served.load, tunedOn: picked.mix, mix: served.mix, ratePerSecond: served.ratePerSecond, strategy: picked.strategy, deployment: picked.deployment, scores: scoreAll(picked.deployment, evaluation, durationS) });
    }
  }
  return { seed, tuningSeed, durationS, tuningDurationS: tuningS, warmupS: durationS / 10, units, cells, splits, shifts };
}
