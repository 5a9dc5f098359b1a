/**
 * Real-time pacing of a reply: waits until each token is due and hands the due tokens to `emit`.
 * Waits shorter than one millisecond are not scheduled: their tokens are batched into the next
 * write, so a high `speedup` costs a handful of timers per reply, not one per token.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { performance } from 'node:perf_hooks';

/** Waits below this many real milliseconds are collapsed into the next write. */
export const MIN_WAIT_MS = 1;

/** Input of {@link paceTokens}. */
export interface PaceInput {
  /** Tokens to produce. */
  readonly count: number;
  /** Real milliseconds until the first token. */
  readonly firstTokenMs: number;
  /** Real milliseconds from one token to the next; evaluated per token (the batch may change). */
  readonly interTokenMs: () => number;
  /** Emits tokens [from, to) in one write. */
  readonly emit: (from: number, to: number) => void;
  readonly signal: AbortSignal;
}

/**
 * Produces `count` tokens on schedule. Rejects with the signal's reason when it aborts.
 *
 * @example
 * await paceTokens({ count: 8, firstTokenMs: 5, interTokenMs: () => 0.3, emit, signal });
 */
export async function paceTokens(input: PaceInput): Promise<void> {
  const { count, emit, signal } = input;
  let due = performance.now() + input.firstTokenMs;
  let next = 0;
  for (let i = 0; i < count; i++) {
    if (i > 0) due += input.interTokenMs();
    const wait = due - performance.now();
    if (wait >= MIN_WAIT_MS) {
      if (i > next) {
        emit(next, i);
        next = i;
      }
      await sleep(wait, undefined, { signal });
    }
  }
  if (count > next) emit(next, count);
  signal.throwIfAborted();
}

/** Sleeps `ms` real milliseconds unless below {@link MIN_WAIT_MS}; rejects if `signal` aborts. */
export async function pause(ms: number, signal: AbortSignal): Promise<void> {
  if (ms >= MIN_WAIT_MS) await sleep(ms, undefined, { signal });
  signal.throwIfAborted();
}
