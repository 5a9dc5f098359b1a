/**
 * Batch slots of one simulated replica: at most `capacity` sequences run at once; the rest wait.
 * The waiting queue follows the engine's scheduling policy, as vLLM's scheduler does:
 *
 * - `fcfs` (vLLM's default): first come, first served.
 * - `priority` (vLLM's `--scheduling-policy priority`): the waiter with the lowest `priority`
 *   value is admitted first, first come first served among equal values. Running sequences are
 *   never preempted for a waiting one (vLLM preempts only when the KV cache runs out, which the
 *   simulator does not model).
 *
 * A waiter whose client goes away leaves the queue.
 */

/** Scheduling policies of the waiting queue (vLLM's `--scheduling-policy`). */
export const SCHEDULING_POLICIES = ['fcfs', 'priority'] as const;
/** One of {@link SCHEDULING_POLICIES}. */
export type SchedulingPolicy = (typeof SCHEDULING_POLICIES)[number];

/** Releases a slot; calling it more than once is harmless. */
export type ReleaseSlot = () => void;

interface Waiter {
  readonly priority: number;
  readonly seq: number;
  readonly grant: (release: ReleaseSlot) => void;
}

/** A counting semaphore whose waiters are ordered by the scheduling policy. */
export class BatchSlots {
  private running = 0;
  private seq = 0;
  /** Kept sorted by (priority, arrival): the head is admitted next. */
  private readonly waiters: Waiter[] = [];

  constructor(
    private readonly capacity: number,
    private readonly policy: SchedulingPolicy = 'fcfs',
  ) {}

  /** Sequences holding a slot. */
  get active(): number {
    return this.running;
  }

  /** Sequences waiting for a slot. */
  get queued(): number {
    return this.waiters.length;
  }

  /** The slot count. */
  get slots(): number {
    return this.capacity;
  }

  /**
   * Waits for a slot. Rejects with the signal's reason if it aborts while queued. `onQueued` is
   * called when the caller has to wait. `priority` orders the queue under the `priority` policy
   * (lower first) and is ignored under `fcfs`.
   */
  acquire(signal: AbortSignal, priority = 0, onQueued?: () => void): Promise<ReleaseSlot> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.running < this.capacity) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    onQueued?.();
    return new Promise<ReleaseSlot>((resolve, reject) => {
      const waiter: Waiter = {
        priority: this.policy === 'priority' ? priority : 0,
        seq: this.seq++,
        grant: (release) => {
          signal.removeEventListener('abort', onAbort);
          resolve(release);
        },
      };
      const onAbort = (): void => {
        const i = this.waiters.indexOf(waiter);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(signal.reason);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.enqueue(waiter);
    });
  }

  /** Inserts after every waiter that goes before it (binary search: lower priority value, then earlier arrival). */
  private enqueue(waiter: Waiter): void {
    let lo = 0;
    let hi = this.waiters.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.waiters[mid]!.priority <= waiter.priority) lo = mid + 1;
      else hi = mid;
    }
    this.waiters.splice(lo, 0, waiter);
  }

  private releaser(): ReleaseSlot {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiters.shift();
      if (next) next.grant(this.releaser());
      else this.running--;
    };
  }
}
