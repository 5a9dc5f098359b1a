/**
 * Per-request CloudWatch metrics in embedded metric format (Powertools Metrics), by tier served,
 * route and outcome: request count, TTFT, latency, tokens, downgrades and KV recomputes (a
 * disaggregated request whose prefill returned no KV-transfer parameters).
 */
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { RequestMetrics, UsageRecord } from '../core/ports.ts';

/** Namespace of splitserve's metrics. */
export const METRICS_NAMESPACE = 'Splitserve';

/** Emits one EMF record per request. */
export class PowertoolsRequestMetrics implements RequestMetrics {
  record(usage: UsageRecord, kvRecomputed: boolean): void {
    const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'gateway' });
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
