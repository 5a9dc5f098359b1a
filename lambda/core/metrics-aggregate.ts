/**
 * The metrics of one process, kept in memory for the local runtimes' `GET /metrics` (Prometheus
 * text, the names of lambda/core/metric-catalogue.ts) and `GET /status.json` (what the status
 * page shows). It is fed by the same {@link RequestMetrics} calls as the EMF emitter.
 *
 * Bounded by construction: series are keyed by the catalogue's dimensions only, whose values come
 * from bounded sets (the configured tiers, pools, route kinds, outcomes, refusal reasons, error
 * classes), and each metric holds at most {@link MAX_SERIES} series besides; histograms have
 * fixed buckets; the live percentiles read a ring of the last {@link WINDOW_CAPACITY} samples per
 * tier. No tenant, request id or prompt is kept: the figures are tenant-free.
 */
import type { SplitserveConfig } from './config.ts';
import type { MetricDimension, MetricKey } from './metric-catalogue.ts';
import { METRICS } from './metric-catalogue.ts';
import { REFUSAL_REASONS } from './metric-labels.ts';
import type { BackendErrorClass, BackendFailure, PoolGauge, PoolGauges, Refusal, RefusalReason, RequestFacts, RequestMetrics, UsageRecord } from './ports.ts';
import type { HistogramSeries, Labels, MetricFamily, ValueSeries } from './prometheus-text.ts';
import { prometheusText } from './prometheus-text.ts';
import { quantile, RecentSamples } from './recent-samples.ts';

/** Most series one metric keeps (a guard; the dimensions' values are bounded sets already). */
export const MAX_SERIES = 1000;
/** Samples per tier kept for the live percentiles and rates. */
export const WINDOW_CAPACITY = 4096;
/** Backend errors kept per pool for the status page. */
export const RECENT_ERRORS = 10;

/** Histogram upper bounds in seconds, per millisecond metric of the catalogue. */
export const HISTOGRAM_BOUNDS = {
  ttft: [0.01, 0.025, 0.05, 0.1, 0.2, 0.3, 0.5, 0.75, 1, 2, 5, 10],
  tpot: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.25, 0.5],
  latency: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
} as const satisfies Partial<Record<MetricKey, readonly number[]>>;

type HistogramKey = keyof typeof HISTOGRAM_BOUNDS;
type CounterKey = Exclude<MetricKey, HistogramKey | 'poolHealthyEndpoints' | 'poolInFlight'>;
type DimensionValues = Partial<Record<MetricDimension, string>>;

/** One tier's live figures on the status page. */
export interface TierStatus {
  readonly tier: string;
  /** The tier's SLO, when it has one. */
  readonly slo: { readonly ttftMs: number; readonly tpotMs: number } | null;
  /** Requests ended since start (served, aborted or failed). */
  readonly requests: number;
  /** Requests ended per second over the last {@link RATE_WINDOW_MS}. */
  readonly requestsPerSecond: number;
  /** TTFT and TPOT percentiles (ms) over the window; null without samples. */
  readonly ttftMs: Percentiles;
  readonly tpotMs: Percentiles;
  /** Share of the window's judged requests that met the SLO (0..1); null when none was judged. */
  readonly sloAttainment: number | null;
  readonly judged: number;
  /** Requests failed since start (outcome `error`). */
  readonly errors: number;
  /** Served by another tier than planned, since start. */
  readonly fallbacks: number;
  /** Refusals since start, by reason, and per second over the last {@link RATE_WINDOW_MS}. */
  readonly refused: Readonly<Record<RefusalReason, number>>;
  readonly refusedPerSecond: number;
}

/** p50 and p99 over a window's samples, and how many there were. */
export interface Percentiles {
  readonly p50: number | null;
  readonly p99: number | null;
  readonly samples: number;
}

/** A backend error as the status page lists it: when, the class and the backend's status, nothing of the request. */
export interface RecentError {
  readonly at: number;
  readonly errorClass: BackendErrorClass;
  readonly upstreamStatus: number | null;
}

