/**
 * The bounded values of the metrics' `reason` and `class` dimensions (lambda/core/metric-catalogue.ts),
 * read off the typed errors: a refusal's reason, a failed backend call's class. Anything that is
 * not one of these sets never becomes a dimension.
 */
import { InsufficientQuotaError, RateLimitError, RequestTooLargeError, TierOverloadedError } from './errors.ts';
import type { UpstreamError } from './errors.ts';
import type { BackendErrorClass, RefusalReason } from './ports.ts';

/** Every refusal reason, in the order the status page lists them. */
export const REFUSAL_REASONS = ['requests', 'tokens', 'quota', 'too-large', 'overload'] as const satisfies readonly RefusalReason[];

/** Every backend error class. */
export const BACKEND_ERROR_CLASSES = ['timeout', 'connection', 'throttled', 'http-5xx', 'http-4xx', 'bad-response'] as const satisfies readonly BackendErrorClass[];

/**
 * Why a request was refused before a backend was called, or undefined when `err` is not such a
 * refusal: a full window (`requests`, `tokens`), a spent month (`quota`), a request no window can
 * ever hold (`too-large`), or overload control shedding it (`overload`).
 *
 * @example
 * refusalReason(new RateLimitError('…', 1000, 'tokens'));   // 'tokens'
 * refusalReason(new Error('boom'));                          // undefined
 */
export function refusalReason(err: unknown): RefusalReason | undefined {
  if (err instanceof TierOverloadedError) return 'overload';
  if (err instanceof RequestTooLargeError) return 'too-large';
  if (err instanceof InsufficientQuotaError) return 'quota';
  if (err instanceof RateLimitError) return err.type === 'tokens' ? 'tokens' : 'requests';
  return undefined;
}

/**
 * The class of a failed backend call: `timeout` (the backend went silent), `throttled` (it
 * answered 429 or 503), `http-5xx`, `http-4xx`, `connection` (unreachable, or the connection or
 * stream dropped) or `bad-response` (an answer that could not be used).
 *
 * @example
 * backendErrorClass(new UpstreamError('…', 502, true, 'gpu', 500));   // 'http-5xx'
 */
export function backendErrorClass(err: UpstreamError): BackendErrorClass {
  const status = err.upstreamStatus;
  if (err.statusCode === 504) return 'timeout';
  if (status === 429 || status === 503) return 'throttled';
  if (status !== null && status >= 500) return 'http-5xx';
  if (status !== null && status >= 400) return 'http-4xx';
  return err.retryable ? 'connection' : 'bad-response';
}
