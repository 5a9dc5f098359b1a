/**
 * Discovery of registered workers: each gateway instance (a Lambda execution environment, a
 * Step Functions task's environment, a local process) reads each pool's registrations with one
 * Query at most every `refreshMs` and hands the active, unexpired ones to the pool directory,
 * beside the pool's static endpoints. Draining and lapsed registrations leave the selection; the
 * calls they have in flight finish.
 *
 * Bound: a request never selects from a set read more than `refreshMs` ago. The adapters await
 * {@link WorkerDiscovery.ready} before serving (Lambda runs no timers between invocations, so a
 * due read is made on the request path, one per pool, shared by concurrent requests); a local
 * process also reads on a timer, every {@link TIMER_FRACTION} × `refreshMs`, so its requests
 * rarely wait. Reads are strongly consistent, so
 * a registration or deregistration is seen within `refreshMs` (plus the read's own time) by every
 * instance. A failed read keeps the set in hand (lapsed registrations still drop at their
 * `expiresAt`) and is tried again after `refreshMs`.
 */
import type { PoolConfig } from '../core/config.ts';
import type { GatewayLogger } from '../core/logger.ts';
import type { RegisteredWorker } from '../core/worker-registration.ts';
import { registrableHost } from '../core/worker-registration.ts';
import type { RegisteredEndpoint } from './pool-directory.ts';

/** Where registrations are read (lambda/store/worker-registry.ts). */
export interface RegisteredWorkerSource {
  /** The pool's registrations that have not lapsed (active and draining). */
  live(pool: string): Promise<readonly RegisteredWorker[]>;
}

/** What discovery updates (the pool directory). */
export interface RegisteredEndpointSink {
  setRegisteredEndpoints(pool: string, workers: readonly RegisteredEndpoint[]): void;
}

/** Options of {@link WorkerDiscovery}. */
export interface WorkerDiscoveryOptions {
  readonly logger: GatewayLogger;
  /** @default Date.now */
  readonly now?: () => number;
}

/** A long-running process reads a little ahead of the bound, so requests do not wait for the read. */
export const TIMER_FRACTION = 0.8;

interface PoolState {
  readonly refreshMs: number;
  /** The pool's `allowedHosts`: a registration at another host (written before the config changed) is not used. */
  readonly allowedHosts: readonly string[] | undefined;
  /** When the last finished read (successful or not) started: the age of the set in hand. */
  readAt: number;
  reading: Promise<void> | undefined;
  failing: boolean;
}

/** Reads the pools' registered workers into the pool directory. */
export class WorkerDiscovery {
  private readonly pools = new Map<string, PoolState>();
  private readonly now: () => number;
  private readonly timers: NodeJS.Timeout[] = [];
  private closed = false;

  constructor(
    pools: Readonly<Record<string, PoolConfig>>,
    private readonly source: RegisteredWorkerSource,
    private readonly sink: RegisteredEndpointSink,
    private readonly options: WorkerDiscoveryOptions,
  ) {
    this.now = options.now ?? Date.now;
    for (const [name, pool] of Object.entries(pools)) {
      if (pool.registration) this.pools.set(name, { refreshMs: pool.registration.refreshMs, allowedHosts: pool.registration.allowedHosts, readAt: Number.NEGATIVE_INFINITY, reading: undefined, failing: false });
    }
  }

  /** Whether any pool takes registrations. */
  get active(): boolean {
    return this.pools.size > 0;
  }

  /** Resolves once every pool's set is at most `refreshMs` old (reads the due pools, once for all callers). Never rejects. */
  ready(): Promise<void> {
    if (this.closed) return Promise.resolve();
    const now = this.now();
    const due: Promise<void>[] = [];
    for (const [name, state] of this.pools) {
      // A read under way ahead of time (the timer's) is not waited for while the set is fresh.
      if (now - state.readAt >= state.refreshMs) due.push(this.refresh(name));
    }
    return due.length === 0 ? Promise.resolve() : Promise.all(due).then(() => undefined);
  }

  /** Reads one pool's registrations now (joins a read under way). Never rejects. */
  refresh(pool: string): Promise<void> {
    const state = this.pools.get(pool);
    if (!state || this.closed) return Promise.resolve();
    if (state.reading) return state.reading;
    const startedAt = this.now();
    state.reading = this.source
      .live(pool)
      .then(
        (workers) => {
          if (this.closed) return;
          this.sink.setRegisteredEndpoints(
            pool,
            workers.filter((w) => w.state === 'active' && allowed(w.url, state.allowedHosts)).map((w) => ({ url: w.url, expiresAtMs: w.expiresAt * 1000 })),
          );
          if (state.failing) this.options.logger.info('registered workers read again', { pool });
          state.failing = false;
        },
        (err: unknown) => {
          // Once per failure streak; the set in hand stays.
          if (!state.failing) this.options.logger.warn('cannot read the registered workers; keeping the last set', { pool, error: err instanceof Error ? err.name : String(err) });
          state.failing = true;
        },
      )
      .finally(() => {
        state.readAt = startedAt;
        state.reading = undefined;
      });
    return state.reading;
  }

  /** Reads every pool now and then every {@link TIMER_FRACTION} × `refreshMs` on unref'd timers (a long-running process). Idempotent. */
  start(): void {
    if (this.timers.length > 0 || this.closed) return;
    for (const [name, state] of this.pools) {
      void this.refresh(name);
      const timer = setInterval(() => void this.refresh(name), Math.max(10, Math.floor(state.refreshMs * TIMER_FRACTION)));
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** Stops the timers; reads under way are dropped. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }
}

/** Whether a registered URL's host is allowed (any but link-local, without `allowedHosts`); an unparsable URL is not. */
function allowed(url: string, hosts: readonly string[] | undefined): boolean {
  try {
    return registrableHost(new URL(url).hostname, hosts);
  } catch {
    return false;
  }
}
