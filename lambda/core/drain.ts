/**
 * The end of a gateway instance's requests: when it stops, new requests are refused (503
 * `server_shutting_down`), the admitted ones get until a drain deadline to finish, and those
 * still running then are ended with that error (a stream: an error event, then `[DONE]`), so
 * each is answered and metered, never cut silently.
 *
 * The count covers admitted generation requests from admission to their metering (a stream's
 * last event). Both runtimes drain the same way: the Node server (`npm start -- --runtime node`)
 * and the local stack runtime, which calls the gateway function's `shutdown` export. A deployed
 * Lambda is never stopped with an invocation in flight: there the deadline is the function's
 * time limit (lambda/handlers/gateway-stream.ts).
 */
import { ShuttingDownError } from './errors.ts';

/** Time in-flight requests get to finish when `npm start` stops. */
export const DEFAULT_DRAIN_MS = 10_000;

/** Time the requests ended at the deadline get to write their last event and be metered. */
const SETTLE_MS = 2000;

/**
 * Tracks a gateway instance's in-flight requests and ends them at a drain deadline.
 *
 * @example
 * const drain = new RequestDrain();
 * drain.enter(); // at admission … drain.leave(); // once metered
 * await drain.stop(10_000); // at shutdown: refuse new ones, wait, then end the rest
 */
export class RequestDrain {
  private readonly deadline = new AbortController();
  private inFlight = 0;
  private stopping = false;
  private idle: (() => void) | undefined;

  /** Aborted, with a {@link ShuttingDownError}, when the drain deadline passes. */
  get signal(): AbortSignal {
    return this.deadline.signal;
  }

  /** True once {@link stop} was called: new requests are refused. */
  get draining(): boolean {
    return this.stopping;
  }

  /** Requests admitted and not yet metered. */
  get active(): number {
    return this.inFlight;
  }

  enter(): void {
    this.inFlight += 1;
  }

  leave(): void {
    this.inFlight -= 1;
    if (this.inFlight === 0) this.idle?.();
  }

  /**
   * Refuses new requests, waits up to `drainMs` for the in-flight ones, then ends the rest with
   * a {@link ShuttingDownError} and waits (briefly) for them to be answered and metered.
   * Resolves with the number of requests ended at the deadline.
   */
  async stop(drainMs: number): Promise<number> {
    this.stopping = true;
    if (await this.untilIdle(drainMs)) return 0;
    const ended = this.inFlight;
    this.deadline.abort(new ShuttingDownError());
    await this.untilIdle(SETTLE_MS);
    return ended;
  }

  /** True when no request is in flight within `ms`. */
  private untilIdle(ms: number): Promise<boolean> {
    if (this.inFlight === 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.idle = undefined;
        resolve(false);
      }, ms);
      this.idle = () => {
        clearTimeout(timer);
        this.idle = undefined;
        resolve(true);
      };
    });
  }
}
