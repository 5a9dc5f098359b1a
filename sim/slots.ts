/**
 * Batch slots of one simulated replica: at most `capacity` sequences run at once; the rest wait
 * in FIFO order. A waiter whose client goes away leaves the queue.
 */

/** Releases a slot; calling it more than once is harmless. */
export type ReleaseSlot = () => void;

interface Waiter {
  readonly grant: (release: ReleaseSlot) => void;
}

/** A FIFO counting semaphore. */
export class BatchSlots {
  private running = 0;
  private readonly waiters: Waiter[] = [];

  constructor(private readonly capacity: number) {}

  /** Sequences holding a slot. */
  get active(): number {
    return this.running;
  }

  /** Sequences waiting for a slot. */
  get queued(): number {
    return this.waiters.length;
  }

  /**
   * Waits for a slot (FIFO). Rejects with the signal's reason if it aborts while queued.
   * `onQueued` is called when the caller has to wait.
   */
  acquire(signal: AbortSignal, onQueued?: () => void): Promise<ReleaseSlot> {
    if (signal.aborted) return Promise.reject(signal.reason);
    if (this.running < this.capacity) {
      this.running++;
      return Promise.resolve(this.releaser());
    }
    onQueued?.();
    return new Promise<ReleaseSlot>((resolve, reject) => {
      const waiter: Waiter = {
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
      this.waiters.push(waiter);
    });
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