/** One pool on the status page. */
export interface PoolStatus extends PoolGauge {
  /** Backend errors since start. */
  readonly errors: number;
  /** The last {@link RECENT_ERRORS}, newest first. */
  readonly recentErrors: readonly RecentError[];
}

/** What `GET /status.json` answers. */
export interface StatusSnapshot {
  /** Epoch ms of the snapshot. */
  readonly at: number;
  /** The window of the percentiles and attainment (ms). */
  readonly windowMs: number;
  readonly tiers: readonly TierStatus[];
  readonly pools: readonly PoolStatus[];
}

/** The window of the rates (ms). */
export const RATE_WINDOW_MS = 10_000;

/** Options of {@link MetricsAggregate}. */
export interface MetricsAggregateOptions {
  /** The configured tiers (listed on the status page before any traffic, with their SLOs). */
  readonly tiers: SplitserveConfig['tiers'];
  /** The window of the live percentiles and attainment. @default 60000 */
  readonly windowMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

interface TierSample {
  readonly at: number;
  readonly ttftMs: number | null;
  readonly tpotMs: number | null;
  readonly sloMet: boolean | null;
}

interface MutableHistogram {
  readonly labels: Labels;
  readonly counts: number[];
  sum: number;
  count: number;
}

/**
 * Counters, fixed-bucket histograms and windows of recent samples, fed by {@link RequestMetrics}
 * calls; rendered as Prometheus text or as the status page's snapshot.
 *
 * @example
 * const aggregate = new MetricsAggregate({ tiers: config.tiers });
 * aggregate.watchPools(poolDirectory);
 * const runtime = assembleGateway({ config, dynamo, tables, metrics: () => aggregate });
 * aggregate.prometheusText();   // what GET /metrics answers
 */
export class MetricsAggregate implements RequestMetrics {
  private readonly counters = new Map<CounterKey, Map<string, { labels: Labels; value: number }>>();
  private readonly histograms = new Map<HistogramKey, Map<string, MutableHistogram>>();
  private readonly samples = new Map<string, RecentSamples<TierSample>>();
  private readonly refusals = new Map<string, RecentSamples<{ at: number }>>();
  private readonly recentErrors = new Map<string, RecentSamples<RecentError>>();
  private readonly sources: PoolGauges[] = [];
  private readonly tiers: SplitserveConfig['tiers'];
  private readonly windowMs: number;
  private readonly now: () => number;

  constructor(options: MetricsAggregateOptions) {
    this.tiers = options.tiers;
    this.windowMs = options.windowMs ?? 60_000;
    this.now = options.now ?? Date.now;
  }

  /**
   * Adds a source of pool gauges (a pool directory). With several (the local stack runtime's
   * functions each have their own), in-flight calls add up and an endpoint counts as healthy only
   * where every source sees it healthy.
   */
  watchPools(source: PoolGauges): void {
    this.sources.push(source);
  }

  record(usage: UsageRecord, facts: RequestFacts): void {
    const tier = usage.tierServed;
    this.count('requests', { tier, route: usage.route, outcome: usage.outcome });
    this.observe('latency', tier, usage.totalMs);
    if (usage.ttftMs !== null) this.observe('ttft', tier, usage.ttftMs);
    if (usage.tpotMs !== null) this.observe('tpot', tier, usage.tpotMs);
    if (usage.sloMet !== null) {
      this.count('sloJudged', { tier });
      if (usage.sloMet) this.count('sloAttained', { tier });
    }
    if (facts.kvRecomputed) this.count('kvRecompute', { tier });
    if (facts.plannedTier !== tier) this.count('fallbacks', { tier: facts.plannedTier });
    this.count('promptTokens', { tier }, usage.promptTokens);
    this.count('completionTokens', { tier }, usage.completionTokens);
    this.window(this.samples, tier).add({ at: this.now(), ttftMs: usage.ttftMs, tpotMs: usage.tpotMs, sloMet: usage.sloMet });
  }

