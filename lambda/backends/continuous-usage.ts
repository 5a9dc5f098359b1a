/**
 * Running usage on streams: a streamed call asks the engine for the usage so far on every chunk
 * (`stream_options.continuous_usage_stats`, a field of vLLM's and SGLang's `StreamOptions`), so
 * that a stream the client abandons is metered at what the engine counted up to its last chunk,
 * not at an estimate. The stream shaper keeps the last figures and hides them from a client that
 * did not ask for them (lambda/core/response-shape.ts).
 */
import type { PoolConfig } from '../core/config.ts';
import { isHostedOpenAI } from './engine-priority.ts';

/**
 * Whether a pool's engines are asked for the usage so far on every stream chunk
 * (`stream_options.continuous_usage_stats`, vLLM's and SGLang's `StreamOptions`): the pool's
 * `continuousUsage` setting, else on for vllm-nixl, sglang and openai pools except endpoints at
 * api.openai.com (which refuses fields it does not know), never for Bedrock.
 */
export function sendsContinuousUsage(pool: PoolConfig | undefined): boolean {
  if (!pool || pool.protocol === 'bedrock') return false;
  return pool.continuousUsage ?? !isHostedOpenAI(pool);
}

/**
 * A streamed call asks for the usage on every chunk where the pool sends it, so that a stream the
 * client abandons is metered at what the engine counted up to its last chunk, not at an estimate
 * (the shaper keeps the last figures and hides them from a client that did not ask,
 * lambda/core/response-shape.ts). Sets the field on `out`, the caller's own copy, and returns it.
 *
 * @example
 * const out = withContinuousUsage(upstreamBody(body, call.target), call.pool);
 */
export function withContinuousUsage(out: Record<string, unknown>, pool: PoolConfig | undefined): Record<string, unknown> {
  if (out.stream !== true || !sendsContinuousUsage(pool)) return out;
  const options = out.stream_options;
  out.stream_options = { ...(typeof options === 'object' && options !== null ? options : {}), include_usage: true, continuous_usage_stats: true };
  return out;
}
