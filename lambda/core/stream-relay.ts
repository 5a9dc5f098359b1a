/**
 * Relays an opened decode stream to the client as SSE, chunk by chunk as it arrives (no
 * buffering), and reports how it ended exactly once: completed, aborted by the client, or failed.
 * A failure after the first byte becomes a `data: {"error": …}` event, never a silent cut.
 */
import { toGatewayError } from './errors.ts';
import type { OpenedStream } from './executor.ts';
import type { PlanUsage } from './plan.ts';
import type { StreamShaper } from './response-shape.ts';

/** How a relayed stream ended. */
export interface StreamEnd {
  readonly outcome: 'ok' | 'aborted' | 'error';
  readonly usage: PlanUsage;
  readonly error?: unknown;
}

/**
 * The SSE body of a streaming response.
 *
 * @param onEnd - called once, just after the stream completes, fails, or the client goes away
 */
export async function* relayStream(
  opened: OpenedStream,
  shaper: StreamShaper,
  signal: AbortSignal,
  onEnd: (end: StreamEnd) => void,
): AsyncGenerator<string> {
  let outcome: StreamEnd['outcome'] = 'aborted';
  let failure: unknown;
  let upstreamDone = false;
  try {
    const first = shaper.shape(opened.first);
    if (first) yield first;
    for (;;) {
      const next = await opened.rest.next();
      if (next.done) break;
      const text = shaper.shape(next.value);
      if (text) yield text;
    }
    upstreamDone = true;
    outcome = shaper.upstreamError ? 'error' : 'ok';
  } catch (err) {
    upstreamDone = true;
    if (!signal.aborted) {
      outcome = 'error';
      failure = err;
      yield `data: ${JSON.stringify(toGatewayError(err).toJSON())}\n\n`;
    }
  } finally {
    if (!upstreamDone) await opened.rest.return?.();
    const state = opened.state;
    // Reported from the next turn of the event loop: metering and logging are never on the
    // response path, even when the last chunk and the end of the response leave together.
    setImmediate(onEnd, {
      outcome,
      error: failure,
      usage: shaper.usage ?? {
        promptTokens: state.prefillPromptTokens ?? state.promptEstimate,
        completionTokens: shaper.generatedChunks,
      },
    });
  }
}
