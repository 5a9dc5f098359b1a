/**
 * Scoring of a run: SLO attainment, goodput and latency percentiles.
 */
import type { RequestOutcome } from './cluster.ts';

/** A tier's latency targets (the `slo` of a tier in the config). */
export interface Slo {
  readonly ttftMs: number;
  readonly tpotMs: number;
}

/** Figures of one run under one SLO. */
export interface RunScore {
  /** Requests per second that met both targets. */
  readonly goodput: number;
  /** Requests per second measured (arrived in the window). */
  readonly throughput: number;
  /** Share of measured requests that met both targets, 0..1. */
  readonly attainment: number;
  readonly ttftP50: number;
  readonly ttftP99: number;
  readonly tpotP50: number;
  readonly tpotP99: number;
  /** Measured requests per route taken. */
  readonly routes: Readonly<Record<string, number>>;
  readonly requests: number;
}

/** Nearest-rank percentile of `values` (q in 0..1); NaN when empty. */
export function percentile(values: readonly number[], q: number): number {
  if (values.length === 0) return NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))]!;
}

/** True when an outcome met both targets. */
export function meetsSlo(o: RequestOutcome, slo: Slo): boolean {
  return o.ttftMs <= slo.ttftMs && o.tpotMs <= slo.tpotMs;
}

/**
 * Scores the requests that arrived in `[fromMs, toMs)` (the warm-up before `fromMs` is left out;
 * every request is followed to its end, however late).
 *
 * @example
 * scoreRun(outcomes, { ttftMs: 300, tpotMs: 5 }, 6_000, 60_000).goodput;
 */
export function scoreRun(outcomes: readonly RequestOutcome[], slo: Slo, fromMs: number, toMs: number): RunScore {
  const measured = outcomes.filter((o) => o.request.arrivalMs >= fromMs && o.request.arrivalMs < toMs);
  const seconds = (toMs - fromMs) / 1000;
  const met = measured.filter((o) => meetsSlo(o, slo)).length;
  const routes: Record<string, number> = {};
  for (const o of measured) routes[o.route] = (routes[o.route] ?? 0) + 1;
  const tpots = measured.filter((o) => o.request.completionTokens > 1).map((o) => o.tpotMs);
  return {
    goodput: met / seconds,
    throughput: measured.length / seconds,
    attainment: measured.length ? met / measured.length : 0,
    ttftP50: percentile(measured.map((o) => o.ttftMs), 0.5),
    ttftP99: percentile(measured.map((o) => o.ttftMs), 0.99),
    tpotP50: percentile(tpots, 0.5),
    tpotP99: percentile(tpots, 0.99),
    routes,
    requests: measured.length,
  };
}
