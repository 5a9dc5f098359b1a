/**
 * Cheap token estimates for admission (reserved, then reconciled with the backend's real usage).
 */
import type { ApiKind, GenerationBody } from './request-schema.ts';

const CHARS_PER_TOKEN = 4;

function textLength(value: unknown): number {
  if (typeof value === 'string') return value.length;
  if (Array.isArray(value)) return value.reduce((n: number, part) => n + textLength(part), 0);
  if (value && typeof value === 'object') {
    const part = value as { text?: unknown; content?: unknown };
    return textLength(part.text ?? part.content ?? '');
  }
  return 0;
}

/** Estimated prompt tokens of a request (≈ 4 characters a token, at least 1). */
export function estimatePromptTokens(api: ApiKind, body: GenerationBody): number {
  const chars = api === 'chat' ? textLength(body.messages) : textLength(body.prompt);
  return Math.max(1, Math.ceil(chars / CHARS_PER_TOKEN));
}

/** The completion tokens a request may use: its own limit, else the configured default. */
export function maxCompletionTokens(body: GenerationBody, defaultMaxTokens: number): number {
  return body.max_completion_tokens ?? body.max_tokens ?? defaultMaxTokens;
}
