/**
 * Bench figures: per-batch figures → medians over rounds → gateway-vs-relay comparisons; the
 * printed tables, the PASS/MISS lines and the JSON file.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { BenchOptions, Route, TargetName } from './cli-options.ts';
import type { ErrorCounts } from './load-generator.ts';
import { median } from './stats.ts';

/** Figures of one measured batch. */
export interface BatchFigures {
  readonly round: number;
  readonly route: Route;
  readonly concurrency: number;
  readonly target: TargetName;
  readonly requests: number;
  readonly completed: number;
  readonly errors: ErrorCounts;
  readonly errorSamples: readonly string[];
  readonly ttftP50Ms: number;
  readonly ttftP99Ms: number;
  readonly totalP50Ms: number;
  readonly totalP99Ms: number;
  readonly throughputRps: number;
  /** CPU ms of the target's process tree during the batch; `null` for direct (no relay). */
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

/** Medians over rounds for one (route, concurrency, target). */
export interface CellFigures {
  readonly route: Route;
  readonly concurrency: number;
  readonly target: TargetName;
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

/** The gateway against the relay for one (route, concurrency). */
export interface Comparison {
  readonly route: Route;
  readonly concurrency: number;
  /** gateway − relay TTFT p50, ms: the difference of the two medians over rounds. */
  readonly deltaTtftP50Ms: number;
  /**
   * gateway − relay TTFT p50, ms, paired: the median over pairs of rounds of the mean of the two
   * rounds' own differences (see {@link pairedDeltaTtftP50}). The verdict uses this one.
   */
  readonly deltaTtftP50PairedMs: number;
  /** gateway / relay CPU ms per request (medians over rounds). */
  readonly cpuRatio: number;
  /** gateway / relay CPU ms per request, pooled over all rounds (finer-grained). */
  readonly cpuRatioPooled: number;
  /** gateway / relay throughput. */
  readonly throughputRatio: number;
  /** (gateway + its store) / relay CPU ms per request, pooled: the local-only view. */
  readonly cpuRatioWithStorePooled: number;
}

/** The targets of DESIGN.md section 8, checked at this concurrency. */
export const TARGET_CONCURRENCY = 16;
export const MAX_DELTA_TTFT_P50_MS = 1;
export const MAX_CPU_RATIO = 2;
/** vLLM's toy proxy at c=16, prefill → decode, from DESIGN.md section 8 (not measured by this bench). */
export const TOY_PROXY_REFERENCE_RPS = { low: 170, high: 180 } as const;

/** Everything a run produced, as written to JSON. */
export interface BenchReport {
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly options: BenchOptions;
  readonly environment: { readonly node: string; readonly platform: string; readonly cpus: number; readonly clockTicks: number; readonly backend: string };
  readonly targets: readonly TargetName[];
  readonly notes: readonly string[];
  readonly warmup: readonly BatchFigures[];
  readonly batches: readonly BatchFigures[];
  readonly cells: readonly CellFigures[];
  readonly comparisons: readonly Comparison[];
  /** Failed requests over the whole run, warm-up included. */
  readonly failedRequests: number;
}

/** Sum of every error kind. */
export function failedCount(errors: ErrorCounts): number {
  return errors.status + errors.errorEvent + errors.missingDone + errors.noContent + errors.network;
}

/** Medians over the rounds of each (route, concurrency, target). */
export function cellsOf(batches: readonly BatchFigures[]): CellFigures[] {
  const groups = new Map<string, BatchFigures[]>();
  for (const b of batches) {
    const key = `${b.route}|${b.concurrency}|${b.target}`;
    const g = groups.get(key);
    if (g) g.push(b); else groups.set(key, [b]);
  }
  return [...groups.values()].map((g) => {
    const first = g[0] as BatchFigures;
    const cpu = g.map((b) => b.cpuMsPerRequest).filter((v): v is number => v !== null);
    return {
      route: first.route,
      concurrency: first.concurrency,
      target: first.target,
      rounds: g.length,
      requestsPerRound: first.requests,
      completed: g.reduce((n, b) => n + b.completed, 0),
      failed: g.reduce((n, b) => n + failedCount(b.errors), 0),
      ttftP50Ms: median(g.map((b) => b.ttftP50Ms)),
      ttftP99Ms: median(g.map((b) => b.ttftP99Ms)),
      totalP50Ms: median(g.map((b) => b.totalP50Ms)),
      throughputRps: median(g.map((b) => b.throughputRps)),
      cpuMsPerRequest: cpu.length > 0 ? median(cpu) : null,
      cpuMsPerRequestPooled: first.cpuMs === null ? null : g.reduce((n, b) => n + (b.cpuMs ?? 0), 0) / g.reduce((n, b) => n + b.completed, 0),
      storeCpuMsPerRequestPooled: first.storeCpuMs === null ? null : g.reduce((n, b) => n + (b.storeCpuMs ?? 0), 0) / g.reduce((n, b) => n + b.completed, 0),
    };
  });
}

/**
 * gateway − relay TTFT p50 for one (route, concurrency), compared within rounds: each round's
 * difference, the mean of rounds 1 and 2, 3 and 4, and so on, and the median of those means (a
 * round whose partner did not run counts alone); NaN when no round has both targets.
 *
 * - Within a round: the relay's and the gateway's batches run back to back, while the machine's
 *   speed drifts between rounds (the relay's own TTFT p50 at 16 streams spans about 2x over one
 *   run on the shared 2-core machine). The difference of the two medians over rounds can take
 *   them from different rounds, and so compares two machine states as well as two relays.
 * - Pairs of rounds: the relay goes first in odd rounds and the gateway in even ones
 *   (`roundOrder` in bench/run.ts), and the later batch of a pair runs faster (at 16 streams,
 *   over 8 runs, by about 0.1 ms aggregated and 0.35 ms prefill → decode; 0.7 ms within one
 *   run). Averaging an odd round with the next even one cancels that; a plain median of the
 *   rounds' differences would land anywhere between the two places' clusters.
 */
export function pairedDeltaTtftP50(batches: readonly BatchFigures[], route: Route, concurrency: number): number {
  const relayByRound = new Map<number, number>();
  for (const b of batches) if (b.target === 'relay' && b.route === route && b.concurrency === concurrency) relayByRound.set(b.round, b.ttftP50Ms);
  const byPair = new Map<number, number[]>();
  for (const b of batches) {
    if (b.target !== 'gateway' || b.route !== route || b.concurrency !== concurrency) continue;
    const relay = relayByRound.get(b.round);
    if (relay === undefined) continue;
    const pair = Math.ceil(b.round / 2);
    const deltas = byPair.get(pair);
    if (deltas) deltas.push(b.ttftP50Ms - relay); else byPair.set(pair, [b.ttftP50Ms - relay]);
  }
  return median([...byPair.values()].map((d) => d.reduce((a, x) => a + x, 0) / d.length));
}

/** Gateway-vs-relay figures for every (route, concurrency) where both ran. */
export function comparisonsOf(cells: readonly CellFigures[], batches: readonly BatchFigures[]): Comparison[] {
  const out: Comparison[] = [];
  for (const gw of cells) {
    if (gw.target !== 'gateway') continue;
    const relay = cells.find((c) => c.target === 'relay' && c.route === gw.route && c.concurrency === gw.concurrency);
    if (!relay) continue;
    out.push({
      route: gw.route,
      concurrency: gw.concurrency,
      deltaTtftP50Ms: gw.ttftP50Ms - relay.ttftP50Ms,
      deltaTtftP50PairedMs: pairedDeltaTtftP50(batches, gw.route, gw.concurrency),
      cpuRatio: (gw.cpuMsPerRequest ?? Number.NaN) / (relay.cpuMsPerRequest ?? Number.NaN),
      cpuRatioPooled: (gw.cpuMsPerRequestPooled ?? Number.NaN) / (relay.cpuMsPerRequestPooled ?? Number.NaN),
      throughputRatio: gw.throughputRps / relay.throughputRps,
      cpuRatioWithStorePooled: ((gw.cpuMsPerRequestPooled ?? Number.NaN) + (gw.storeCpuMsPerRequestPooled ?? 0)) / (relay.cpuMsPerRequestPooled ?? Number.NaN),
    });
  }
  return out;
}

const ROUTE_TITLES: Record<Route, string> = { agg: 'aggregated', disagg: 'disaggregated (prefill → decode)' };

function num(v: number | null, digits: number): string {
  return v === null || Number.isNaN(v) ? '–' : v.toFixed(digits);
}

function signed(v: number): string {
  return `${v >= 0 ? '+' : ''}${num(v, 2)}`;
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
}

/** PASS/MISS verdict of one comparison against the targets (TTFT: the paired difference). */
export function verdict(c: Comparison): { readonly ttft: boolean; readonly cpu: boolean } {
  return { ttft: c.deltaTtftP50PairedMs <= MAX_DELTA_TTFT_P50_MS, cpu: c.cpuRatio <= MAX_CPU_RATIO };
}

/** The human-readable tables: per route, per concurrency. */
export function formatReport(report: BenchReport): string {
  const lines: string[] = [];
  const widths = [9, 10, 10, 9, 11, 11, 8];
  lines.push(`splitserve bench: ${report.environment.backend} backend, gateway admission ${report.options.admission} (metering on), relay and gateway ${report.options.build === 'source' ? 'from their sources (tsx)' : 'as esbuild bundles'}, ${report.options.rounds} round(s) after a warm-up round, medians over rounds; node ${report.environment.node}, ${report.environment.cpus} CPU(s)`);
  lines.push('TTFT in ms (to the first content chunk); CPU ms/req of the process tree, median over rounds and pooled over all rounds');
  lines.push('ΔTTFT p50 per round: gateway − relay within each round, averaged over rounds 1+2, 3+4, … (relay first, then gateway first), median of those (the verdict\'s figure); the difference of the medians also compares different rounds');
  lines.push("the gateway's DynamoDB-compatible store runs in its own process, as DynamoDB does deployed: its CPU is reported on its own line");
  for (const note of report.notes) lines.push(`note: ${note}`);
  for (const route of report.options.routes) {
    lines.push('', `== ${ROUTE_TITLES[route]} ==`);
    for (const c of report.options.concurrency) {
      const row = report.cells.filter((x) => x.route === route && x.concurrency === c);
      if (row.length === 0) continue;
      lines.push('', `c=${c}, ${row[0]?.requestsPerRound} requests per batch`);
      lines.push(pad(['target', 'TTFT p50', 'TTFT p99', 'req/s', 'CPU ms/req', '(pooled)', 'failed'], widths));
      for (const t of report.targets) {
        const cell = row.find((x) => x.target === t);
        if (!cell) continue;
        lines.push(pad([t, num(cell.ttftP50Ms, 2), num(cell.ttftP99Ms, 2), num(cell.throughputRps, 0), num(cell.cpuMsPerRequest, 3), num(cell.cpuMsPerRequestPooled, 3), String(cell.failed)], widths));
      }
      const cmp = report.comparisons.find((x) => x.route === route && x.concurrency === c);
      if (cmp) {
        lines.push(`gateway vs relay: ΔTTFT p50 ${signed(cmp.deltaTtftP50PairedMs)} ms per round (difference of the medians ${signed(cmp.deltaTtftP50Ms)} ms), CPU ratio ${num(cmp.cpuRatio, 2)}x (pooled ${num(cmp.cpuRatioPooled, 2)}x), throughput ratio ${num(cmp.throughputRatio, 2)}x`);
        const store = row.find((x) => x.target === 'gateway')?.storeCpuMsPerRequestPooled;
        if (store != null) {
          lines.push(`gateway's store (DynamoDB stand-in, own process, not in the gateway's CPU): ${num(store, 3)} CPU ms/req; with it, CPU ratio ${num(cmp.cpuRatioWithStorePooled, 2)}x (pooled)`);
        }
        if (c === TARGET_CONCURRENCY) {
          const v = verdict(cmp);
          lines.push(`${v.ttft && v.cpu ? 'PASS' : 'MISS'} at c=${c}: ΔTTFT p50 ≤ ${MAX_DELTA_TTFT_P50_MS} ms ${v.ttft ? 'PASS' : 'MISS'}, CPU ratio ≤ ${MAX_CPU_RATIO} ${v.cpu ? 'PASS' : 'MISS'}`);
          const gw = row.find((x) => x.target === 'gateway');
          if (route === 'disagg' && gw) {
            const { low, high } = TOY_PROXY_REFERENCE_RPS;
            lines.push(`(info: gateway ${num(gw.throughputRps, 0)} req/s = ${num(gw.throughputRps / high, 1)}–${num(gw.throughputRps / low, 1)}x the toy-proxy reference of DESIGN.md, ${low}–${high} req/s, measured elsewhere; target ≥ 3x)`);
          }
        }
      }
    }
  }
  if (!report.options.concurrency.includes(TARGET_CONCURRENCY) || !report.targets.includes('gateway')) {
    lines.push('', `(no PASS/MISS verdict: the targets are checked at c=${TARGET_CONCURRENCY} with gateway and relay both measured)`);
  }
  lines.push('', report.failedRequests === 0 ? 'all requests completed without error' : `FAILED REQUESTS: ${report.failedRequests} (see "errorSamples" in the JSON)`);
  const samples = [...report.warmup, ...report.batches].flatMap((b) => b.errorSamples.map((s) => `  ${b.target} ${b.route} c=${b.concurrency}: ${s}`));
  lines.push(...samples.slice(0, 10));
  return lines.join('\n') + '\n';
}

/** Writes the report as JSON (creating the directory). NaN figures become `null`. */
export function writeReportJson(report: BenchReport, file: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, JSON.stringify(report, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2) + '\n');
}
