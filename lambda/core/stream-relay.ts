/**
 * Relays an opened decode stream to the client as SSE, chunk by chunk as it arrives (no
 * buffering), and reports how it ended exactly once: completed, aborted by the client, or failed.
 * A failure after the first byte becomes a `data: {"error": …}` event followed by `data: [DONE]`
 * (as vLLM ends a failed stream), never a silent cut; so does the request's deadline (`stop`).
 */
import type { RequestRun } from './drain.ts';
import { toGatewayError } from './errors.ts';
import type { OpenedStream } from './executor.ts';
import type { PlanUsage } from './plan.ts';
import type { StreamShaper } from './response-shape.ts';

/** How a relayed stream ended. */
export interface StreamEnd {
  readonly outcome: 'ok' | 'aborted' | 'error';
  readonly usage: PlanUsage;
  readonly error?: unknown;
  /** Upstream events that were not valid JSON, dropped (a backend fault worth a warning). */
  readonly invalidEvents: number;
}

/** What ends a relayed stream from outside. */
export interface RelaySignals {
  /** Aborted when the client goes away: the stream ends without another byte. */
  readonly client: AbortSignal;
  /** The request's run: `stopped` is the error to tell the client when a deadline ended it. */
  readonly run: Pick<RequestRun, 'stopped'>;
}

/**
 * A relayed SSE body. `failure` is what ended it with an error event, as soon as that event is
 * yielded (a door that re-frames the stream types its error from it, not from the event's text).
 */
export interface RelayedBody extends AsyncIterableIterator<string> {
  readonly failure: unknown;
}

/**
 * The SSE body of a streaming response.
 *
 * @param onEnd - called once, just after the stream completes, fails, or the client goes away
 */
export function relayStream(
  opened: OpenedStream,
  shaper: StreamShaper,
  signals: RelaySignals,
  onEnd: (end: StreamEnd) => void,
): RelayedBody {
  return new RelayedStream(opened, shaper, signals, onEnd);
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/**
 * A plain iterator rather than an async generator: one promise per upstream batch instead of a
 * generator's several (the relay is the per-token path).
 */
class RelayedStream implements RelayedBody {
  /** `first`: the primed batch is not sent yet; `closing`: the error event is sent, the end is next. */
  private phase: 'first' | 'streaming' | 'closing' | 'ended' = 'first';
  private outcome: StreamEnd['outcome'] = 'aborted';
  /** What ended the stream with an error event (undefined until then). */
  failure: unknown;

  constructor(
    private readonly opened: OpenedStream,
    private readonly shaper: StreamShaper,
    private readonly signals: RelaySignals,
    private readonly onEnd: (end: StreamEnd) => void,
  ) {}

  [Symbol.asyncIterator](): AsyncIterableIterator<string> {
    return this;
  }

  next(): Promise<IteratorResult<string>> {
    if (this.phase === 'first') {
      this.phase = 'streaming';
      let text: string;
      try {
        text = this.shaper.shape(this.opened.first);
      } catch (err) {
        return Promise.resolve(this.failed(err, true));
      }
      if (text) return Promise.resolve({ value: text, done: false });
    }
    if (this.phase !== 'streaming') {
      this.end();
      return Promise.resolve(DONE);
    }
    return this.pull();
  }

  /** The next non-empty batch, shaped; the end; or the error event of a failure. */
  private pull(): Promise<IteratorResult<string>> {
    return this.opened.rest.next().then(
      (next): IteratorResult<string> | Promise<IteratorResult<string>> => {
        if (next.done) {
          this.outcome = this.shaper.upstreamError ? 'error' : 'ok';
          this.end();
          return DONE;
        }
        let text: string;
        try {
          text = this.shaper.shape(next.value);
        } catch (err) {
          return this.failed(err, true);
        }
        return text ? { value: text, done: false } : this.pull();
      },
      (err: unknown) => this.failed(err, false),
    );
  }

  /**
   * A failure after the first byte: an error event for the client (unless the client is the one
   * that went away), then the end. `upstreamOpen`: the upstream stream still has to be closed.
   */
  private failed(err: unknown, upstreamOpen: boolean): IteratorResult<string> {
    if (upstreamOpen) void this.opened.rest.return?.();
    const { client, run } = this.signals;
    if (client.aborted) {
      this.end();
      return DONE;
    }
    this.outcome = 'error';
    this.failure = run.stopped ?? err;
    this.phase = 'closing';
    return { value: `data: ${JSON.stringify(toGatewayError(this.failure).toJSON())}\n\ndata: [DONE]\n\n`, done: false };
  }

  /** The consumer stopped early (the client went away): close the upstream, then report. */
  async return(): Promise<IteratorResult<string>> {
    if (this.phase === 'ended') return DONE;
    const upstreamOpen = this.phase === 'first' || this.phase === 'streaming';
    this.phase = 'ended';
    if (upstreamOpen) await this.opened.rest.return?.();
    this.report();
    return DONE;
  }

  private end(): void {
    if (this.phase === 'ended') return;
    this.phase = 'ended';
    this.report();
  }

  private report(): void {
    // Reported from the next turn of the event loop: metering and logging are never on the
    // response path, even when the last chunk and the end of the response leave together.
    setImmediate(this.onEnd, {
      outcome: this.outcome,
      error: this.failure,
      invalidEvents: this.shaper.invalidEvents,
      usage: this.usage(),
    });
  }

  /**
   * What the stream used: the engine's final usage for a stream that completed; otherwise the
   * latest running usage the engine reported (`continuous_usage_stats`), never below the chunks
   * relayed, with the prompt as the engine (or the prefill answer) counted it, else the estimate.
   */
  private usage(): { promptTokens: number; completionTokens: number } {
    const seen = this.shaper.usage;
    if (seen && this.outcome === 'ok') return seen;
    const state = this.opened.state;
    return {
      promptTokens: seen && seen.promptTokens > 0 ? seen.promptTokens : (state.prefillPromptTokens ?? state.promptEstimate),
      completionTokens: Math.max(seen?.completionTokens ?? 0, this.shaper.generatedChunks),
    };
  }
}
