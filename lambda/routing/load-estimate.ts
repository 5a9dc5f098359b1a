/**
 * What an engine's load reading says now: pure arithmetic on the last `/metrics` reading of an
 * endpoint and the gateway's own calls to it since, used by endpoint selection (policy.ts views)
 * and by overload control (overload.ts).
 *
 * A reading is at most one poll interval old. Calls this gateway instance started or finished
 * since are added or taken away (`outstanding − outstandingAt`), so one instance's own traffic is
 * seen at once; other instances' traffic (every Lambda instance polls on its own) is seen only at
 * the next reading: that is what the staleness costs, a burst from elsewhere admitted for up to
 * one interval. The completion rate is sampled only over readings that show a queue (the pool
 * directory), so it is the rate a full engine serves at, which is what a waiting request waits on.
 */

/** One `/metrics` reading of an endpoint, with what the gateway had in flight to it then. */
export interface LoadReading {
  readonly running: number;
  readonly waiting: number;
  readonly kvUsage?: number;
  /** When it was read (ms). */
  readonly at: number;
  /** The gateway's own calls in flight to the endpoint when it was read. */
  readonly outstandingAt: number;
}

/**
 * Requests in the engine now (running + waiting): the reading plus the calls this instance
 * started since, minus those it finished, and never fewer than the calls it has in flight.
 *
 * @example
 * estimatedRequests({ running: 8, waiting: 2, at: 0, outstandingAt: 4 }, 6); // 12
 */
export function estimatedRequests(reading: LoadReading, outstanding: number): number {
  return Math.max(outstanding, reading.running + reading.waiting + outstanding - reading.outstandingAt);
}

/**
 * Requests waiting in the engine now: those beyond its batch capacity. `capacity` is the running
 * count of the last reading that showed a queue; with none seen yet the engine is taken to have
 * had room (0 waiting).
 *
 * @example
 * estimatedWaiting({ running: 8, waiting: 2, at: 0, outstandingAt: 4 }, 6, 8); // 4
 */
export function estimatedWaiting(reading: LoadReading, outstanding: number, capacity: number | undefined): number {
  if (capacity === undefined) return 0;
  return Math.max(0, estimatedRequests(reading, outstanding) - capacity);
}

/** Weight of the newest interval in the completion rate. */
export const RATE_SMOOTHING = 0.5;

/**
 * The completion rate (requests per second) after a new counter reading: an exponentially
 * weighted mean of the per-interval rates. A counter that went backwards (an engine restart) or
 * an empty interval leaves the rate as it was.
 *
 * @example
 * nextCompletionRate(undefined, { count: 100, at: 0 }, { count: 120, at: 1000 }); // 20
 */
export function nextCompletionRate(
  rate: number | undefined,
  previous: { readonly count: number; readonly at: number },
  current: { readonly count: number; readonly at: number },
): number | undefined {
  const seconds = (current.at - previous.at) / 1000;
  const done = current.count - previous.count;
  if (seconds <= 0 || done < 0) return rate;
  const sample = done / seconds;
  return rate === undefined ? sample : rate + RATE_SMOOTHING * (sample - rate);
}
