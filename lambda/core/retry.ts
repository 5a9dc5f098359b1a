/**
 * Bounded retry of one plan step in the in-process executor, with the shared policy
 * (lambda/core/plan-policy.ts): only transient upstream failures, exponential backoff, abortable.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { TASK_RETRY } from './plan-policy.ts';
import { isTransient } from './plan-steps.ts';

/**
 * Runs `attempt`, retrying transient failures up to `TASK_RETRY.maxRetries` times.
 *
 * @param onRetry - called before each retry (for logs and counters)
 */
export async function withRetry<T>(
  attempt: () => Promise<T>,
  signal: AbortSignal,
  onRetry?: (err: unknown, retry: number) => void,
): Promise<T> {
  let delay: number = TASK_RETRY.inProcessIntervalMs;
  for (let retry = 0; ; retry += 1) {
    try {
      return await attempt();
    } catch (err) {
      if (retry >= TASK_RETRY.maxRetries || !isTransient(err) || signal.aborted) throw err;
      onRetry?.(err, retry + 1);
      await sleep(delay, undefined, { signal });
      delay *= TASK_RETRY.backoffRate;
    }
  }
}
