/**
 * Any OpenAI-compatible server (vLLM, SGLang, TGI, llama.cpp, a hosted API) serving both phases:
 * the body passes through, with the tier's engine priority where the pool sends it
 * (engine-priority.ts); upstream errors are mapped by the upstream client.
 */
import { postTo, upstreamBody } from './backend-target.ts';
import { withContinuousUsage } from './continuous-usage.ts';
import { withEnginePriority } from './engine-priority.ts';
import { toCompletion } from './upstream-completion.ts';
import type { BackendCall, BackendProtocol, UpstreamCompletion } from '../core/backend-ports.ts';

/** Runs one aggregated completion, streamed or not as the body asks. */
export function runAggregated(call: BackendCall, body: Record<string, unknown>): Promise<UpstreamCompletion> {
  const out = withContinuousUsage(upstreamBody(body, call.target), call.pool);
  return withEnginePriority(call.priority?.(call.target), out, (sent) =>
    postTo(call, sent).then((reply) => toCompletion(reply, sent.stream === true, call.target.pool, call.signal)),
  );
}

/** Any OpenAI-compatible server: aggregated routes only. */
export const openaiCompatible: BackendProtocol = { aggregated: { complete: runAggregated } };
