/**
 * An inference engine's load as its Prometheus `/metrics` reports it, read with
 * `parse-prometheus-text-format`. vLLM and SGLang name the same gauges differently; both are
 * understood, and every series of a name is summed (one engine may label several models or
 * data-parallel ranks).
 *
 * | reading | vLLM | SGLang |
 * |---|---|---|
 * | running | `vllm:num_requests_running` | `sglang:num_running_reqs` |
 * | waiting | `vllm:num_requests_waiting` | `sglang:num_queue_reqs` |
 * | KV-cache use (0..1) | `vllm:kv_cache_usage_perc` (older: `vllm:gpu_cache_usage_perc`) | `sglang:token_usage` |
 * | requests finished (counter) | `vllm:request_success_total` | `sglang:num_requests_total` |
 */
import parsePrometheusTextFormat from 'parse-prometheus-text-format';

/** What routing and overload control read of one engine. */
export interface EngineLoad {
  /** Requests in the engine's running batch. */
  readonly running: number;
  /** Requests waiting for a place in it. */
  readonly waiting: number;
  /** KV-cache use, 0..1, when reported. */
  readonly kvUsage?: number;
  /** Requests finished since the engine started (a counter), when reported. */
  readonly completed?: number;
}

const NAMES = {
  running: ['vllm:num_requests_running', 'sglang:num_running_reqs'],
  waiting: ['vllm:num_requests_waiting', 'sglang:num_queue_reqs'],
  kvUsage: ['vllm:kv_cache_usage_perc', 'vllm:gpu_cache_usage_perc', 'sglang:token_usage'],
  completed: ['vllm:request_success_total', 'sglang:num_requests_total'],
} as const;

/**
 * The load in a `/metrics` text; undefined when it is not Prometheus text or reports neither
 * running nor waiting requests (not an engine this understands).
 *
 * @example
 * parseEngineLoad('vllm:num_requests_running{model_name="m"} 8\nvllm:num_requests_waiting{model_name="m"} 3\n');
 * // { running: 8, waiting: 3 }
 */
export function parseEngineLoad(text: string): EngineLoad | undefined {
  let families;
  try {
    // The format ends every line with a line feed; without the last one the parser drops the last sample.
    families = parsePrometheusTextFormat(text.endsWith('\n') ? text : `${text}\n`);
  } catch {
    return undefined;
  }
  const sums = new Map<string, number>();
  for (const family of families) {
    let sum = 0;
    let seen = false;
    for (const sample of family.metrics) {
      if (sample.value === undefined || sample.value.trim() === '') continue;
      const value = Number(sample.value);
      if (!Number.isFinite(value)) continue;
      sum += value;
      seen = true;
    }
    // A name whose samples come in more than one group (not well-formed, but seen) adds up.
    if (seen) sums.set(family.name, (sums.get(family.name) ?? 0) + sum);
  }
  const read = (names: readonly string[]): number | undefined => {
    for (const name of names) {
      const v = sums.get(name);
      if (v !== undefined) return v;
    }
    return undefined;
  };
  const running = read(NAMES.running);
  const waiting = read(NAMES.waiting);
  if (running === undefined && waiting === undefined) return undefined;
  const kvUsage = read(NAMES.kvUsage);
  const completed = read(NAMES.completed);
  return {
    running: Math.max(0, running ?? 0),
    waiting: Math.max(0, waiting ?? 0),
    ...(kvUsage !== undefined ? { kvUsage: Math.min(1, Math.max(0, kvUsage)) } : {}),
    ...(completed !== undefined ? { completed } : {}),
  };
}
