/**
 * One CloudWatch embedded-metric-format record (a JSON line on stdout that CloudWatch Logs turns
 * into metrics), with one metric directive per dimension set of lambda/core/metric-catalogue.ts:
 * each metric is published with exactly its catalogue dimensions, and several metrics with
 * different dimensions share one record.
 *
 * Why not Powertools Metrics, which the rest of the functions' observability uses: it writes one
 * directive per record, every dimension set applying to every metric (TTFT would also be
 * published by route and outcome: metrics nobody reads, each billed as a custom metric), and it
 * adds a `service` dimension the dashboard would have to carry; and it is 10.5 KB of a gateway
 * bundle at its 300 KB budget. The record here follows the EMF specification and is written as
 * Powertools writes it: a line on `process.stdout`, past the runtime's console (whose JSON log
 * format would wrap it).
 */
import type { MetricDimension, MetricKey } from '../core/metric-catalogue.ts';
import { METRICS, METRICS_NAMESPACE } from '../core/metric-catalogue.ts';

/** The values of a record: metrics by catalogue key, the dimensions they need, and properties (searchable, never dimensions). */
export interface EmfValues {
  readonly metrics: ReadonlyArray<readonly [MetricKey, number]>;
  readonly dimensions: Readonly<Partial<Record<MetricDimension, string>>>;
  readonly properties?: Readonly<Record<string, string | number>>;
}

/**
 * The EMF record of `values` at `timestamp` (epoch ms): one directive per distinct dimension set
 * of its metrics, in the order the metrics come.
 *
 * @throws Error when a metric's dimension has no value (it would be published under another set)
 * @example
 * emfRecord(Date.now(), { metrics: [['requests', 1], ['ttft', 45]], dimensions: { tier: 'priority', route: 'disaggregated', outcome: 'ok' } });
 * // {"_aws":{"Timestamp":…,"CloudWatchMetrics":[
 * //   {"Namespace":"Splitserve","Dimensions":[["tier","route","outcome"]],"Metrics":[{"Name":"Requests","Unit":"Count"}]},
 * //   {"Namespace":"Splitserve","Dimensions":[["tier"]],"Metrics":[{"Name":"TimeToFirstToken","Unit":"Milliseconds"}]}]},
 * //  "tier":"priority","route":"disaggregated","outcome":"ok","Requests":1,"TimeToFirstToken":45}
 */
export function emfRecord(timestamp: number, values: EmfValues): Record<string, unknown> {
  const directives = new Map<string, { Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }>();
  const root: Record<string, unknown> = { ...values.properties };
  for (const [key, value] of values.metrics) {
    const spec = METRICS[key];
    for (const dimension of spec.dimensions) {
      const given = values.dimensions[dimension];
      if (given === undefined || given === '') throw new Error(`${spec.name} needs a value for its dimension "${dimension}"`);
      root[dimension] = given;
    }
    const set = spec.dimensions.join('\u0000');
    let directive = directives.get(set);
    if (!directive) directives.set(set, (directive = { Namespace: METRICS_NAMESPACE, Dimensions: [[...spec.dimensions]], Metrics: [] }));
    directive.Metrics.push({ Name: spec.name, Unit: spec.unit });
    root[spec.name] = value;
  }
  return { _aws: { Timestamp: timestamp, CloudWatchMetrics: [...directives.values()] }, ...root };
}

/** Whether EMF output is switched off: `POWERTOOLS_METRICS_DISABLED` true (the local runtimes, except at DEBUG). */
export function emfDisabled(env: NodeJS.ProcessEnv = process.env): boolean {
  return ['true', '1', 'yes', 'on'].includes((env.POWERTOOLS_METRICS_DISABLED ?? '').trim().toLowerCase());
}

/** Writes a line to stdout directly (not through the runtime's console). */
export function stdoutLine(line: string): void {
  process.stdout.write(`${line}\n`);
}
