/**
 * The vLLM NIXL prefill → decode hand-off (DESIGN.md section 2), as bodies: shared by the minimal
 * relay and by the load generator's "direct" mode so both do exactly the same thing.
 */

/** JSON object body of an OpenAI-style request. */
export type JsonBody = Record<string, unknown>;

/** `kv_transfer_params` sent to prefill: "compute the KV cache, keep it for a remote decode". */
export const PREFILL_KV_REQUEST = {
  do_remote_decode: true,
  do_remote_prefill: false,
  remote_engine_id: null,
  remote_block_ids: null,
  remote_host: null,
  remote_port: null,
} as const;

const STRIPPED_FOR_PREFILL = ['stream_options', 'min_tokens', 'min_completion_tokens'] as const;

/**
 * The prefill body: the client's body with `stream:false`, `max_tokens:1` (and
 * `max_completion_tokens:1` if present), no `stream_options` / `min_tokens` /
 * `min_completion_tokens`, plus {@link PREFILL_KV_REQUEST}.
 */
export function prefillBody(body: JsonBody): JsonBody {
  const out: JsonBody = { ...body, stream: false, max_tokens: 1, kv_transfer_params: PREFILL_KV_REQUEST };
  if ('max_completion_tokens' in body) out['max_completion_tokens'] = 1;
  for (const key of STRIPPED_FOR_PREFILL) delete out[key];
  return out;
}

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
