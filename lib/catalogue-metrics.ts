/**
 * CloudWatch metrics and search expressions over splitserve's metric catalogue
 * (lambda/core/metric-catalogue.ts), for the dashboard and the alarms: names, namespace and
 * dimension names come from the catalogue only.
 */
import { Duration } from 'aws-cdk-lib';
import { MathExpression, Metric } from 'aws-cdk-lib/aws-cloudwatch';
import { METRICS, METRICS_NAMESPACE, type MetricDimension, type MetricKey } from '../lambda/core/metric-catalogue.ts';

/** The default period of the dashboard's graphs. */
export const GRAPH_PERIOD = Duration.minutes(1);

/** Options of {@link catalogueMetric}. */
export interface CatalogueMetricOptions {
  /** Statistic (`Sum`, `Maximum`, `p99`...). */
  readonly statistic: string;
  /** @default GRAPH_PERIOD */
  readonly period?: Duration;
  /** @default - the metric name and dimension values */
  readonly label?: string;
}

/**
 * One series of a catalogue metric: every dimension the catalogue lists must be given a value
 * (an EMF metric is stored under its exact dimension set).
 *
 * @throws Error when a dimension is missing or not the catalogue's
 * @example
 * catalogueMetric('ttft', { tier: 'priority' }, { statistic: 'p99' })
 */
export function catalogueMetric(key: MetricKey, dimensions: Partial<Record<MetricDimension, string>>, options: CatalogueMetricOptions): Metric {
  const spec = METRICS[key];
  const given = Object.keys(dimensions).sort();
  if (given.join() !== [...spec.dimensions].sort().join()) {
    throw new Error(`${spec.name} is published with dimensions [${spec.dimensions.join(', ')}], not [${given.join(', ')}]`);
  }
  return new Metric({
    namespace: METRICS_NAMESPACE,
    metricName: spec.name,
    dimensionsMap: dimensions as Record<string, string>,
    statistic: options.statistic,
    period: options.period ?? GRAPH_PERIOD,
    ...(options.label !== undefined ? { label: options.label } : {}),
  });
}

/**
 * A CloudWatch `SEARCH` over a catalogue metric's dimension set, optionally narrowed to some
 * dimension values: one series per dimension combination found (e.g. Refused by tier and reason).
 *
 * @example
 * searchExpression('refused', {}, 'Sum') // SEARCH('{Splitserve,tier,reason} MetricName="Refused"', 'Sum', 60)
 */
export function searchExpression(key: MetricKey, filter: Partial<Record<MetricDimension, string>>, statistic: string, period = GRAPH_PERIOD): string {
  const spec = METRICS[key];
  const terms = [`MetricName="${spec.name}"`, ...Object.entries(filter).map(([d, v]) => `${d}="${v}"`)];
  return `SEARCH('{${[METRICS_NAMESPACE, ...spec.dimensions].join(',')}} ${terms.join(' ')}', '${statistic}', ${period.toSeconds()})`;
}

/**
 * A graphable series from an expression of search results (no named metrics).
 *
 * @example
 * searchSeries(`SUM(${searchExpression('requests', { tier: 'priority' }, 'Sum')})`, 'requests')
 */
export function searchSeries(expression: string, label: string, period = GRAPH_PERIOD): MathExpression {
  return new MathExpression({ expression, label, period, usingMetrics: {} });
}
