/**
 * Where a local runtime hands a function its metrics sink. The local stack runtime loads each
 * function's bundle in its own process and calls the module's `observeLocally` export (as it
 * calls `shutdown`) before the first invocation; the function then feeds the sink with the same
 * calls as its EMF emitter and lets it read its pools' gauges. Deployed, nothing calls it: the
 * functions emit EMF only.
 */
import type { PoolGauges, RequestMetrics } from '../core/ports.ts';

/** A local runtime's metrics sink (lambda/core/metrics-aggregate.ts). */
export interface LocalMetricsSink extends RequestMetrics {
  /** Adds a source of pool gauges (the function's pool directory). */
  watchPools(pools: PoolGauges): void;
}

let sink: LocalMetricsSink | undefined;

/**
 * Feeds `local` with this function module's metrics. Called by the local stack runtime
 * (local/stack/local-lambda.ts) right after it loads the module.
 *
 * @example
 * const mod = await import(bundleUrl);
 * mod.observeLocally?.(aggregate);
 */
export function observeLocally(local: LocalMetricsSink): void {
  sink = local;
}

/** The sink a local runtime handed this module, if any, watching `pools`. */
export function localMetrics(pools: PoolGauges): RequestMetrics | undefined {
  sink?.watchPools(pools);
  return sink;
}
