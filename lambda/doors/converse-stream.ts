/**
 * The gateway's relayed chat stream (SSE text, shaped by the core) → a Bedrock Runtime
 * `ConverseStream` body: binary AWS event-stream messages (`application/vnd.amazon.eventstream`,
 * framed with CRCs by `@smithy/eventstream-codec`, as the service frames them), each batch of the
 * relay one write, so every event is flushed as it comes. Events: `messageStart`,
 * `contentBlockStart` (tool use), `contentBlockDelta` (text, tool input), `contentBlockStop`,
 * `messageStop`, `metadata` (usage, latency, the tier served); a failure mid-stream is the
 * exception event the SDK throws as its typed error.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import type { MessageHeaders } from '@smithy/eventstream-codec';
import { GatewayError } from '../core/errors.ts';
import type { OpenAIErrorBody } from '../core/errors.ts';
import { streamException } from './converse-errors.ts';
import type { StreamException } from './converse-errors.ts';
import { converseStopReason, converseUsage, servedLatency } from './converse-response.ts';

/** Content type of an event-stream body. */
export const EVENT_STREAM_CONTENT_TYPE = 'application/vnd.amazon.eventstream';

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const codec = new EventStreamCodec(
  (bytes) => decoder.decode(bytes),
  (text) => encoder.encode(text),
);

const str = (value: string) => ({ type: 'string' as const, value });
const EVENT_HEADERS = { ':content-type': str('application/json'), ':message-type': str('event') };

/** One event message (`:message-type: event`) with a JSON payload. */
export function encodeEvent(event: string, payload: unknown): Uint8Array {
  const headers: MessageHeaders = { ':event-type': str(event), ...EVENT_HEADERS };
  return codec.encode({ headers, body: encoder.encode(JSON.stringify(payload)) });
}

/** One exception message (`:message-type: exception`), `{"message"}` as its payload. */
export function encodeException(exception: StreamException, message: string): Uint8Array {
  const headers: MessageHeaders = { ':exception-type': str(exception), ':content-type': str('application/json'), ':message-type': str('exception') };
  return codec.encode({ headers, body: encoder.encode(JSON.stringify({ message })) });
}

type Json = Record<string, unknown>;

/** What the stream's `metadata` event needs besides the chunks. */
export interface ConverseStreamOptions {
  /** When the request reached the gateway (ms since the epoch), for `metrics.latencyMs`. */
  readonly startedAt: number;
  /** Whether the request set `performanceConfig.latency: "optimized"`. */
  readonly askedOptimized: boolean;
  /** The error that ended the relayed stream, once it has (types the exception event). @default from the event's body */
  readonly failure?: () => unknown;
}

/**
 * Turns chat chunks into Converse stream events, keeping which content block is open. Text opens
 * a block implicitly (Bedrock sends no `contentBlockStart` for text); each tool call opens its own
 * block with `contentBlockStart`.
 */
export class ConverseEventWriter {
  private started = false;
  /** Whether messageStop has been sent. */
  private stopped = false;
  private finished = false;
  /** Index of the open block, -1 when none. */
  private open = -1;
  private openKind: 'text' | 'tool' | null = null;
  private next = 0;
  /** OpenAI tool-call index → its content block index. */
  private readonly toolBlocks = new Map<number, number>();
  private usage: unknown = undefined;
  private tier = 'default';

  constructor(private readonly options: ConverseStreamOptions) {}

  /** The event-stream bytes of one relayed batch of SSE text (possibly empty). */
  write(sse: string): Uint8Array {
    const frames: Uint8Array[] = [];
    for (const event of sse.split('\n\n')) {
      if (!event.startsWith('data: ') || this.finished) continue;
      const data = event.slice(6);
      if (data === '[DONE]') {
        this.end(frames);
        continue;
      }
      let chunk: Json;
      try {
        chunk = JSON.parse(data) as Json;
      } catch {
        continue;
      }
      if (chunk.error !== undefined) {
        const error = chunk.error as OpenAIErrorBody['error'];
        const failure = this.options.failure?.();
        frames.push(encodeException(streamException(error, failure instanceof GatewayError ? failure : undefined), error.message));
        this.finished = true;
        continue;
      }
      this.chunk(chunk, frames);
    }
    return concat(frames);
  }

