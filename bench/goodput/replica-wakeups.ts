/**
 * The virtual-time loop the goodput simulations share: replicas' wake-ups on one event queue,
 * interleaved with the arrivals in time order (cluster.ts, affinity.ts).
 */
import { EventQueue } from './event-queue.ts';
import type { Replica, ReplicaEvent, ReplicaJob } from './replica.ts';

/** Replicas' next events, and the loop that runs them with the arrivals; every event goes to `handle`. */
export class ReplicaWakeups {
  private readonly wake = new EventQueue<{ readonly replica: Replica; readonly version: number }>();

  constructor(private readonly handle: (events: readonly ReplicaEvent[]) => void) {}

  /** Gives `job` to `replica` at `now`, handles what that starts, and queues the replica's next event. */
  submit(replica: Replica, job: ReplicaJob, now: number): void {
    this.handle(replica.submit(job, now));
    this.schedule(replica);
  }

  /**
   * Runs until every arrival (sorted by `arrivalMs`) is in and every replica is idle: an arrival
   * goes before a wake-up at the same time.
   */
  run<A extends { readonly arrivalMs: number }>(arrivals: readonly A[], arrive: (arrival: A) => void): void {
    let i = 0;
    while (i < arrivals.length || this.wake.size > 0) {
      const arrival = arrivals[i];
      if (arrival && arrival.arrivalMs <= this.wake.peekTime()) {
        arrive(arrival);
        i++;
        continue;
      }
      const next = this.wake.pop()!;
      if (next.value.version !== next.value.replica.version) continue;
      this.handle(next.value.replica.step(next.at));
      this.schedule(next.value.replica);
    }
  }

  /** Queues the replica's next event; a wake-up left from before the replica changed is skipped. */
  private schedule(replica: Replica): void {
    const at = replica.nextEventAt();
    if (at < Infinity) this.wake.push(at, { replica, version: replica.version });
  }
}
