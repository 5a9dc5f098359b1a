/**
 * Exponential backoff, the one delay rule of every retry loop in the gateway: the plan steps'
 * in-process retries (retry.ts), the store's batch writes and window adjustments.
 */

/** How the delay grows between retries. */
export interface Backoff {
  /** Delay before the first retry, in milliseconds. */
  readonly baseMs: number;
  /** Factor applied per further retry. @default 2 */
  readonly rate?: number;
  /** Largest delay. @default no cap */
  readonly maxMs?: number;
}

/**
 * The delay before retry number `retry` (1 for the first): `baseMs × rate^(retry − 1)`, at most
 * `maxMs`.
 *
 * @example
 * backoffDelay({ baseMs: 25, maxMs: 1000 }, 3); // 100
 */
export function backoffDelay(backoff: Backoff, retry: number): number {
  const delay = backoff.baseMs * (backoff.rate ?? 2) ** Math.max(0, retry - 1);
  return backoff.maxMs === undefined ? delay : Math.min(backoff.maxMs, delay);
}
