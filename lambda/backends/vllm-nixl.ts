/**
 * vLLM disaggregated prefill → decode over the NIXL connector (also vLLM on Trainium/Neuron and
 * llm-d), exactly as docs/configuration.md (pool protocols) describes and vLLM's `toy_proxy_server.py` do it: a prefill call
 * with `max_tokens: 1` asking for remote decode, then the client's own body sent to decode with
 * the `kv_transfer_params` prefill returned, opaque and unchanged. Same `X-Request-Id` on both,
 * and, where the pool sends it, the tier's engine `priority` on both (engine-priority.ts).
 */
import { postTo, upstreamBody } from './backend-target.ts';
import { copyWithout } from './copy-without.ts';
import { withContinuousUsage } from './continuous-usage.ts';
import { withEnginePriority } from './engine-priority.ts';
import { runAggregated } from './openai.ts';
import { readJson, toCompletion } from './upstream-completion.ts';
import type { BackendCall, BackendProtocol, PrefillResult, UpstreamCompletion } from '../core/backend-ports.ts';

/** KV-transfer parameters as vLLM exchanges them (opaque to the gateway). */
export type KvTransferParams = Record<string, unknown>;

/** How decode obtains the KV cache: it reads prefill's blocks (`pull`) or prefill writes them (`push`). */
export type KvTransferMode = 'pull' | 'push';


/** The `kv_transfer_params` a prefill request carries. */
export const PREFILL_KV_REQUEST = {
  do_remote_decode: true,
  do_remote_prefill: false,
  remote_engine_id: null,
  remote_block_ids: null,
  remote_host: null,
  remote_port: null,
} as const;

const STRIPPED_FOR_PREFILL: ReadonlySet<string> = new Set(['stream_options', 'min_tokens', 'min_completion_tokens']);

/** Builds the prefill body from the client's body. */
export function prefillBody(body: Record<string, unknown>): Record<string, unknown> {
  const out = copyWithout(body, STRIPPED_FOR_PREFILL);
  out.stream = false;
  out.max_tokens = 1;
  if ('max_completion_tokens' in body) out.max_completion_tokens = 1;
  out.kv_transfer_params = PREFILL_KV_REQUEST;
  return out;
}

/**
 * The parameters decode receives: prefill's answer unchanged (`pull`), or in `push` mode the
 * subset that names prefill's engine, without block ids.
 */
export function decodeKvParams(fromPrefill: KvTransferParams, mode: KvTransferMode): KvTransferParams {
  if (mode === 'pull') return fromPrefill;
  return {
    do_remote_prefill: true,
    do_remote_decode: false,
    remote_engine_id: fromPrefill.remote_engine_id,
    remote_request_id: fromPrefill.remote_request_id,
    remote_host: fromPrefill.remote_host,
    remote_port: fromPrefill.remote_port,
    tp_size: fromPrefill.tp_size,
  };
}

/** Runs the prefill call and extracts the KV-transfer parameters. */
export function runPrefill(call: BackendCall, body: Record<string, unknown>): Promise<PrefillResult> {
  return withEnginePriority(call.priority?.(call.target), prefillBody(upstreamBody(body, call.target)), (sent) =>
    postTo(call, sent).then((reply) => readJson(reply, call.target.pool)),
  ).then((json) => {
    const params = json.kv_transfer_params;
    const usage = json.usage as { prompt_tokens?: unknown } | undefined;
    return {
      kvTransferParams: typeof params === 'object' && params !== null ? (params as KvTransferParams) : null,
      promptTokens: typeof usage?.prompt_tokens === 'number' ? usage.prompt_tokens : null,
    };
  });
}

/**
 * Runs the decode call with the client's own body (its `stream` and `max_tokens`); without
 * parameters the decode server recomputes the prompt.
 */
export function runDecode(
  call: BackendCall,
  body: Record<string, unknown>,
  kvTransferParams: KvTransferParams | null,
  mode: KvTransferMode,
): Promise<UpstreamCompletion> {
  const out = withContinuousUsage(upstreamBody(body, call.target), call.pool);
  if (kvTransferParams) out.kv_transfer_params = decodeKvParams(kvTransferParams, mode);
  return withEnginePriority(call.priority?.(call.target), out, (sent) =>
    postTo(call, sent).then((reply) => toCompletion(reply, sent.stream === true, call.target.pool, call.signal)),
  );
}

/** vLLM with the NIXL connector: disaggregated prefill → decode, or one OpenAI-compatible call. */
export const vllmNixl: BackendProtocol = {
  disaggregated: {
    prefill: runPrefill,
    decode: (call, body, params) => runDecode(call, body, params, call.pool?.kvTransfer ?? 'pull'),
  },
  aggregated: { complete: runAggregated },
};
