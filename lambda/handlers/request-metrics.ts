/**
 * splitserve's CloudWatch metrics in embedded metric format (Powertools Metrics), named, united
 * and dimensioned as lambda/core/metric-catalogue.ts lists them:
 *
 * - one record per request that ended, with two dimension sets, `[tier, route, outcome]` and
 *   `[tier]` (the tier served): requests, latency, TTFT, TPOT, the SLO verdict (`SloJudged`,
 *   `SloAttained` 1 or 0), tokens and KV recomputes. A request served at another tier than
 *   planned adds one `Fallbacks` record by the tier planned;
 * - one `Refused` record per refusal, by `[tier, reason]`;
 * - one `BackendErrors` record per failed backend call, by `[pool, class]`;
 * - the pool gauges (`PoolHealthyEndpoints`, `PoolInFlight`, by `[pool, role]`), one record per
 *   pool at most once per interval, published when a request ends once the interval has passed
 *   (Lambda runs no timers between invocations).
 *
 * Tenant and request id are EMF properties (searchable in the logs), never dimensions. The
 * `service` dimension Powertools adds by default is removed, so that each metric is published
 * with exactly the catalogue's dimensions (what the dashboard and the alarms query). With
 * `POWERTOOLS_METRICS_DISABLED` (the local runtimes, except at DEBUG) nothing is built at all.
 */
import { Metrics } from '@aws-lambda-powertools/metrics';
import type { MetricKey } from '../core/metric-catalogue.ts';
import { METRICS, METRICS_NAMESPACE } from '../core/metric-catalogue.ts';
import type { BackendFailure, PoolGauges, Refusal, RequestFacts, RequestMetrics, UsageRecord } from '../core/ports.ts';

export { METRICS_NAMESPACE };

/** How often the pool gauges are published at most, by default (ms). */
export const POOL_GAUGE_INTERVAL_MS = 60_000;

/** Powertools `Metrics`, saying whether it is switched off (`POWERTOOLS_METRICS_DISABLED`, `POWERTOOLS_DEV`). */
class SwitchableMetrics extends Metrics {
  get off(): boolean {
    return this.isDisabled();
  }
}

/** Options of {@link PowertoolsRequestMetrics}. */
export interface PowertoolsRequestMetricsOptions {
  /** The pools whose gauges are published. @default none */
  readonly pools?: PoolGauges;
  /** Least time between two publications of the pool gauges (ms). @default {@link POOL_GAUGE_INTERVAL_MS} */
  readonly gaugeIntervalMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * The EMF emitter. One Powertools `Metrics` for the process: a new one per request built a
 * `Console` each time (about 5% of the stack runtime's CPU profile under load);
 * `publishStoredMetrics` clears the metrics, dimensions and properties after each record, and a
 * record is built and published synchronously, so requests never mix.
 *
 * @example
 * const metrics = new PowertoolsRequestMetrics({ pools: poolDirectory });
 * metrics.record(usage, { kvRecomputed: false, plannedTier: 'priority' });
 */
export class PowertoolsRequestMetrics implements RequestMetrics {
  private readonly metrics = new SwitchableMetrics({ namespace: METRICS_NAMESPACE });
  private readonly pools: PoolGauges | undefined;
  private readonly gaugeIntervalMs: number;
  private readonly now: () => number;
  private gaugesDueAt = 0;

  constructor(options: PowertoolsRequestMetricsOptions = {}) {
    this.metrics.clearDefaultDimensions();
    this.pools = options.pools;
    this.gaugeIntervalMs = options.gaugeIntervalMs ?? POOL_GAUGE_INTERVAL_MS;
    this.now = options.now ?? Date.now;
  }

  record(usage: UsageRecord, facts: RequestFacts): void {
    if (this.metrics.off) return;
    const tier = usage.tierServed;
    // `tier` as the record's default dimension, projected into both sets: [tier, route, outcome]
    // and [tier] (the empty set). Adding `tier` to two sets instead would make Powertools warn of
    // a key collision on every record.
    this.metrics.setDefaultDimensions({ tier });
    try {
      this.metrics.addDimensions({ route: usage.route, outcome: usage.outcome });
      this.metrics.addDimensions({});
      this.addRequestMetrics(usage, facts);
      this.publish(usage.tenantId, usage.requestId);
    } finally {
      this.metrics.clearDefaultDimensions();
    }
    if (facts.plannedTier !== tier) {
      this.metrics.addDimensions({ tier: facts.plannedTier });
      this.add('fallbacks', 1);
      this.metrics.addMetadata('tierServed', tier);
      this.publish(usage.tenantId, usage.requestId);
    }
    this.publishGaugesIfDue();
  }

  private addRequestMetrics(usage: UsageRecord, facts: RequestFacts): void {
    this.add('requests', 1);
    this.add('latency', usage.totalMs);
    if (usage.ttftMs !== null) this.add('ttft', usage.ttftMs);
    if (usage.tpotMs !== null) this.add('tpot', usage.tpotMs);
    if (usage.sloMet !== null) {
      this.add('sloJudged', 1);
      this.add('sloAttained', usage.sloMet ? 1 : 0);
    }
    this.add('promptTokens', usage.promptTokens);
    this.add('completionTokens', usage.completionTokens);
    if (facts.kvRecomputed) this.add('kvRecompute', 1);
  }

  refused(refusal: Refusal): void {
    if (this.metrics.off) return;
    this.metrics.addDimensions({ tier: refusal.tier, reason: refusal.reason });
    this.add('refused', 1);
    this.publish(refusal.tenantId, refusal.requestId);
    this.publishGaugesIfDue();
  }

  backendError(failure: BackendFailure): void {
    if (this.metrics.off) return;
    this.metrics.addDimensions({ pool: failure.pool, class: failure.errorClass });
    this.add('backendErrors', 1);
    if (failure.upstreamStatus !== null) this.metrics.addMetadata('upstreamStatus', String(failure.upstreamStatus));
    this.metrics.addMetadata('requestId', failure.requestId);
    this.metrics.publishStoredMetrics();
  }

  /** Publishes the pool gauges if the interval has passed since they last were. */
  private publishGaugesIfDue(): void {
    if (!this.pools) return;
    const now = this.now();
    if (now < this.gaugesDueAt) return;
    this.gaugesDueAt = now + this.gaugeIntervalMs;
    for (const gauge of this.pools.poolGauges()) {
      this.metrics.addDimensions({ pool: gauge.pool, role: gauge.role });
      this.add('poolHealthyEndpoints', gauge.healthy);
      this.add('poolInFlight', gauge.inFlight);
      this.metrics.publishStoredMetrics();
    }
  }

  private add(key: MetricKey, value: number): void {
    const spec = METRICS[key];
    this.metrics.addMetric(spec.name, spec.unit, value);
  }

  private publish(tenantId: string, requestId: string): void {
    this.metrics.addMetadata('tenant', tenantId);
    this.metrics.addMetadata('requestId', requestId);
    this.metrics.publishStoredMetrics();
  }
}
