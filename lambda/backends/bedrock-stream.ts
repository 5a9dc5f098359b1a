/**
 * ConverseStream events → OpenAI stream chunks, as batches of SSE `data:` payloads (one batch per
 * Bedrock event that yields output): `messageStart` → the role chunk, text deltas → `delta.content`,
 * `toolUse` starts and input deltas → `delta.tool_calls`, `messageStop` → `finish_reason`,
 * `metadata` → the usage chunk (`choices: []`), then `[DONE]`. A stream that ends before
 * `messageStop`, or carries an exception, throws a gateway error.
 */
import type { ConverseStreamOutput } from '@aws-sdk/client-bedrock-runtime';
import type { ApiKind } from '../core/request-schema.ts';
import { bedrockError } from './bedrock-errors.ts';
import type { CompletionIdentity } from './bedrock-response.ts';
import { finishReason, openaiUsage } from './bedrock-response.ts';

/** Stream members that carry an exception instead of an event. */
const EXCEPTION_MEMBERS = [
  'internalServerException',
  'modelStreamErrorException',
  'serviceUnavailableException',
  'throttlingException',
  'validationException',
] as const;

/** What {@link converseChunks} needs to know about the request. */
export interface StreamContext {
  readonly api: ApiKind;
  readonly identity: CompletionIdentity;
  readonly pool: string;
  readonly signal: AbortSignal;
  /** Closes the Bedrock stream; called when the consumer stops before the stream's end. */
  readonly cancel?: () => void;
}

/**
 * Turns one ConverseStream event into chunk payloads. Keeps the state a stream needs across
 * events: which content blocks are tool calls and their OpenAI `index`.
 */
export class ConverseChunker {
  private readonly toolIndex = new Map<number, number>();
  /** Set once `messageStop` was seen: the answer is complete. */
  stopped = false;

  constructor(private readonly context: Pick<StreamContext, 'api' | 'identity' | 'pool'>) {}

  private chunk(choices: unknown[], extra: Record<string, unknown> = {}): string {
    const object = this.context.api === 'chat' ? 'chat.completion.chunk' : 'text_completion';
    return JSON.stringify({ ...this.context.identity, object, choices, ...extra });
  }

  private delta(delta: Record<string, unknown>, finish: string | null = null): string {
    if (this.context.api === 'text') return this.chunk([{ index: 0, text: delta.content ?? '', logprobs: null, finish_reason: finish }]);
    return this.chunk([{ index: 0, delta, logprobs: null, finish_reason: finish }]);
  }

  /** The payloads of one event (possibly none); throws the mapped error of an exception member. */
  event(event: ConverseStreamOutput): string[] {
    for (const member of EXCEPTION_MEMBERS) {
      const exception = (event as unknown as Record<string, unknown>)[member] as { message?: string } | undefined;
      if (exception) throw bedrockError({ name: member, message: exception.message }, this.context.pool);
    }
    if (event.messageStart) {
      return this.context.api === 'chat' ? [this.delta({ role: 'assistant', content: '' })] : [];
    }
    if (event.contentBlockStart) {
      const tool = event.contentBlockStart.start?.toolUse;
      if (!tool || this.context.api !== 'chat') return [];
      const index = this.toolIndex.size;
      this.toolIndex.set(event.contentBlockStart.contentBlockIndex ?? 0, index);
      return [this.delta({ tool_calls: [{ index, id: tool.toolUseId, type: 'function', function: { name: tool.name, arguments: '' } }] })];
    }
    if (event.contentBlockDelta) {
      const delta = event.contentBlockDelta.delta;
      if (typeof delta?.text === 'string') return delta.text.length > 0 ? [this.delta({ content: delta.text })] : [];
      const index = this.toolIndex.get(event.contentBlockDelta.contentBlockIndex ?? 0);
      if (delta?.toolUse && index !== undefined) {
        return [this.delta({ tool_calls: [{ index, function: { arguments: delta.toolUse.input ?? '' } }] })];
      }
      return [];
    }
    if (event.messageStop) {
      this.stopped = true;
      return [this.delta({}, finishReason(event.messageStop.stopReason))];
    }
    if (event.metadata) return [this.chunk([], { usage: openaiUsage(event.metadata.usage) })];
    return [];
  }
}

/**
 * The batches of a ConverseStream: one per event with output, `[DONE]` after the stream ends.
 * Bedrock sends `metadata` (usage) after `messageStop`, so the usage chunk precedes `[DONE]`.
 *
 * @throws UpstreamError (or InvalidRequestError for a validation exception) when the stream
 *   breaks, carries an exception, or ends before `messageStop`
 */
export async function* converseChunks(events: AsyncIterable<ConverseStreamOutput>, context: StreamContext): AsyncGenerator<string[]> {
  const chunker = new ConverseChunker(context);
  let ended = false;
  try {
    for await (const event of events) {
      const batch = chunker.event(event);
      if (batch.length > 0) yield batch;
    }
    ended = true;
  } catch (err) {
    throw bedrockError(err, context.pool, context.signal);
  } finally {
    // Returning from the SDK's event iterator does not close the HTTP/2 stream; aborting does.
    if (!ended) context.cancel?.();
  }
  if (!chunker.stopped) throw bedrockError({ name: 'ModelStreamErrorException', message: 'the stream ended before messageStop' }, context.pool, context.signal);
  yield ['[DONE]'];
}
