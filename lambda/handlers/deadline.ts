/**
 * A Lambda invocation's deadline for the gateway core: ends the request a margin before the
 * function's time limit, so it is answered (a stream: an error event and `[DONE]`) and metered
 * while the invocation still runs, instead of being cut by Lambda with no record.
 */
import type { Context } from 'aws-lambda';
import { RequestTimeoutError } from '../core/errors.ts';

/** Time kept back from the function's time limit to answer and meter the request. */
export const DEADLINE_MARGIN_MS = 2000;

/** A deadline signal and how to disarm it. */
export interface InvocationDeadline {
  /** Aborted with a {@link RequestTimeoutError} {@link DEADLINE_MARGIN_MS} before the time limit. */
  readonly signal: AbortSignal;
  /** Disarms the timer (the request ended). */
  clear(): void;
}

/**
 * Arms the deadline of one invocation.
 *
 * @example
 * const deadline = invocationDeadline(context);
 * try { … gateway({ …, deadline: deadline.signal }) … } finally { deadline.clear(); }
 */
export function invocationDeadline(context: Pick<Context, 'getRemainingTimeInMillis'>): InvocationDeadline {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(new RequestTimeoutError()), Math.max(0, context.getRemainingTimeInMillis() - DEADLINE_MARGIN_MS));
  return { signal: controller.signal, clear: () => clearTimeout(timer) };
}
