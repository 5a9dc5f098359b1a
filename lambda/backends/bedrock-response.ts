/**
 * Converse answers → OpenAI objects: a `chat.completion` (or a legacy `text_completion`) with
 * `tool_calls` for `toolUse` blocks, the stop reason mapped to `finish_reason`, and usage.
 * Pure functions over plain data.
 */
import type { ContentBlock, StopReason, TokenUsage } from '@aws-sdk/client-bedrock-runtime';
import type { ApiKind } from '../core/request-schema.ts';

/** OpenAI `finish_reason` values a Bedrock answer can end with. */
export const FINISH_REASONS = {
  stop: 'stop',
  length: 'length',
  toolCalls: 'tool_calls',
  contentFilter: 'content_filter',
} as const;
export type FinishReason = (typeof FINISH_REASONS)[keyof typeof FINISH_REASONS];

/**
 * Converse `stopReason` → OpenAI `finish_reason` (`end_turn`/`stop_sequence` → `stop`,
 * `max_tokens`/context window → `length`, `tool_use` → `tool_calls`, guardrails/filters →
 * `content_filter`; anything new → `stop`).
 */
export function finishReason(stopReason: StopReason | string | undefined): FinishReason {
  switch (stopReason) {
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return FINISH_REASONS.length;
    case 'tool_use':
      return FINISH_REASONS.toolCalls;
    case 'guardrail_intervened':
    case 'content_filtered':
      return FINISH_REASONS.contentFilter;
    default:
      return FINISH_REASONS.stop;
  }
}

/** OpenAI `usage` of Converse token usage (zeros for what Bedrock did not report). */
export function openaiUsage(usage: TokenUsage | undefined): { prompt_tokens: number; completion_tokens: number; total_tokens: number } {
  const prompt = usage?.inputTokens ?? 0;
  const completion = usage?.outputTokens ?? 0;
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: usage?.totalTokens ?? prompt + completion };
}

/** Identity of one OpenAI answer: its id, creation time and model. */
export interface CompletionIdentity {
  readonly id: string;
  readonly created: number;
  readonly model: string;
}

/** The identity of the answer to one request (`chatcmpl-…` / `cmpl-…` from the gateway's request id). */
export function completionIdentity(api: ApiKind, requestId: string, model: string, now = Date.now()): CompletionIdentity {
  return { id: `${api === 'chat' ? 'chatcmpl' : 'cmpl'}-${requestId}`, created: Math.floor(now / 1000), model };
}

/** What {@link toOpenAICompletion} reads of a Converse response. */
export interface ConverseAnswer {
  readonly output?: { readonly message?: { readonly content?: readonly ContentBlock[] | undefined } | undefined } | undefined;
  readonly stopReason?: StopReason | string | undefined;
  readonly usage?: TokenUsage | undefined;
}

/**
 * A Converse response → a `chat.completion` (api `chat`) or `text_completion` (api `text`):
 * text blocks joined, `toolUse` blocks as `tool_calls` (arguments as JSON text), reasoning and
 * other block kinds left out.
 */
export function toOpenAICompletion(answer: ConverseAnswer, api: ApiKind, identity: CompletionIdentity): Record<string, unknown> {
  const blocks = answer.output?.message?.content ?? [];
  const text = blocks.map((b) => b.text ?? '').join('');
  const finish = finishReason(answer.stopReason);
  const usage = openaiUsage(answer.usage);
  if (api === 'text') {
    return { ...identity, object: 'text_completion', choices: [{ index: 0, text, logprobs: null, finish_reason: finish }], usage };
  }
  const toolCalls = blocks
    .filter((b) => b.toolUse !== undefined)
    .map((b) => ({
      id: b.toolUse!.toolUseId,
      type: 'function',
      function: { name: b.toolUse!.name, arguments: JSON.stringify(b.toolUse!.input ?? {}) },
    }));
  const message = {
    role: 'assistant',
    content: text.length > 0 || toolCalls.length === 0 ? text : null,
    ...(toolCalls.length > 0 ? { tool_calls: toolCalls } : {}),
  };
  return { ...identity, object: 'chat.completion', choices: [{ index: 0, message, logprobs: null, finish_reason: finish }], usage };
}
