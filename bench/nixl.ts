/**
 * The vLLM NIXL prefill → decode hand-off, as bodies: shared by the bare pipe, the overload
 * bench's relay and the load generator's "direct" mode so all do exactly what the gateway does.
 */

/** JSON object body of an OpenAI-style request. */
export type JsonBody = Record<string, unknown>;

/**
 * The prefill body and its `kv_transfer_params`: the gateway's own definitions (one place says
 * what the protocol sends), so the pipe and the direct client do exactly what the gateway does.
 */
export { PREFILL_KV_REQUEST, prefillBody } from '../lambda/backends/vllm-nixl.ts';

/** The `kv_transfer_params` of a prefill answer, opaque; `undefined` when absent. */
export function kvParamsOf(prefillAnswer: unknown): unknown {
  if (typeof prefillAnswer !== 'object' || prefillAnswer === null) return undefined;
  const kv = (prefillAnswer as JsonBody)['kv_transfer_params'];
  return kv === null ? undefined : kv;
}

/**
 * The decode body: the client's original body plus prefill's `kv_transfer_params`, unchanged.
 * Without them (prefill hit EOS or missed its cache) decode recomputes: the body goes as is.
 */
export function decodeBody(body: JsonBody, kvParams: unknown): JsonBody {
  return kvParams === undefined ? body : { ...body, kv_transfer_params: kvParams };
}
