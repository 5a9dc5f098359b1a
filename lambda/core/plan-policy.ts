/**
 * Retry policy of plan tasks, shared by the state machine's `Retry` rules (lib/orchestration.ts)
 * and the in-process executor, so both executors retry the same errors the same number of times.
 */

/** Retries of a failed prefill or decode call before the plan falls back. */
export const TASK_RETRY = {
  /** Retries after the first attempt. */
  maxRetries: 2,
  /** State machine: first retry interval (ASL needs whole seconds). */
  intervalSeconds: 1,
  backoffRate: 2,
  /**
   * In-process (streaming) executor: first retry interval. Shorter than the state machine's
   * whole second because a streaming client is waiting for its first token.
   */
  inProcessIntervalMs: 50,
} as const;
