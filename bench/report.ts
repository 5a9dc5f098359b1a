/**
 * Bench figures: per-batch figures → medians over rounds → every path against the bare pipe; the
 * printed tables, the PASS/MISS lines and the JSON file.
 *
 * A "path" is a target and, for a gateway target, the admission mode of the tenant the batch ran
 * as (`lambda exact`, `stack none`, …); direct, the pipe and the toy proxy have no admission.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { AdmissionMode, BenchOptions, Route, TargetName } from './cli-options.ts';
import type { ErrorCounts } from './load-generator.ts';
import { median } from './stats.ts';

/** Figures of one measured batch. */
export interface BatchFigures {
  readonly round: number;
  readonly route: Route;
  readonly concurrency: number;
  readonly target: TargetName;
  /** The admission mode of the tenant the batch ran as; `null` for direct, the pipe and the toy proxy. */
  readonly admission: AdmissionMode | null;
  readonly requests: number;
  readonly completed: number;
  readonly errors: ErrorCounts;
  readonly errorSamples: readonly string[];
  readonly ttftP50Ms: number;
  readonly ttftP99Ms: number;
  readonly totalP50Ms: number;
  readonly totalP99Ms: number;
  readonly throughputRps: number;
  /** CPU ms of the target's process tree during the batch; `null` for direct (no process between). */
  readonly cpuMs: number | null;
  /** {@link BatchFigures.cpuMs} per completed request. */
  readonly cpuMsPerRequest: number | null;
  /**
   * CPU ms of the gateway's DynamoDB-compatible store (`splitserve store`, its own process, the
   * local stand-in for DynamoDB) during the batch; `null` for the other targets.
   */
  readonly storeCpuMs: number | null;
  readonly wallMs: number;
}

/** Medians over rounds for one (route, concurrency, path). */
export interface CellFigures {
  readonly route: Route;
  readonly concurrency: number;
  readonly target: TargetName;
  readonly admission: AdmissionMode | null;
  readonly rounds: number;
  readonly requestsPerRound: number;
  readonly completed: number;
  readonly failed: number;
  readonly ttftP50Ms: number;
  readonly ttftP99Ms: number;
  readonly totalP50Ms: number;
  readonly throughputRps: number;
  /** Median over rounds of the per-batch CPU ms per request. */
  readonly cpuMsPerRequest: number | null;
  /** All rounds' CPU ms over all rounds' completed requests (finer than one batch's clock ticks). */
  readonly cpuMsPerRequestPooled: number | null;
  /** The store's CPU ms over all rounds' completed requests; `null` without a store. */
  readonly storeCpuMsPerRequestPooled: number | null;
}

/** One path against the bare pipe for one (route, concurrency). */
export interface Comparison {
  readonly route: Route;
  readonly concurrency: number;
  readonly target: TargetName;
  readonly admission: AdmissionMode | null;
  /** path − pipe TTFT p50, ms: the difference of the two medians over rounds. */
  readonly deltaTtftP50Ms: number;
  /**
   * path − pipe TTFT p50, ms, paired: the median over pairs of rounds of the mean of the two
   * rounds' own differences (see {@link pairedDeltaTtftP50}). The verdict uses this one.
   */
  readonly deltaTtftP50PairedMs: number;
  /** path / pipe TTFT p99 (medians over rounds). */
  readonly ttftP99Ratio: number;
  /** path / pipe CPU ms per request of the path's own process tree (medians over rounds). */
  readonly cpuRatio: number;
  /** path / pipe CPU ms per request, pooled over all rounds (finer-grained). */
  readonly cpuRatioPooled: number;
  /** path / pipe throughput. */
  readonly throughputRatio: number;
  /** (path + its store) / pipe CPU ms per request, pooled: everything that runs on this machine. */
  readonly cpuRatioWithStorePooled: number;
}

/** The targets are checked at this concurrency, with this admission mode (what a tenant with limits gets). */
export const TARGET_CONCURRENCY = 16;
export const TARGET_ADMISSION: AdmissionMode = 'exact';
/** The Lambda handler path against the bare pipe: added TTFT p50 (ms) and CPU ratio. */
export const MAX_DELTA_TTFT_P50_MS = 1;
export const MAX_CPU_RATIO = 2;
/** The compass goal for the same two figures, printed as information. */
export const GOAL_DELTA_TTFT_P50_MS = 0.5;
export const GOAL_CPU_RATIO = 1.5;
/** `npm start`'s stack on prefill → decode: at least this times the toy proxy's throughput… */
export const MIN_TOY_THROUGHPUT_RATIO = 2;
/** …and a TTFT p99 at most this times the bare relay's. */
export const MAX_P99_RATIO = 2;

