/**
 * Active health checks: GET a path (`/health`) on every endpoint of the pools that ask for it,
 * every `intervalMs`, and report each result. Timers are unref'd (they never keep a process
 * alive) and stop on `close()`.
 *
 * In Lambda an execution environment is frozen between invocations, so a background interval does
 * not run there: health is refreshed lazily instead (`refreshIfDue()`, called on the request path,
 * starts a round in the background when the last one is older than the interval), and between
 * rounds the circuit breaker is what keeps a failing endpoint out.
 */

/** The health-check settings of one pool, defaults applied. */
export interface HealthTargets {
  readonly pool: string;
  readonly endpoints: readonly string[];
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
}

/** Health check defaults (a pool's `health: {}` means these). */
export const HEALTH_DEFAULTS = { path: '/health', intervalMs: 5000, timeoutMs: 1000 } as const;

/** Receives one check result. */
export type HealthListener = (pool: string, endpoint: string, healthy: boolean) => void;

/** Checks `/health` on a schedule. */
export class HealthChecker {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly lastRound = new Map<string, number>();
  private readonly running = new Set<string>();
  private closed = false;

  constructor(
    private readonly targets: readonly HealthTargets[],
    private readonly onResult: HealthListener,
    private readonly now: () => number = Date.now,
  ) {}

  /** Starts the periodic rounds (a first round right away). Idempotent. */
  start(): void {
    if (this.timers.length > 0 || this.closed) return;
    for (const target of this.targets) {
      void this.round(target);
      const timer = setInterval(() => void this.round(target), target.intervalMs);
      timer.unref();
      this.timers.push(timer);
    }
  }

  /** Starts a round in the background for each pool whose last round is older than its interval. */
  refreshIfDue(pool?: string): void {
    if (this.closed) return;
    const now = this.now();
    for (const target of this.targets) {
      if (pool !== undefined && target.pool !== pool) continue;
      if (now - (this.lastRound.get(target.pool) ?? Number.NEGATIVE_INFINITY) >= target.intervalMs) void this.round(target);
    }
  }

  /** Runs one round of a pool now and resolves when every endpoint answered or timed out. */
  async round(target: HealthTargets): Promise<void> {
    if (this.closed || this.running.has(target.pool)) return;
    this.running.add(target.pool);
    this.lastRound.set(target.pool, this.now());
    try {
      await Promise.all(
        target.endpoints.map(async (endpoint) => {
          const healthy = await probe(`${endpoint}${target.path}`, target.timeoutMs);
          if (!this.closed) this.onResult(target.pool, endpoint, healthy);
        }),
      );
    } finally {
      this.running.delete(target.pool);
    }
  }

  /** Stops every timer; results of rounds still running are dropped. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }
}

/** One GET: healthy when it answers 2xx within `timeoutMs`. */
async function probe(url: string, timeoutMs: number): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(timeoutMs) });
    await res.body?.cancel();
    return res.ok;
  } catch {
    return false;
  }
}
