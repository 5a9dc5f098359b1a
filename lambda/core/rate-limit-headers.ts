/**
 * OpenAI's rate-limit response headers from an admission ticket's figures.
 */
import type { RateLimitState } from './ports.ts';

/** Formats a duration as OpenAI does in `x-ratelimit-reset-*` (e.g. `1s`, `6m0s`, `120ms`). */
export function formatReset(ms: number): string {
  if (ms < 1000) return `${Math.max(0, Math.ceil(ms))}ms`;
  const seconds = Math.ceil(ms / 1000);
  if (seconds < 60) return `${seconds}s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes}m${seconds % 60}s`;
  return `${Math.floor(minutes / 60)}h${minutes % 60}m${seconds % 60}s`;
}

/** Adds the `x-ratelimit-*` headers for the figures present to `headers`, and returns it. */
export function addRateLimitHeaders(headers: Record<string, string>, state: RateLimitState | undefined): Record<string, string> {
  if (!state) return headers;
  if (state.limitRequests !== undefined) headers['x-ratelimit-limit-requests'] = String(state.limitRequests);
  if (state.remainingRequests !== undefined) headers['x-ratelimit-remaining-requests'] = String(Math.max(0, state.remainingRequests));
  if (state.resetRequestsMs !== undefined) headers['x-ratelimit-reset-requests'] = formatReset(state.resetRequestsMs);
  if (state.limitTokens !== undefined) headers['x-ratelimit-limit-tokens'] = String(state.limitTokens);
  if (state.remainingTokens !== undefined) headers['x-ratelimit-remaining-tokens'] = String(Math.max(0, state.remainingTokens));
  if (state.resetTokensMs !== undefined) headers['x-ratelimit-reset-tokens'] = formatReset(state.resetTokensMs);
  return headers;
}
