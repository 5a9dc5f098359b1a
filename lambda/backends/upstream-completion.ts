/**
 * An upstream completion as the plan steps see it: a whole JSON body, or batches of SSE `data:`
 * payloads, one batch per delivery of the transport (everything one network read brought), so the
 * relay writes once per delivery.
 */
import { StringDecoder } from 'node:string_decoder';
import { createParser } from 'eventsource-parser';
import { UpstreamError } from '../core/errors.ts';
import { statusError, transportError } from './upstream-client.ts';
import type { UpstreamCompletion, UpstreamReply } from '../core/backend-ports.ts';

/** Reads a non-streamed upstream answer as a JSON object. */
export function readJson(reply: UpstreamReply, pool: string): Promise<Record<string, unknown>> {
  // Promise chains rather than `async` functions on the per-request path: fewer promises each.
  return reply.body.text().then(
    (text) => {
      try {
        const json: unknown = JSON.parse(text);
        if (typeof json === 'object' && json !== null && !Array.isArray(json)) return json as Record<string, unknown>;
      } catch {
        // fall through
      }
      throw new UpstreamError(`The ${pool} backend answered with a body that is not a JSON object.`, 502, false, pool);
    },
    (err: unknown) => {
      // A silence past the pool's timeout mid-body is a timeout, as before the headers.
      const failure = transportError(err, { pool, signal: NOT_ABORTED });
      throw failure instanceof UpstreamError && failure.statusCode === 504
        ? new UpstreamError(`The ${pool} backend timed out before its answer was complete.`, 504, true, pool)
        : new UpstreamError(`The ${pool} backend closed the connection before its answer was complete.`, 502, true, pool);
    },
  );
}

/** For {@link transportError} where no caller's signal is at hand (a read whose caller left fails anyway). */
const NOT_ABORTED = new AbortController().signal;

/**
 * Splits an upstream SSE body into batches of `data:` payloads (without the `data: ` prefix),
 * one batch per network chunk. A connection that ends without `[DONE]` or breaks throws an
 * {@link UpstreamError} so the caller can tell the client instead of cutting silently.
 */
export function sseBatches(reply: UpstreamReply, pool: string, signal: AbortSignal): AsyncIterableIterator<string[]> {
  return new SseBatches(reply, pool, signal);
}

const DONE: IteratorReturnResult<undefined> = { done: true, value: undefined };

/** {@link sseBatches}: a plain iterator (one promise per network chunk, not a generator's several). */
class SseBatches implements AsyncIterableIterator<string[]> {
  private readonly chunks: AsyncIterator<Uint8Array>;
  private readonly decoder = new StringDecoder('utf8');
  private readonly parser = createParser({ onEvent: (event) => this.onEvent(event.data) });
  private pending: string[] = [];
  private sawDone = false;
  private closed = false;

  constructor(
    private readonly reply: UpstreamReply,
    private readonly pool: string,
    private readonly signal: AbortSignal,
  ) {
    this.chunks = reply.body[Symbol.asyncIterator]();
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<string[]> {
    return this;
  }

  private onEvent(data: string): void {
    this.pending.push(data);
    if (data === '[DONE]') this.sawDone = true;
  }

  next(): Promise<IteratorResult<string[]>> {
    if (this.closed) return Promise.resolve(DONE);
    return this.chunks.next().then(
      (chunk): IteratorResult<string[]> | Promise<IteratorResult<string[]>> => {
        if (chunk.done) {
          this.close();
          if (!this.sawDone) throw new UpstreamError(`The ${this.pool} backend ended the stream early.`, 502, true, this.pool);
          return DONE;
        }
        this.parser.feed(this.decoder.write(chunk.value as Buffer));
        if (this.pending.length === 0) return this.next();
        const batch = this.pending;
        this.pending = [];
        return { value: batch, done: false };
      },
      (err: unknown) => {
        this.close();
        if (this.signal.aborted) throw this.signal.reason instanceof Error ? this.signal.reason : err;
        // A silence past the pool's timeout is a timeout, whatever broke the connection otherwise.
        const failure = transportError(err, { pool: this.pool, signal: this.signal });
        throw failure instanceof UpstreamError && failure.statusCode === 504
          ? new UpstreamError(`The ${this.pool} backend timed out in the middle of the stream.`, 504, true, this.pool)
          : new UpstreamError(`The ${this.pool} backend dropped the stream.`, 502, true, this.pool);
      },
    );
  }

  return(): Promise<IteratorResult<string[]>> {
    this.close();
    return Promise.resolve(DONE);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.reply.body.cancel();
  }
}

/**
 * Turns a 2xx reply into an {@link UpstreamCompletion} of the expected kind. A stream resolves
 * once its first batch has arrived; one that opens with an error event (before any output) is
 * rejected as the status the event names would have been: vLLM refuses a streamed request this
 * way when the engine will not take it (its response has already started), e.g. "Got priority N
 * but Priority scheduling is not enabled." with `"code": 400`. So the plan can retry, fall back,
 * or resend without the engine priority, exactly as for a refused plain request.
 */
export function toCompletion(
  reply: UpstreamReply,
  stream: boolean,
  pool: string,
  signal: AbortSignal,
): Promise<UpstreamCompletion> {
  if (!stream) return readJson(reply, pool).then((json) => ({ kind: 'json', json }));
  const batches = sseBatches(reply, pool, signal);
  return batches.next().then((first) => {
    const refusal = first.done ? undefined : leadingError(first.value, pool);
    if (refusal) {
      void batches.return?.();
      throw refusal;
    }
    return { kind: 'stream', batches: replayFirst(first, batches) };
  });
}

/** The error a stream's first event reports, when it opens with one. */
function leadingError(batch: readonly string[], pool: string): Error | undefined {
  const data = batch[0];
  if (data === undefined || data.charCodeAt(0) !== 123 || !data.includes('"error"')) return undefined;
  let event: { error?: { code?: unknown } | string; object?: unknown; code?: unknown };
  try {
    event = JSON.parse(data) as typeof event;
  } catch {
    return undefined;
  }
  if (event.error === undefined && event.object !== 'error') return undefined;
  const code = Number(typeof event.error === 'object' ? event.error?.code : event.code);
  return statusError(Number.isInteger(code) && code >= 400 && code <= 599 ? code : 502, data, pool);
}

/** `rest`, with the batch already read from it handed out first. */
function replayFirst(first: IteratorResult<string[]>, rest: AsyncIterator<string[]>): AsyncIterator<string[]> {
  let pending: IteratorResult<string[]> | undefined = first;
  return {
    next: () => {
      if (!pending) return rest.next();
      const out = pending;
      pending = undefined;
      return Promise.resolve(out);
    },
    return: () => {
      pending = undefined;
      return rest.return?.() ?? Promise.resolve(DONE);
    },
  };
}