/** Everything a run produced, as written to JSON. */
export interface BenchReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly options: BenchOptions;
  readonly environment: { readonly node: string; readonly platform: string; readonly cpus: number; readonly clockTicks: number; readonly backend: string };
  readonly targets: readonly TargetName[];
  readonly notes: readonly string[];
  /** Why the toy proxy was not measured; `undefined` when it was. */
  readonly toyNotMeasured?: string;
  readonly warmup: readonly BatchFigures[];
  readonly batches: readonly BatchFigures[];
  readonly cells: readonly CellFigures[];
  readonly comparisons: readonly Comparison[];
  readonly checks: readonly TargetCheck[];
  /** Failed requests over the whole run, warm-up included. */
  readonly failedRequests: number;
}

/** One target of the issue, checked: `pass` is `null` when a figure it needs was not measured. */
export interface TargetCheck {
  readonly route: Route;
  readonly target: TargetName;
  readonly what: string;
  readonly pass: boolean | null;
  /** The figure and the bound, or why there is no figure. */
  readonly detail: string;
  /** Information only (the compass goal): not a target. */
  readonly info: boolean;
}

/** The name of a path: the target, and the admission mode for a gateway target. */
export function pathLabel(p: { readonly target: TargetName; readonly admission: AdmissionMode | null }): string {
  return p.admission === null ? p.target : `${p.target} ${p.admission}`;
}

/** Sum of every error kind. */
export function failedCount(errors: ErrorCounts): number {
  return errors.status + errors.errorEvent + errors.missingDone + errors.noContent + errors.network;
}

/** Medians over the rounds of each (route, concurrency, path), in the order of their first batch. */
export function cellsOf(batches: readonly BatchFigures[]): CellFigures[] {
  const groups = new Map<string, BatchFigures[]>();
  for (const b of batches) {
    const key = `${b.route}|${b.concurrency}|${pathLabel(b)}`;
    const g = groups.get(key);
    if (g) g.push(b); else groups.set(key, [b]);
  }
  return [...groups.values()].map((g) => {
    const first = g[0] as BatchFigures;
    const cpu = g.map((b) => b.cpuMsPerRequest).filter((v): v is number => v !== null);
    const completed = g.reduce((n, b) => n + b.completed, 0);
    return {
      route: first.route,
      concurrency: first.concurrency,
      target: first.target,
      admission: first.admission,
      rounds: g.length,
      requestsPerRound: first.requests,
      completed,
      failed: g.reduce((n, b) => n + failedCount(b.errors), 0),
      ttftP50Ms: median(g.map((b) => b.ttftP50Ms)),
      ttftP99Ms: median(g.map((b) => b.ttftP99Ms)),
      totalP50Ms: median(g.map((b) => b.totalP50Ms)),
      throughputRps: median(g.map((b) => b.throughputRps)),
      cpuMsPerRequest: cpu.length > 0 ? median(cpu) : null,
      cpuMsPerRequestPooled: first.cpuMs === null ? null : g.reduce((n, b) => n + (b.cpuMs ?? 0), 0) / completed,
      storeCpuMsPerRequestPooled: first.storeCpuMs === null ? null : g.reduce((n, b) => n + (b.storeCpuMs ?? 0), 0) / completed,
    };
  });
}

const isPath = (p: { readonly target: TargetName; readonly admission: AdmissionMode | null }) => (b: { readonly target: TargetName; readonly admission: AdmissionMode | null }) =>
  b.target === p.target && b.admission === p.admission;

/**
 * path − pipe TTFT p50 for one (route, concurrency), compared within rounds: each round's
 * difference, the mean of rounds 1 and 2, 3 and 4, and so on, and the median of those means (a
 * round whose partner did not run counts alone); NaN when no round has both.
 *
 * - Within a round: the two batches run in the same stretch of time, while the machine's speed
 *   drifts between rounds (the anchor's own TTFT p50 at 16 streams spanned about 2x over one run
 *   on the shared 2-core machine). The difference of the two medians over rounds can take them
 *   from different rounds, and so compares two machine states as well as two paths.
 * - Pairs of rounds: the order of the paths is reversed every other round (`roundOrder` in
 *   bench/run.ts), and a batch's place in the round shifts its figures (the later of two
 *   back-to-back batches ran faster: at 16 streams, over 8 runs, by about 0.1 ms aggregated and
 *   0.35 ms prefill → decode). Averaging an odd round with the next even one cancels that; a plain
 *   median of the rounds' differences would land anywhere between the two places' clusters.
 */