  /**
   * What follows when the relayed source has ended: nothing after `[DONE]` or an exception; for a
   * source that ended without either, an `internalServerException`, so a cut-off answer is never
   * read as a complete one.
   */
  close(): Uint8Array {
    if (this.finished) return new Uint8Array(0);
    this.finished = true;
    return encodeException('internalServerException', 'The model\'s stream ended before its answer was complete.');
  }

  private chunk(chunk: Json, frames: Uint8Array[]): void {
    if (typeof chunk.service_tier === 'string') this.tier = chunk.service_tier;
    if (chunk.usage) this.usage = chunk.usage;
    const choice = (chunk.choices as Json[] | undefined)?.[0];
    if (!choice) return;
    this.start(frames);
    const delta = (choice.delta ?? {}) as Json;
    if (typeof delta.content === 'string' && delta.content.length > 0) {
      if (this.openKind !== 'text') this.openBlock(frames, 'text');
      frames.push(encodeEvent('contentBlockDelta', { contentBlockIndex: this.open, delta: { text: delta.content } }));
    }
    for (const call of (delta.tool_calls as Json[] | undefined) ?? []) this.toolCall(call, frames);
    if (choice.finish_reason != null && !this.stopped) {
      this.closeBlock(frames);
      this.stopped = true;
      frames.push(encodeEvent('messageStop', { stopReason: converseStopReason(choice.finish_reason, choice.stop_reason) }));
    }
  }

  private toolCall(call: Json, frames: Uint8Array[]): void {
    const index = typeof call.index === 'number' ? call.index : 0;
    const fn = (call.function ?? {}) as Json;
    if (!this.toolBlocks.has(index)) {
      this.closeBlock(frames);
      const block = this.openBlock(frames, 'tool');
      this.toolBlocks.set(index, block);
      frames.push(encodeEvent('contentBlockStart', { contentBlockIndex: block, start: { toolUse: { toolUseId: String(call.id ?? ''), name: String(fn.name ?? '') } } }));
    }
    if (typeof fn.arguments === 'string' && fn.arguments.length > 0) {
      frames.push(encodeEvent('contentBlockDelta', { contentBlockIndex: this.toolBlocks.get(index), delta: { toolUse: { input: fn.arguments } } }));
    }
  }

  private start(frames: Uint8Array[]): void {
    if (this.started) return;
    this.started = true;
    frames.push(encodeEvent('messageStart', { role: 'assistant' }));
  }

  private openBlock(frames: Uint8Array[], kind: 'text' | 'tool'): number {
    this.closeBlock(frames);
    this.open = this.next++;
    this.openKind = kind;
    return this.open;
  }

  private closeBlock(frames: Uint8Array[]): void {
    if (this.open < 0) return;
    frames.push(encodeEvent('contentBlockStop', { contentBlockIndex: this.open }));
    this.open = -1;
    this.openKind = null;
  }

  private end(frames: Uint8Array[]): void {
    this.start(frames);
    this.closeBlock(frames);
    // Every message ends with messageStop, even from a source that sent no finish reason.
    if (!this.stopped) frames.push(encodeEvent('messageStop', { stopReason: 'end_turn' }));
    this.stopped = true;
    this.finished = true;
    frames.push(
      encodeEvent('metadata', {
        usage: converseUsage(this.usage),
        metrics: { latencyMs: Date.now() - this.options.startedAt },
        serviceTier: { type: this.tier },
        ...(this.options.askedOptimized ? { performanceConfig: { latency: servedLatency(true, this.tier) } } : {}),
      }),
    );
  }
}

function concat(frames: Uint8Array[]): Uint8Array {
  if (frames.length === 1) return frames[0]!;
  return Buffer.concat(frames);
}

/**
 * The ConverseStream body of a relayed SSE body: one write per relayed batch that produced
 * events. Stopping early (the client went away) stops the relay, which closes the upstream.
 */
export async function* converseEventStream(sse: AsyncIterable<string | Uint8Array>, options: ConverseStreamOptions): AsyncGenerator<Uint8Array> {
  const writer = new ConverseEventWriter(options);
  for await (const batch of sse) {
    const bytes = writer.write(typeof batch === 'string' ? batch : decoder.decode(batch));
    if (bytes.length > 0) yield bytes;
  }
  const tail = writer.close();
  if (tail.length > 0) yield tail;
}
