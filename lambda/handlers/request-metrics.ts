/**
 * Per-request CloudWatch metrics in embedded metric format (Powertools Metrics), by tier served,
 * route and outcome: request count, TTFT, latency, tokens, downgrades and KV recomputes (a
 * disaggregated request whose prefill returned no KV-transfer parameters).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { METRICS_NAMESPACE } from '../core/metric-catalogue.ts';
import type { RequestMetrics, UsageRecord } from '../core/ports.ts';

export { METRICS_NAMESPACE };

/**
 * Emits one EMF record per request. One Powertools `Metrics` for the process: a new one per
 * request built a `Console` each time (about 5% of the stack runtime's CPU profile under load);
 * `publishStoredMetrics` clears the metrics and dimensions after each record, and a record is
 * built and published synchronously, so requests never mix.
 */
export class PowertoolsRequestMetrics implements RequestMetrics {
  private readonly metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'gateway' });

  record(usage: UsageRecord, kvRecomputed: boolean): void {
    const metrics = this.metrics;
    metrics.addDimensions({ tier: usage.tierServed, route: usage.route, outcome: usage.outcome });
    metrics.addMetric('Requests', MetricUnit.Count, 1);
    metrics.addMetric('Latency', MetricUnit.Milliseconds, usage.totalMs);
    if (usage.ttftMs !== null) metrics.addMetric('TimeToFirstToken', MetricUnit.Milliseconds, usage.ttftMs);
    metrics.addMetric('PromptTokens', MetricUnit.Count, usage.promptTokens);
    metrics.addMetric('CompletionTokens', MetricUnit.Count, usage.completionTokens);
    if (usage.tierAsked !== 'auto' && usage.tierAsked !== usage.tierServed) metrics.addMetric('TierChanged', MetricUnit.Count, 1);
    if (kvRecomputed) metrics.addMetric('KvRecompute', MetricUnit.Count, 1);
    metrics.publishStoredMetrics();
  }
}
