/**
 * The OpenAI / vLLM wire shapes the simulator answers with: `chat.completion`,
 * `chat.completion.chunk`, `text_completion`, SSE framing and error bodies. Pure string/object
 * builders; the timing of when each piece is written lives in pacing.ts and completions.ts.
 */

/** The two completion APIs served. */
export type CompletionApi = 'chat' | 'completion';

/** Why generation stopped. */
export type FinishReason = 'stop' | 'length' | 'tool_calls';

/** Token counts, as OpenAI reports them. */
export interface Usage {
  readonly prompt_tokens: number;
  readonly completion_tokens: number;
  readonly total_tokens: number;
  /** Prompt tokens served from the prefix cache (only from a simulator with one, as vLLM with `--enable-prompt-tokens-details`). */
  readonly prompt_tokens_details?: { readonly cached_tokens: number };
}

/** A forced function call: its id and name (arguments are the reply's pieces). */
export interface ToolCallSpec {
  readonly id: string;
  readonly name: string;
}

/** Everything needed to render one reply, streamed or not. */
export interface ReplySpec {
  readonly api: CompletionApi;
  readonly id: string;
  readonly created: number;
  readonly model: string;
  /** Output pieces, one per simulated token: text tokens, or tool-call argument fragments. */
  readonly pieces: readonly string[];
  readonly finishReason: FinishReason;
  readonly promptTokens: number;
  readonly includeUsage: boolean;
  /**
   * `stream_options.continuous_usage_stats` (with `include_usage`), as vLLM and SGLang serve it:
   * every chunk carries the usage so far (prompt, and the completion tokens sent up to it).
   */
  readonly continuousUsage?: boolean;
  readonly tool?: ToolCallSpec;
  /** Prompt tokens found in the prefix cache; absent when the simulator has none. */
  readonly cachedTokens?: number;
  /** Top-level fields added to a non-stream answer (e.g. vLLM's `kv_transfer_params`). */
  readonly extra?: Record<string, unknown>;
}

/** Usage of a reply. */
export function usageOf(spec: ReplySpec): Usage {
  const completion = spec.pieces.length;
  const usage = { prompt_tokens: spec.promptTokens, completion_tokens: completion, total_tokens: spec.promptTokens + completion };
  return spec.cachedTokens === undefined ? usage : { ...usage, prompt_tokens_details: { cached_tokens: spec.cachedTokens } };
}

/** One SSE event line for a JSON payload. */
export function sseData(payload: unknown): string {
  return `data: ${JSON.stringify(payload)}\n\n`;
}

/** The SSE terminator. */
export const SSE_DONE = 'data: [DONE]\n\n';

/** A chunk; `sent`: completion tokens sent up to and including it (for continuous usage). */
function chunkObject(spec: ReplySpec, choices: unknown[], sent: number): Record<string, unknown> {
  const object = spec.api === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  const base: Record<string, unknown> = { id: spec.id, object, created: spec.created, model: spec.model, choices };
  if (spec.continuousUsage) {
    // vLLM's key order (UsageInfo: prompt, total, completion).
    base['usage'] = { prompt_tokens: spec.promptTokens, total_tokens: spec.promptTokens + sent, completion_tokens: sent };
  } else if (spec.includeUsage) base['usage'] = null;
  return base;
}

function chatDelta(spec: ReplySpec, index: number): Record<string, unknown> {
  const piece = spec.pieces[index] ?? '';
  if (!spec.tool) return { content: piece };
  if (index === 0) {
    return { tool_calls: [{ index: 0, id: spec.tool.id, type: 'function', function: { name: spec.tool.name, arguments: piece } }] };
  }
  return { tool_calls: [{ index: 0, function: { arguments: piece } }] };
}

/**
 * SSE events for pieces [from, to). The first chat event carries `delta.role: "assistant"`; the
 * last piece carries the finish reason.
 */
export function streamPieces(spec: ReplySpec, from: number, to: number): string {
  let out = '';
  if (from === 0 && spec.api === 'chat') {
    out += sseData(chunkObject(spec, [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], 0));
  }
  const last = spec.pieces.length - 1;
  for (let i = from; i < to && i <= last; i++) {
    const finish = i === last ? spec.finishReason : null;
    const choice =
      spec.api === 'chat'
        ? { index: 0, delta: chatDelta(spec, i), logprobs: null, finish_reason: finish }
        : { index: 0, text: spec.pieces[i] ?? '', logprobs: null, finish_reason: finish, stop_reason: null };
    out += sseData(chunkObject(spec, [choice], i + 1));
  }
  return out;
}

/** The end of a stream: the usage chunk when `include_usage` was asked, then `[DONE]`. */
export function streamTail(spec: ReplySpec): string {
  if (!spec.includeUsage) return SSE_DONE;
  const object = spec.api === 'chat' ? 'chat.completion.chunk' : 'text_completion';
  return sseData({ id: spec.id, object, created: spec.created, model: spec.model, choices: [], usage: usageOf(spec) }) + SSE_DONE;
}

/** The non-stream answer object. */
export function completeBody(spec: ReplySpec): Record<string, unknown> {
  const joined = spec.pieces.join('');
  let choice: Record<string, unknown>;
  if (spec.api === 'completion') {
    choice = { index: 0, text: joined, logprobs: null, finish_reason: spec.finishReason, stop_reason: null };
  } else if (spec.tool) {
    const call = { id: spec.tool.id, type: 'function', function: { name: spec.tool.name, arguments: joined } };
    choice = { index: 0, message: { role: 'assistant', content: null, tool_calls: [call] }, logprobs: null, finish_reason: spec.finishReason };
  } else {
    choice = { index: 0, message: { role: 'assistant', content: joined }, logprobs: null, finish_reason: spec.finishReason };
  }
  return {
    id: spec.id,
    object: spec.api === 'chat' ? 'chat.completion' : 'text_completion',
    created: spec.created,
    model: spec.model,
    choices: [choice],
    usage: usageOf(spec),
    ...spec.extra,
  };
}

/** An OpenAI-shaped error body for an HTTP status. */
export function errorBody(status: number, message: string, param: string | null = null): { error: { message: string; type: string; param: string | null; code: string | null } } {
  const type = status >= 500 ? 'server_error' : status === 429 ? 'rate_limit_error' : 'invalid_request_error';
  const code = status === 429 ? 'rate_limit_exceeded' : status >= 500 ? 'internal_error' : null;
  return { error: { message, type, param, code } };
}