  refused(refusal: Refusal): void {
    this.count('refused', { tier: refusal.tier, reason: refusal.reason });
    this.window(this.refusals, refusal.tier).add({ at: this.now() });
  }

  backendError(failure: BackendFailure): void {
    this.count('backendErrors', { pool: failure.pool, class: failure.errorClass });
    let recent = this.recentErrors.get(failure.pool);
    if (!recent) {
      if (this.recentErrors.size >= MAX_SERIES) return;
      this.recentErrors.set(failure.pool, (recent = new RecentSamples<RecentError>(RECENT_ERRORS)));
    }
    recent.add({ at: this.now(), errorClass: failure.errorClass, upstreamStatus: failure.upstreamStatus });
  }

  /** The pools' gauges now, over every source (see {@link watchPools}). */
  poolGauges(): PoolGauge[] {
    const merged = new Map<string, PoolGauge>();
    for (const source of this.sources) {
      for (const g of source.poolGauges()) {
        const seen = merged.get(g.pool);
        merged.set(
          g.pool,
          seen
            ? { ...seen, endpoints: Math.max(seen.endpoints, g.endpoints), healthy: Math.min(seen.healthy, g.healthy), inFlight: seen.inFlight + g.inFlight }
            : g,
        );
      }
    }
    return [...merged.values()];
  }

  /** Every metric of the catalogue as Prometheus text (milliseconds as seconds). */
  prometheusText(): string {
    const gauges = this.poolGauges();
    const families = (Object.keys(METRICS) as MetricKey[]).map((key): MetricFamily => {
      const spec = METRICS[key];
      const base = { name: spec.prometheus, help: spec.help };
      if (key === 'poolHealthyEndpoints' || key === 'poolInFlight') {
        const series: ValueSeries[] = gauges.map((g) => ({ labels: { pool: g.pool, role: g.role }, value: key === 'poolInFlight' ? g.inFlight : g.healthy }));
        return { ...base, type: 'gauge', series };
      }
      if (key in HISTOGRAM_BOUNDS) {
        const histogramKey = key as HistogramKey;
        const series: HistogramSeries[] = [...(this.histograms.get(histogramKey)?.values() ?? [])];
        return { ...base, type: 'histogram', bounds: HISTOGRAM_BOUNDS[histogramKey], series };
      }
      return { ...base, type: 'counter', series: [...(this.counters.get(key as CounterKey)?.values() ?? [])] };
    });
    return prometheusText(families);
  }

  /** The status page's figures now. */
  status(): StatusSnapshot {
    const now = this.now();
    const from = now - this.windowMs;
    const rateFrom = now - RATE_WINDOW_MS;
    const tierNames = new Set([...Object.keys(this.tiers), ...this.samples.keys(), ...this.refusals.keys()]);
    const tiers = [...tierNames].map((tier): TierStatus => {
      const slo = this.tiers[tier as keyof SplitserveConfig['tiers']]?.slo;
      const recent = this.samples.get(tier)?.since(from) ?? [];
      const judged = recent.filter((s) => s.sloMet !== null);
      const refused = Object.fromEntries(REFUSAL_REASONS.map((reason) => [reason, this.counterValue('refused', { tier, reason })])) as Record<RefusalReason, number>;
      return {
        tier,
        slo: slo ? { ttftMs: slo.ttftMs, tpotMs: slo.tpotMs } : null,
        requests: this.sumOf('requests', (labels) => labels.tier === tier),
        requestsPerSecond: ratePerSecond(this.samples.get(tier), rateFrom, now),
        ttftMs: percentiles(recent.flatMap((s) => (s.ttftMs === null ? [] : [s.ttftMs]))),
        tpotMs: percentiles(recent.flatMap((s) => (s.tpotMs === null ? [] : [s.tpotMs]))),
        sloAttainment: judged.length > 0 ? judged.filter((s) => s.sloMet).length / judged.length : null,
        judged: judged.length,
        errors: this.sumOf('requests', (labels) => labels.tier === tier && labels.outcome === 'error'),
        fallbacks: this.counterValue('fallbacks', { tier }),
        refused,
        refusedPerSecond: ratePerSecond(this.refusals.get(tier), rateFrom, now),
      };
    });
    const gauges = this.poolGauges();
    const poolNames = new Set([...gauges.map((g) => g.pool), ...this.recentErrors.keys()]);
    const pools = [...poolNames].map((pool): PoolStatus => {
      const gauge = gauges.find((g) => g.pool === pool) ?? { pool, role: 'unknown', endpoints: 0, healthy: 0, inFlight: 0 };
      return {
        ...gauge,
        errors: this.sumOf('backendErrors', (labels) => labels.pool === pool),
        recentErrors: (this.recentErrors.get(pool)?.since(0) ?? []).reverse(),
      };
    });
    return { at: now, windowMs: this.windowMs, tiers, pools };
  }