export function pairedDeltaTtftP50(
  batches: readonly BatchFigures[],
  route: Route,
  concurrency: number,
  path: { readonly target: TargetName; readonly admission: AdmissionMode | null },
): number {
  const here = (b: BatchFigures) => b.route === route && b.concurrency === concurrency;
  const pipeByRound = new Map<number, number>();
  for (const b of batches) if (b.target === 'pipe' && here(b)) pipeByRound.set(b.round, b.ttftP50Ms);
  const byPair = new Map<number, number[]>();
  for (const b of batches) {
    if (!isPath(path)(b) || !here(b)) continue;
    const pipe = pipeByRound.get(b.round);
    if (pipe === undefined) continue;
    const pair = Math.ceil(b.round / 2);
    const deltas = byPair.get(pair);
    if (deltas) deltas.push(b.ttftP50Ms - pipe); else byPair.set(pair, [b.ttftP50Ms - pipe]);
  }
  return median([...byPair.values()].map((d) => d.reduce((a, x) => a + x, 0) / d.length));
}

/** Every path but direct and the pipe against the pipe, for every (route, concurrency) where both ran. */
export function comparisonsOf(cells: readonly CellFigures[], batches: readonly BatchFigures[]): Comparison[] {
  const out: Comparison[] = [];
  for (const cell of cells) {
    if (cell.target === 'direct' || cell.target === 'pipe') continue;
    const pipe = cells.find((c) => c.target === 'pipe' && c.route === cell.route && c.concurrency === cell.concurrency);
    if (!pipe) continue;
    const pipeCpu = pipe.cpuMsPerRequestPooled ?? Number.NaN;
    out.push({
      route: cell.route,
      concurrency: cell.concurrency,
      target: cell.target,
      admission: cell.admission,
      deltaTtftP50Ms: cell.ttftP50Ms - pipe.ttftP50Ms,
      deltaTtftP50PairedMs: pairedDeltaTtftP50(batches, cell.route, cell.concurrency, cell),
      ttftP99Ratio: cell.ttftP99Ms / pipe.ttftP99Ms,
      cpuRatio: (cell.cpuMsPerRequest ?? Number.NaN) / (pipe.cpuMsPerRequest ?? Number.NaN),
      cpuRatioPooled: (cell.cpuMsPerRequestPooled ?? Number.NaN) / pipeCpu,
      throughputRatio: cell.throughputRps / pipe.throughputRps,
      cpuRatioWithStorePooled: ((cell.cpuMsPerRequestPooled ?? Number.NaN) + (cell.storeCpuMsPerRequestPooled ?? 0)) / pipeCpu,
    });
  }
  return out;
}

/**
 * PASS/MISS of the Lambda path's two figures against a bound. TTFT: the paired difference. CPU:
 * the gateway process's ratio pooled over all rounds; the pipe takes about 0.15 ms per request
 * here, 15 clock ticks over a batch of 1000, so one batch's figure moves by a tick's 7%.
 */
export function verdict(c: Pick<Comparison, 'deltaTtftP50PairedMs' | 'cpuRatioPooled'>, bounds = { ttftMs: MAX_DELTA_TTFT_P50_MS, cpuRatio: MAX_CPU_RATIO }): { readonly ttft: boolean; readonly cpu: boolean } {
  return { ttft: c.deltaTtftP50PairedMs <= bounds.ttftMs, cpu: c.cpuRatioPooled <= bounds.cpuRatio };
}

function num(v: number | null | undefined, digits: number): string {
  return v === null || v === undefined || Number.isNaN(v) ? '–' : v.toFixed(digits);
}

function signed(v: number): string {
  return Number.isNaN(v) ? '–' : `${v >= 0 ? '+' : ''}${num(v, 2)}`;
}

const passOf = (ok: boolean | null): string => (ok === null ? 'NOT MEASURED' : ok ? 'PASS' : 'MISS');

/**
 * The targets, checked at {@link TARGET_CONCURRENCY} streams with {@link TARGET_ADMISSION}
 * admission (metering is always on): the Lambda path against the bare pipe on each route (and the
 * compass goal as information), the stack on prefill → decode against the toy proxy and the pipe.
 * A check whose figures are missing has `pass: null` and says why.
 *
 * @param toyNotMeasured why the toy proxy has no figures (when it has none)
 */
