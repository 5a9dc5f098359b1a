/**
 * Turns a completion request into the reply it gets: output length, deterministic text (or a
 * forced tool call), finish reason, usage. Pure given the seed.
 */
import { hashString, mulberry32, randomHex } from './prng.ts';
import { estimatePromptTokens, forcedTool, generateTokens, promptText, splitFragments, toolArguments } from './text.ts';
import type { CompletionApi, ReplySpec } from './openai-format.ts';

/** Output tokens are capped here, whatever the request asks (bounds every loop). */
export const MAX_OUTPUT_TOKENS = 100_000;

/** A request's output length, or a 400 message when the field is invalid. */
export type MaxTokens = { readonly tokens: number; readonly explicit: boolean } | { readonly error: string };

/** `max_completion_tokens` ?? `max_tokens` ?? `fallback`. */
export function requestedMaxTokens(body: Record<string, unknown>, fallback: number): MaxTokens {
  for (const field of ['max_completion_tokens', 'max_tokens'] as const) {
    const v = body[field];
    if (v === undefined || v === null) continue;
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) return { error: `${field} must be a positive integer` };
    return { tokens: Math.min(v, MAX_OUTPUT_TOKENS), explicit: true };
  }
  return { tokens: fallback, explicit: false };
}

/** Input of {@link buildReply}. */
export interface ReplyInput {
  readonly api: CompletionApi;
  readonly body: Record<string, unknown>;
  readonly model: string;
  readonly requestId: string;
  readonly maxTokens: number;
  /** True when the client set the length: finishing at it reports `length`. */
  readonly explicitMax: boolean;
  /** The simulator's seed. */
  readonly seed: number;
  readonly created: number;
  readonly extra?: Record<string, unknown>;
  /** Prompt tokens found in the prefix cache, when the simulator has one. */
  readonly cachedTokens?: number;
}

/**
 * The reply to a request. Its text depends only on the simulator seed, the prompt, the request's
 * own `seed` field and the length, so the same request gets the same text on every run and in
 * any arrival order.
 */
export function buildReply(input: ReplyInput): ReplySpec {
  const { api, body } = input;
  const salt = `${promptText(body)}|${String(body['seed'] ?? '')}|${input.maxTokens}`;
  const rnd = mulberry32(hashString(salt, (input.seed >>> 0) ^ 0x811c9dc5));
  const includeUsage = body['stream'] === true && isIncludeUsage(body['stream_options']);
  const continuousUsage = includeUsage && (body['stream_options'] as Record<string, unknown>)['continuous_usage_stats'] === true;
  const base = {
    api,
    id: `${api === 'chat' ? 'chatcmpl' : 'cmpl'}-${input.requestId}`,
    created: input.created,
    model: input.model,
    promptTokens: estimatePromptTokens(body),
    includeUsage,
    continuousUsage,
    ...(input.extra ? { extra: input.extra } : {}),
    ...(input.cachedTokens !== undefined ? { cachedTokens: input.cachedTokens } : {}),
  };
  const tool = api === 'chat' ? forcedTool(body) : undefined;
  if (tool) {
    const pieces = splitFragments(toolArguments(rnd, tool)).slice(0, Math.max(1, input.maxTokens));
    return { ...base, pieces, finishReason: 'tool_calls', tool: { id: `chatcmpl-tool-${randomHex(rnd, 16)}`, name: tool.name } };
  }
  return { ...base, pieces: generateTokens(rnd, input.maxTokens), finishReason: input.explicitMax ? 'length' : 'stop' };
}

function isIncludeUsage(options: unknown): boolean {
  return !!options && typeof options === 'object' && (options as Record<string, unknown>)['include_usage'] === true;
}
