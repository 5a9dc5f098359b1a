/**
 * Active checks of the pools' endpoints, two kinds on their own schedules:
 *
 * - `health`: GET a path (`/health`) on every endpoint of the pools that ask for it, every
 *   `intervalMs`; healthy when it answers 2xx in time.
 * - `load`: GET the engine's Prometheus `/metrics` and read its running and waiting requests,
 *   KV-cache use and finished-request counter (engine-load.ts); a failed or unreadable answer
 *   reports no reading.
 *
 * Both carry the pool's credential when it has one (`auth`): vLLM's `--api-key` guards only its
 * `/v1` routes, but an engine behind a proxy, or a server that guards every route, would refuse an
 * unauthenticated check. A refusal (401/403) reads the credential again and asks once more, as the
 * completions do; a credential that cannot be read gives no verdict (the endpoint keeps its state).
 *
 * Timers are unref'd (they never keep a process alive) and stop on `close()`.
 *
 * In Lambda an execution environment is frozen between invocations, so a background interval does
 * not run there: checks are refreshed lazily instead (`refreshIfDue()`, called on the request path,
 * starts a round in the background when the last one is older than the interval). Between health
 * rounds the circuit breaker keeps a failing endpoint out; a load reading older than its
 * `maxAgeMs` is not used (the pool directory falls back to the gateway's own in-flight count).
 */
import type { CredentialHeader, UpstreamCredential } from '../core/backend-ports.ts';
import { CredentialUnavailableError } from './credential-errors.ts';
import type { EngineLoad } from './engine-load.ts';
import { parseEngineLoad } from './engine-load.ts';

/** The two kinds of check. */
export type CheckKind = 'health' | 'load';

/** The settings of one kind of check on one pool, defaults applied. */
export interface CheckTargets {
  readonly kind: CheckKind;
  readonly pool: string;
  readonly endpoints: readonly string[];
  readonly path: string;
  readonly intervalMs: number;
  readonly timeoutMs: number;
  /** The pool's credential, sent with every check. */
  readonly credential?: UpstreamCredential | undefined;
}

/** Health check defaults (a pool's `health: {}` means these). */
export const HEALTH_DEFAULTS = { path: '/health', intervalMs: 5000, timeoutMs: 1000 } as const;

/** Load polling defaults (a pool's `load: {}`, or no `load` on an engine pool, means these; `maxAgeMs` is 3 × the interval). */
export const LOAD_DEFAULTS = { path: '/metrics', intervalMs: 1000, timeoutMs: 1000 } as const;

/** Receives check results. */
export interface CheckListener {
  health(pool: string, endpoint: string, healthy: boolean): void;
  /** `load` is undefined when the endpoint gave no reading this round. */
  load(pool: string, endpoint: string, load: EngineLoad | undefined): void;
}

/** Runs health checks and load polls on a schedule. */
export class HealthChecker {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly lastRound = new Map<string, number>();
  private readonly running = new Set<string>();
  /** Pool → its endpoints now, once they changed (registered workers came or went). */
  private readonly current = new Map<string, readonly string[]>();
  private closed = false;

  constructor(
    private readonly targets: readonly CheckTargets[],
    private readonly listener: CheckListener,
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

  /** Replaces the endpoints checked in a pool (its static ones plus its registered workers), from the next round. */
  setEndpoints(pool: string, endpoints: readonly string[]): void {
    this.current.set(pool, [...endpoints]);
  }

  /** Starts a round in the background for each check of `pool` (or of every pool) whose last round is older than its interval. */
  refreshIfDue(pool?: string): void {
    if (this.closed) return;
    const now = this.now();
    for (const target of this.targets) {
      if (pool !== undefined && target.pool !== pool) continue;
      if (now - (this.lastRound.get(keyOf(target)) ?? Number.NEGATIVE_INFINITY) >= target.intervalMs) void this.round(target);
    }
  }

  /** Runs one round of a check now and resolves when every endpoint answered or timed out. */
  async round(target: CheckTargets): Promise<void> {
    const key = keyOf(target);
    if (this.closed || this.running.has(key)) return;
    this.running.add(key);
    this.lastRound.set(key, this.now());
    try {
      await Promise.all(
        (this.current.get(target.pool) ?? target.endpoints).map(async (endpoint) => {
          const url = `${endpoint}${target.path}`;
          if (target.kind === 'health') {
            const healthy = await probe(url, target.timeoutMs, target.credential);
            if (!this.closed && healthy !== undefined) this.listener.health(target.pool, endpoint, healthy);
          } else {
            const load = await readLoad(url, target.timeoutMs, target.credential);
            if (!this.closed) this.listener.load(target.pool, endpoint, load);
          }
        }),
      );
    } finally {
      this.running.delete(key);
    }
  }

  /** Stops every timer; results of rounds still running are dropped. */
  close(): void {
    this.closed = true;
    for (const timer of this.timers.splice(0)) clearInterval(timer);
  }
}

function keyOf(target: CheckTargets): string {
  return `${target.kind}:${target.pool}`;
}

/**
 * One GET with the credential's header; after a 401/403, once more with the credential read again.
 * Redirects are not followed (a 3xx is an answer, and not a healthy one): fetch strips only
 * `Authorization` on a redirect to another host, so following one would hand a credential sent in
 * another header (`x-api-key`) to whatever host the endpoint names.
 */
async function get(url: string, timeoutMs: number, credential: UpstreamCredential | undefined): Promise<Response> {
  const once = (header?: CredentialHeader) =>
    fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs), ...(header ? { headers: { [header.name]: header.value } } : {}) });
  if (!credential) return once();
  const sent = await credential.header();
  const res = await once(sent);
  if (res.status !== 401 && res.status !== 403) return res;
  await res.body?.cancel();
  return once(await credential.refused(sent));
}

/** One GET: healthy when it answers 2xx within `timeoutMs`; undefined (no verdict) when the credential cannot be read. */
async function probe(url: string, timeoutMs: number, credential: UpstreamCredential | undefined): Promise<boolean | undefined> {
  try {
    const res = await get(url, timeoutMs, credential);
    await res.body?.cancel();
    return res.ok;
  } catch (err) {
    return err instanceof CredentialUnavailableError ? undefined : false;
  }
}

/** One GET of an engine's metrics: its load, or undefined (error, timeout, not an engine's metrics). */
async function readLoad(url: string, timeoutMs: number, credential: UpstreamCredential | undefined): Promise<EngineLoad | undefined> {
  try {
    const res = await get(url, timeoutMs, credential);
    if (!res.ok) {
      await res.body?.cancel();
      return undefined;
    }
    return parseEngineLoad(await res.text());
  } catch {
    return undefined;
  }
}