export function targetChecks(cells: readonly CellFigures[], comparisons: readonly Comparison[], routes: readonly Route[], toyNotMeasured: string | undefined): TargetCheck[] {
  const c = TARGET_CONCURRENCY;
  const checks: TargetCheck[] = [];
  const at = (route: Route, target: TargetName) => comparisons.find((x) => x.route === route && x.concurrency === c && x.target === target && x.admission === TARGET_ADMISSION);
  const missing = `not measured (needs the pipe and this path at c=${c} with ${TARGET_ADMISSION} admission)`;
  for (const route of routes) {
    const lambda = at(route, 'lambda');
    const v = lambda ? verdict(lambda) : undefined;
    const goal = lambda ? verdict(lambda, { ttftMs: GOAL_DELTA_TTFT_P50_MS, cpuRatio: GOAL_CPU_RATIO }) : undefined;
    checks.push(
      { route, target: 'lambda', info: false, what: `TTFT p50 ≤ pipe + ${MAX_DELTA_TTFT_P50_MS} ms`, pass: v ? v.ttft : null, detail: lambda ? `${signed(lambda.deltaTtftP50PairedMs)} ms (paired per round)` : missing },
      { route, target: 'lambda', info: false, what: `CPU/req ≤ ${MAX_CPU_RATIO}x pipe (gateway process)`, pass: v ? v.cpu : null, detail: lambda ? `${num(lambda.cpuRatioPooled, 2)}x (with its store ${num(lambda.cpuRatioWithStorePooled, 2)}x)` : missing },
      { route, target: 'lambda', info: true, what: `goal: TTFT p50 ≤ pipe + ${GOAL_DELTA_TTFT_P50_MS} ms, CPU/req ≤ ${GOAL_CPU_RATIO}x`, pass: goal ? goal.ttft && goal.cpu : null, detail: lambda ? `${signed(lambda.deltaTtftP50PairedMs)} ms, ${num(lambda.cpuRatioPooled, 2)}x` : missing },
    );
    // What the Lambda shape costs before any gateway work: the floor under the lambda figures.
    const floor = comparisons.find((x) => x.route === route && x.concurrency === c && x.target === 'lambda-floor');
    if (floor) {
      const fv = verdict(floor);
      checks.push({
        route, target: 'lambda-floor', info: true, what: 'the pass-through as a streaming Lambda handler, same host (no gateway work)',
        pass: fv.ttft && fv.cpu,
        detail: `${signed(floor.deltaTtftP50PairedMs)} ms, ${num(floor.cpuRatioPooled, 2)}x: of the ${MAX_CPU_RATIO}x CPU budget, ${num(Math.max(0, MAX_CPU_RATIO - floor.cpuRatioPooled), 2)}x is left for the gateway's own work`,
      });
    }
  }
  if (routes.includes('disagg')) {
    const stack = cells.find((x) => x.route === 'disagg' && x.concurrency === c && x.target === 'stack' && x.admission === TARGET_ADMISSION);
    const toy = cells.find((x) => x.route === 'disagg' && x.concurrency === c && x.target === 'vllm-toy');
    const vsPipe = at('disagg', 'stack');
    const toyRatio = stack && toy ? stack.throughputRps / toy.throughputRps : undefined;
    checks.push(
      {
        route: 'disagg', target: 'stack', info: false, what: `throughput ≥ ${MIN_TOY_THROUGHPUT_RATIO}x the vLLM toy proxy`,
        pass: toyRatio === undefined ? null : toyRatio >= MIN_TOY_THROUGHPUT_RATIO,
        detail: toyRatio !== undefined && stack && toy
          ? `${num(toyRatio, 2)}x (${num(stack.throughputRps, 0)} vs ${num(toy.throughputRps, 0)} req/s)`
          : !stack ? missing : `not measured: ${toyNotMeasured ?? `the toy proxy did not run at c=${c}`}`,
      },
      {
        route: 'disagg', target: 'stack', info: false, what: `TTFT p99 ≤ ${MAX_P99_RATIO}x the bare relay's`,
        pass: vsPipe ? vsPipe.ttftP99Ratio <= MAX_P99_RATIO : null,
        detail: vsPipe ? `${num(vsPipe.ttftP99Ratio, 2)}x` : missing,
      },
    );
  }
  return checks;
}

const ROUTE_TITLES: Record<Route, string> = { agg: 'aggregated', disagg: 'prefill → decode (vLLM NIXL)' };
const COLUMNS = ['path', 'TTFT p50', 'TTFT p99', 'req/s', 'CPU gw', 'store', 'sum', 'ΔTTFT p50', 'CPU x', 'sum x', 'req/s x', 'p99 x', 'failed'] as const;
const WIDTHS = [14, 9, 9, 7, 7, 7, 7, 10, 6, 6, 8, 6, 6] as const;

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join(' ');
}

