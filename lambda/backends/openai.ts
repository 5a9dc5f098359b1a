/**
 * Any OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, a hosted API) serving both phases:
 * the body passes through; upstream errors are mapped by the upstream client.
 */
import type { BackendCall } from './backend-target.ts';
import { postTo, upstreamBody } from './backend-target.ts';
import type { BackendProtocol } from './protocol.ts';
import type { UpstreamCompletion } from './upstream-completion.ts';
import { toCompletion } from './upstream-completion.ts';

/** Runs one aggregated completion, streamed or not as the body asks. */
export function runAggregated(call: BackendCall, body: Record<string, unknown>): Promise<UpstreamCompletion> {
  const out = upstreamBody(body, call.target);
  return postTo(call, out).then((reply) => toCompletion(reply, out.stream === true, call.target.pool, call.signal));
}

/** Any OpenAI-compatible server: aggregated routes only. */
export const openaiCompatible: BackendProtocol = { aggregated: { complete: runAggregated } };
