/**
 * `GET /metrics` of the simulator: the engine gauges and counters a vLLM server exposes in the
 * Prometheus text format (the names and labels of vLLM's `/metrics`), so load-aware routing and
 * overload control run against the simulator exactly as against a real engine.
 *
 * | metric | type | what the simulator reports |
 * |---|---|---|
 * | `vllm:num_requests_running` | gauge | sequences holding a batch slot |
 * | `vllm:num_requests_waiting` | gauge | sequences waiting for one |
 * | `vllm:kv_cache_usage_perc` | gauge | slots in use / slots (an approximation: the simulator has no block allocator) |
 * | `vllm:request_success_total` | counter | calls answered in full |
 * | `vllm:num_preemptions_total` | counter | always 0 (no preemption is modelled) |
 * | `vllm:prefix_cache_queries_total` | counter | prompt tokens looked up in the prefix cache (only with one: sim/prefix-cache.ts) |
 * | `vllm:prefix_cache_hits_total` | counter | of those, tokens found cached (only with a prefix cache) |
 */

/** What the exposition is built from. */
export interface EngineGauges {
  readonly model: string;
  readonly running: number;
  readonly waiting: number;
  readonly slots: number;
  readonly completed: number;
  /** Prefix-cache tokens looked up and found, when the simulator has a prefix cache. */
  readonly prefixCache?: { readonly queries: number; readonly hits: number } | undefined;
}

/** Content type of the Prometheus text exposition format. */
export const METRICS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/**
 * The exposition text.
 *
 * @example
 * metricsText({ model: 'llama-3.1-8b', running: 8, waiting: 3, slots: 8, completed: 120 });
 */
export function metricsText(g: EngineGauges): string {
  const labels = `engine="0",model_name=${JSON.stringify(g.model)}`;
  const metric = (name: string, type: string, help: string, value: number, extra = ''): string =>
    `# HELP ${name} ${help}\n# TYPE ${name} ${type}\n${name}{${extra}${labels}} ${value.toFixed(1)}\n`;
  return (
    metric('vllm:num_requests_running', 'gauge', 'Number of requests in model execution batches.', g.running) +
    metric('vllm:num_requests_waiting', 'gauge', 'Number of requests waiting to be processed.', g.waiting) +
    `# HELP vllm:kv_cache_usage_perc KV-cache usage. 1 means 100 percent usage.\n# TYPE vllm:kv_cache_usage_perc gauge\n` +
    `vllm:kv_cache_usage_perc{${labels}} ${(g.slots > 0 ? g.running / g.slots : 0).toFixed(4)}\n` +
    metric('vllm:request_success_total', 'counter', 'Count of successfully processed requests.', g.completed, 'finished_reason="length",') +
    metric('vllm:num_preemptions_total', 'counter', 'Cumulative number of preemption from the engine.', 0) +
    (g.prefixCache
      ? metric('vllm:prefix_cache_queries_total', 'counter', 'Prefix cache queries, in terms of number of queried tokens.', g.prefixCache.queries) +
        metric('vllm:prefix_cache_hits_total', 'counter', 'Prefix cache hits, in terms of number of cached tokens.', g.prefixCache.hits)
      : '')
  );
}