  private window<T extends { at: number }>(windows: Map<string, RecentSamples<T>>, tier: string): RecentSamples<T> {
    let found = windows.get(tier);
    if (!found) {
      found = new RecentSamples<T>(WINDOW_CAPACITY);
      // A guard only: tiers are a closed set.
      if (windows.size < MAX_SERIES) windows.set(tier, found);
    }
    return found;
  }

  /** The series id of `values` under `key`'s dimensions (its labels are built only for a new series). */
  private idOf(key: MetricKey, values: DimensionValues): string {
    const dimensions = METRICS[key].dimensions;
    let id = values[dimensions[0]!] ?? '';
    for (let i = 1; i < dimensions.length; i++) id += `\u0000${values[dimensions[i]!] ?? ''}`;
    return id;
  }

  private count(key: CounterKey, values: DimensionValues, by = 1): void {
    let series = this.counters.get(key);
    if (!series) this.counters.set(key, (series = new Map()));
    const id = this.idOf(key, values);
    const found = series.get(id);
    if (found) found.value += by;
    else if (series.size < MAX_SERIES) series.set(id, { labels: Object.fromEntries(METRICS[key].dimensions.map((d) => [d, values[d] ?? ''])), value: by });
  }

  private observe(key: HistogramKey, tier: string, ms: number): void {
    let series = this.histograms.get(key);
    if (!series) this.histograms.set(key, (series = new Map()));
    const bounds = HISTOGRAM_BOUNDS[key];
    let found = series.get(tier);
    if (!found) {
      if (series.size >= MAX_SERIES) return;
      series.set(tier, (found = { labels: { tier }, counts: new Array<number>(bounds.length + 1).fill(0), sum: 0, count: 0 }));
    }
    const seconds = ms / 1000;
    let bucket = bounds.findIndex((bound) => seconds <= bound);
    if (bucket === -1) bucket = bounds.length;
    found.counts[bucket]! += 1;
    found.sum += seconds;
    found.count += 1;
  }

  private counterValue(key: CounterKey, values: DimensionValues): number {
    return this.counters.get(key)?.get(this.idOf(key, values))?.value ?? 0;
  }

  private sumOf(key: CounterKey, match: (labels: Labels) => boolean): number {
    let sum = 0;
    for (const s of this.counters.get(key)?.values() ?? []) if (match(s.labels)) sum += s.value;
    return sum;
  }
}

function percentiles(values: readonly number[]): Percentiles {
  return { p50: quantile(values, 0.5), p99: quantile(values, 0.99), samples: values.length };
}

/** Samples per second since `from`; over the span the ring still covers when it holds only recent ones. */
function ratePerSecond(samples: RecentSamples<{ at: number }> | undefined, from: number, now: number): number {
  if (!samples) return 0;
  const recent = samples.since(from);
  if (recent.length === 0) return 0;
  const full = recent.length === samples.capacity;
  const spanMs = full ? Math.max(1, now - recent[0]!.at) : now - from;
  return Math.round((recent.length / (spanMs / 1000)) * 100) / 100;
}