/** The human-readable report: what was measured, one table per route and concurrency, the target checks. */
export function formatReport(report: BenchReport): string {
  const o = report.options;
  const lines: string[] = [];
  lines.push(`splitserve bench: ${report.environment.backend} backend, admission ${o.admissions.join(', ')} (metering on), ${o.rounds} round(s) after a warm-up round, medians over rounds; node ${report.environment.node}, ${report.environment.cpus} CPU(s)`);
  lines.push(`bench servers and the splitserve CLI ${o.build === 'source' ? 'from their sources (tsx)' : 'as esbuild bundles'}; the Lambda handlers of lambda and stack are the cloud assembly's bundles`);
  lines.push('TTFT in ms (to the first content chunk), TTFT and req/s medians over rounds. CPU in ms per request of each process tree, all rounds\' CPU over all their requests: "CPU gw" the path\'s own process (the gateway), "store" its DynamoDB stand-in (own process), "sum" both');
  lines.push('"x" columns: ratio to the bare pipe in the same run (CPU x: the gateway process; sum x: gateway + store). ΔTTFT p50: path − pipe within each round, rounds 1+2, 3+4, … averaged, median of those');
  for (const note of report.notes) lines.push(`note: ${note}`);
  for (const route of o.routes) {
    lines.push('', `== ${ROUTE_TITLES[route]} ==`);
    for (const c of o.concurrency) {
      const row = report.cells.filter((x) => x.route === route && x.concurrency === c);
      if (row.length === 0) continue;
      lines.push('', `c=${c}, ${row[0]?.requestsPerRound} requests per batch`);
      lines.push(pad(COLUMNS, WIDTHS));
      for (const cell of row) {
        const cmp = report.comparisons.find((x) => x.route === route && x.concurrency === c && isPath(cell)(x));
        const sum = cell.cpuMsPerRequestPooled === null ? null : cell.cpuMsPerRequestPooled + (cell.storeCpuMsPerRequestPooled ?? 0);
        lines.push(pad([
          pathLabel(cell), num(cell.ttftP50Ms, 2), num(cell.ttftP99Ms, 2), num(cell.throughputRps, 0),
          num(cell.cpuMsPerRequestPooled, 3), num(cell.storeCpuMsPerRequestPooled, 3), num(cell.storeCpuMsPerRequestPooled === null ? null : sum, 3),
          cmp ? signed(cmp.deltaTtftP50PairedMs) : '', cmp ? num(cmp.cpuRatioPooled, 2) : '', cmp && cell.storeCpuMsPerRequestPooled !== null ? num(cmp.cpuRatioWithStorePooled, 2) : '',
          cmp ? num(cmp.throughputRatio, 2) : '', cmp ? num(cmp.ttftP99Ratio, 2) : '', String(cell.failed),
        ], WIDTHS));
      }
      const toy = row.find((x) => x.target === 'vllm-toy');
      if (toy && toy.throughputRps > 0) {
        const vsToy = row.filter((x) => x.admission !== null).map((x) => `${pathLabel(x)} ${num(x.throughputRps / toy.throughputRps, 2)}x`);
        if (vsToy.length > 0) lines.push(`throughput vs the vLLM toy proxy: ${vsToy.join(', ')}`);
      }
    }
  }
  lines.push('', `== targets at c=${TARGET_CONCURRENCY}, ${TARGET_ADMISSION} admission, metering on ==`);
  lines.push('CPU targets are judged on the gateway process\'s CPU: the store stands in for DynamoDB, a separate service when deployed; the sum with the store is printed beside it');
  lines.push('PASS/MISS is a report, not the exit status (that says whether every request completed)');
  for (const check of report.checks) {
    lines.push(`${check.info ? 'info' : passOf(check.pass).padEnd(4)}  ${ROUTE_TITLES[check.route]}, ${check.target}: ${check.what}: ${check.info ? `${passOf(check.pass)}, ` : ''}${check.detail}`);
  }
  if (report.toyNotMeasured !== undefined) lines.push(`vLLM toy proxy not measured: ${report.toyNotMeasured}`);
  lines.push('', report.failedRequests === 0 ? 'all requests completed without error' : `FAILED REQUESTS: ${report.failedRequests} (see "errorSamples" in the JSON)`);
  const samples = [...report.warmup, ...report.batches].flatMap((b) => b.errorSamples.map((s) => `  ${pathLabel(b)} ${b.route} c=${b.concurrency}: ${s}`));
  lines.push(...samples.slice(0, 10));
  return lines.join('\n') + '\n';
}

/** Writes the report as JSON (creating the directory). NaN figures become `null`. */
export function writeReportJson(report: BenchReport, file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
}
