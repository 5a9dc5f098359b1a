/**
 * splitserve's CloudWatch metrics in embedded metric format (lambda/handlers/emf-record.ts), named,
 * united and dimensioned as lambda/core/metric-catalogue.ts lists them:
 *
 * - one record per request that ended: `Requests` by `[tier, route, outcome]`; latency, TTFT,
 *   TPOT, the SLO verdict (`SloJudged` 1, `SloAttained` 1 or 0), tokens and KV recomputes by
 *   `[tier]` (the tier served). A request served at another tier than planned adds one
 *   `Fallbacks` record by the tier planned;
 * - one `Refused` record per refusal, by `[tier, reason]`;
 * - one `BackendErrors` record per failed backend call, by `[pool, class]`;
 * - the pool gauges (`PoolHealthyEndpoints`, `PoolInFlight`, by `[pool, role]`), one record per
 *   pool at most once per interval, published when a request ends once the interval has passed
 *   (Lambda runs no timers between invocations).
 *
 * Tenant and request id are properties of the records (searchable in the logs), never
 * dimensions. With `POWERTOOLS_METRICS_DISABLED` (the local runtimes, except at DEBUG) nothing is
 * built at all.
 */
import type { MetricKey } from '../core/metric-catalogue.ts';
import { METRICS_NAMESPACE } from '../core/metric-catalogue.ts';
import type { BackendFailure, PoolGauges, Refusal, RequestFacts, RequestMetrics, UsageRecord } from '../core/ports.ts';
import type { EmfValues } from './emf-record.ts';
import { emfDisabled, emfRecord, stdoutLine } from './emf-record.ts';

export { METRICS_NAMESPACE };

/** How often the pool gauges are published at most, by default (ms). */
export const POOL_GAUGE_INTERVAL_MS = 60_000;

/** Options of {@link EmfRequestMetrics}. */
export interface EmfRequestMetricsOptions {
  /** The pools whose gauges are published. @default none */
  readonly pools?: PoolGauges;
  /** Least time between two publications of the pool gauges (ms). @default {@link POOL_GAUGE_INTERVAL_MS} */
  readonly gaugeIntervalMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
  /** Where each record's JSON line goes. @default stdout, past the runtime's console */
  readonly write?: (line: string) => void;
  /** @default `POWERTOOLS_METRICS_DISABLED` is true */
  readonly disabled?: boolean;
}

/**
 * The EMF emitter of the gateway and the plan's task functions. Each record is built and written
 * synchronously.
 *
 * @example
 * const metrics = new EmfRequestMetrics({ pools: poolDirectory });
 * metrics.record(usage, { kvRecomputed: false, plannedTier: 'priority' });
 */
export class EmfRequestMetrics implements RequestMetrics {
  private readonly pools: PoolGauges | undefined;
  private readonly gaugeIntervalMs: number;
  private readonly now: () => number;
  private readonly write: (line: string) => void;
  private readonly disabled: boolean;
  private gaugesDueAt = 0;

  constructor(options: EmfRequestMetricsOptions = {}) {
    this.pools = options.pools;
    this.gaugeIntervalMs = options.gaugeIntervalMs ?? POOL_GAUGE_INTERVAL_MS;
    this.now = options.now ?? Date.now;
    this.write = options.write ?? stdoutLine;
    this.disabled = options.disabled ?? emfDisabled();
  }

  record(usage: UsageRecord, facts: RequestFacts): void {
    if (this.disabled) return;
    const tier = usage.tierServed;
    const metrics: Array<[MetricKey, number]> = [
      ['requests', 1],
      ['latency', usage.totalMs],
    ];
    if (usage.ttftMs !== null) metrics.push(['ttft', usage.ttftMs]);
    if (usage.tpotMs !== null) metrics.push(['tpot', usage.tpotMs]);
    if (usage.sloMet !== null) metrics.push(['sloJudged', 1], ['sloAttained', usage.sloMet ? 1 : 0]);
    metrics.push(['promptTokens', usage.promptTokens], ['completionTokens', usage.completionTokens]);
    if (facts.kvRecomputed) metrics.push(['kvRecompute', 1]);
    const properties = { tenant: usage.tenantId, requestId: usage.requestId };
    this.publish({ metrics, dimensions: { tier, route: usage.route, outcome: usage.outcome }, properties });
    if (facts.plannedTier !== tier) this.publish({ metrics: [['fallbacks', 1]], dimensions: { tier: facts.plannedTier }, properties: { ...properties, tierServed: tier } });
    this.publishGaugesIfDue();
  }

  refused(refusal: Refusal): void {
    if (this.disabled) return;
    this.publish({
      metrics: [['refused', 1]],
      dimensions: { tier: refusal.tier, reason: refusal.reason },
      properties: { tenant: refusal.tenantId, requestId: refusal.requestId },
    });
    this.publishGaugesIfDue();
  }

  backendError(failure: BackendFailure): void {
    if (this.disabled) return;
    this.publish({
      metrics: [['backendErrors', 1]],
      dimensions: { pool: failure.pool, class: failure.errorClass },
      properties: { requestId: failure.requestId, ...(failure.upstreamStatus !== null ? { upstreamStatus: failure.upstreamStatus } : {}) },
    });
  }

  /** Publishes the pool gauges if the interval has passed since they last were. */
  private publishGaugesIfDue(): void {
    if (!this.pools) return;
    const now = this.now();
    if (now < this.gaugesDueAt) return;
    this.gaugesDueAt = now + this.gaugeIntervalMs;
    for (const gauge of this.pools.poolGauges()) {
      this.publish({
        metrics: [
          ['poolHealthyEndpoints', gauge.healthy],
          ['poolInFlight', gauge.inFlight],
        ],
        dimensions: { pool: gauge.pool, role: gauge.role },
      });
    }
  }

  private publish(values: EmfValues): void {
    this.write(JSON.stringify(emfRecord(this.now(), values)));
  }
}
