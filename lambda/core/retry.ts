/**
 * Bounded retry of one plan step in the in-process executor, with the shared policy
 * (lambda/core/plan-policy.ts): only transient upstream failures, exponential backoff, abortable.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { backoffDelay } from './backoff.ts';
import type { Backoff } from './backoff.ts';
import { TASK_RETRY } from './plan-policy.ts';
import { isTransient, settled } from './plan-steps.ts';

/** The in-process retries' delays: the state machine's rule, from a shorter first interval. */
const IN_PROCESS_BACKOFF: Backoff = { baseMs: TASK_RETRY.inProcessIntervalMs, rate: TASK_RETRY.backoffRate };

/**
 * Runs `attempt`, retrying transient failures up to `TASK_RETRY.maxRetries` times.
 *
 * @param onRetry - called before each retry (for logs and counters)
 */
export function withRetry<T>(
  attempt: () => Promise<T>,
  signal: AbortSignal,
  onRetry?: (err: unknown, retry: number) => void,
): Promise<T> {
  // A promise chain, not an async loop: the common case (no retry) costs one promise.
  const run = (retry: number): Promise<T> =>
    settled(attempt).catch(async (err: unknown) => {
      if (retry >= TASK_RETRY.maxRetries || !isTransient(err) || signal.aborted) throw err;
      onRetry?.(err, retry + 1);
      await sleep(backoffDelay(IN_PROCESS_BACKOFF, retry + 1), undefined, { signal });
      return run(retry + 1);
    });
  return run(0);
}
