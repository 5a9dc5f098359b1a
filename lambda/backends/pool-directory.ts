/**
 * The configured pools with their concrete endpoints: hands out an endpoint per call through the
 * pool's selection policy (lambda/routing/), and keeps per endpoint the calls in flight, the last
 * health check, the last load reading of its engine, a circuit breaker, a short "failed a moment
 * ago" mark, and whether it refused the engine priority.
 *
 * Retries go to a different endpoint: a call that fails (`release(false)`) marks its endpoint as
 * a last resort for {@link RETRY_AVOID_MS}, so the retry that follows (the step calls `acquire`
 * again) picks another endpoint when the pool has one; with a breaker configured, repeated
 * failures take the endpoint out until a probe succeeds. A pool with one endpoint and neither
 * `health` nor `breaker` behaves exactly as a plain round robin.
 *
 * Registered workers (pools with `registration`): {@link PoolDirectory.setRegisteredEndpoints}
 * replaces a pool's registered endpoints with what discovery read (backends/worker-discovery.ts),
 * beside its static ones. An endpoint that stays keeps its state (calls in flight, breaker,
 * health, load); one that leaves (deregistered, lapsed) takes no new call, while the calls it has
 * finish on their lease. A registration that lapses between two reads is dropped at the next
 * selection, so a stale worker is never chosen past its `expiresAt`.
 *
 * Load: engine pools poll their endpoints' `/metrics` (health-checker.ts). A reading younger
 * than the pool's `maxAgeMs`, corrected by this instance's calls since (routing/load-estimate.ts),
 * is what the selection policies see as an endpoint's load and what {@link PoolDirectory.queue}
 * reports to overload control; without one, the instance's own in-flight count is all there is.
 */
import type { PoolConfig, SplitserveConfig, TierConfig, TierName } from '../core/config.ts';
import { ConfigError, UpstreamError } from '../core/errors.ts';
import { stderrLogger } from '../core/logger.ts';
import type { GatewayLogger } from '../core/logger.ts';
import { availableEndpoints } from '../routing/availability.ts';
import type { EndpointStatus } from '../routing/availability.ts';
import type { Breaker, BreakerSettings, BreakerStateName } from '../routing/circuit-breaker.ts';
import { BREAKER_STATES, CLOSED_BREAKER, breakerOnAbandon, breakerOnCall, breakerOnFailure, breakerOnSuccess } from '../routing/circuit-breaker.ts';
import type { RandomSource } from '../routing/least-outstanding.ts';
import { leastOutstanding } from '../routing/least-outstanding.ts';
import { loadAware } from '../routing/load-aware.ts';
import type { LoadReading } from '../routing/load-estimate.ts';
import { estimatedRequests, estimatedWaiting, nextCompletionRate } from '../routing/load-estimate.ts';
import { selectPairDecodeFirst } from '../routing/pair-selection.ts';
import type { EndpointView, SelectionPolicy } from '../routing/policy.ts';
import { DEFAULT_LOAD_FACTOR, prefixAffinity } from '../routing/prefix-affinity.ts';
import { roundRobin } from '../routing/round-robin.ts';
import type { EngineLoad } from './engine-load.ts';
import { enginePriorityFor, sendsEnginePriority } from './engine-priority.ts';
import type { CheckTargets } from './health-checker.ts';
import { HEALTH_DEFAULTS, HealthChecker, LOAD_DEFAULTS } from './health-checker.ts';
import type { BackendTarget, EndpointLease, EnginePriority, PairLeases, PoolQueue, PrefillPick, StepPools, UpstreamCredential } from '../core/backend-ports.ts';
import type { QueueSource } from '../core/overload-guard.ts';
import type { PoolGauge, PoolGauges } from '../core/ports.ts';

/** What a test or a log sees of one endpoint. */
export interface EndpointSnapshot {
  readonly url: string;
  readonly outstanding: number;
  readonly healthy: boolean;
  readonly breaker: BreakerStateName;
  readonly consecutiveFailures: number;
  /** The engine's requests now by its last fresh load reading (absent without one). */
  readonly load?: number;
  /** Whether the endpoint refused the engine priority (it is sent without it since). */
  readonly priorityRefused: boolean;
}

/** Options of {@link PoolDirectory}. */
export interface PoolDirectoryOptions {
  /** @default Date.now */
  readonly now?: () => number;
  /** Randomness of least-outstanding sampling. @default Math.random */
  readonly random?: RandomSource;
  /** How long a failed endpoint stays a last resort. @default RETRY_AVOID_MS */
  readonly retryAvoidMs?: number;
  /** Receives the directory's one-off warnings (an endpoint refusing the engine priority). @default stderrLogger */
  readonly logger?: GatewayLogger;
  /**
   * Pool name → the credential its calls carry (pool-credentials.ts): every target of the pool
   * holds it, and its health checks and load polls send it. @default none
   */
  readonly credentials?: Readonly<Record<string, UpstreamCredential>>;
}

/** Shortest window (ms) of readings with a queue a completion-rate sample is taken over (a window that ends sooner counts from a fifth of it). */
export const RATE_WINDOW_MS = 500;

/** How long (ms) an endpoint that just failed is chosen only when no other one is available. */
export const RETRY_AVOID_MS = 1000;

/** Circuit breaker defaults (a pool's `breaker: {}` means these). */
export const BREAKER_DEFAULTS = { failures: 5, coolDownMs: 10_000 } as const;

interface EndpointEntry extends EndpointStatus {
  outstanding: number;
  healthy: boolean;
  breaker: Breaker;
  avoidUntil: number;
  /** Bumped on every failure: a success only resets the breaker if no failure came since its call started. */
  failures: number;
  /** Calls that succeeded (the completion rate when the engine reports no counter). */
  succeeded: number;
  reading: LoadReading | undefined;
  /** Running requests of the last reading that showed a queue: the engine's batch capacity. */
  capacity: number | undefined;
  /** Where the current window of readings with a queue began: the finished-request count then, and when. */
  busySince: { count: number; at: number } | undefined;
  completionsPerSecond: number | undefined;
  priorityRefused: boolean;
  /** A registered worker's registration end (ms); undefined for a static endpoint. */
  registeredUntil: number | undefined;
}

/** A registered worker as discovery hands it to the directory. */
export interface RegisteredEndpoint {
  readonly url: string;
  /** When its registration lapses, epoch ms. */
  readonly expiresAtMs: number;
}

function newEndpoint(url: string, registeredUntil?: number): EndpointEntry {
  return {
    url, outstanding: 0, healthy: true, breaker: CLOSED_BREAKER, avoidUntil: 0, failures: 0, succeeded: 0,
    reading: undefined, capacity: undefined, busySince: undefined, completionsPerSecond: undefined, priorityRefused: false, registeredUntil,
  };
}

interface PoolEntry {
  readonly name: string;
  readonly config: PoolConfig;
  /** Static endpoints first, then registered workers (replaced in place). */
  readonly endpoints: EndpointEntry[];
  readonly policy: SelectionPolicy;
  readonly breaker: BreakerSettings | undefined;
  /** How old (ms) a load reading may be and still count; undefined when the pool is not polled. */
  readonly loadMaxAgeMs: number | undefined;
  readonly credential: UpstreamCredential | undefined;
}

const NO_LEASE = (): void => undefined;

/** Whether a pool's engines are polled for load, and how: its `load` setting, else on for engine pools (those that send engine priorities). */
function loadSettings(config: PoolConfig): { path: string; intervalMs: number; timeoutMs: number; maxAgeMs: number } | undefined {
  if (config.load === false || config.protocol === 'bedrock') return undefined;
  if (config.load === undefined && !sendsEnginePriority({ ...config, enginePriority: undefined })) return undefined;
  const merged = { ...LOAD_DEFAULTS, ...config.load };
  return { ...merged, maxAgeMs: config.load?.maxAgeMs ?? 3 * merged.intervalMs };
}

function policyOf(config: PoolConfig, random: RandomSource | undefined): SelectionPolicy {
  const base = config.policy === 'least-outstanding' ? leastOutstanding(random) : config.policy === 'round-robin' ? roundRobin() : loadAware(random);
  return config.affinity ? prefixAffinity(base, { loadFactor: config.affinity.loadFactor ?? DEFAULT_LOAD_FACTOR }) : base;
}

/** Pools by name, each able to hand out an endpoint. */
export class PoolDirectory implements StepPools, QueueSource, PoolGauges {
  private readonly pools = new Map<string, PoolEntry>();
  private readonly now: () => number;
  private readonly retryAvoidMs: number;
  private readonly logger: GatewayLogger;
  private readonly checks: HealthChecker | undefined;

  constructor(pools: SplitserveConfig['pools'], options: PoolDirectoryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.retryAvoidMs = options.retryAvoidMs ?? RETRY_AVOID_MS;
    this.logger = options.logger ?? stderrLogger;
    const targets: CheckTargets[] = [];
    for (const [name, config] of Object.entries(pools)) {
      const urls = config.endpoints ?? [];
      const registers = config.registration !== undefined;
      if (urls.length === 0 && config.protocol !== 'bedrock' && !registers) {
        throw new ConfigError(`pools.${name}: no endpoints (a "simulate" pool must be started first)`);
      }
      const load = urls.length > 0 || registers ? loadSettings(config) : undefined;
      const credential = options.credentials?.[name];
      this.pools.set(name, {
        name,
        config,
        endpoints: urls.map((url) => newEndpoint(url)),
        policy: policyOf(config, options.random),
        breaker: config.breaker ? { ...BREAKER_DEFAULTS, ...config.breaker } : undefined,
        loadMaxAgeMs: load?.maxAgeMs,
        credential,
      });
      if (urls.length === 0 && !registers) continue;
      if (config.health) targets.push({ kind: 'health', pool: name, endpoints: urls, ...HEALTH_DEFAULTS, ...config.health, credential });
      if (load) targets.push({ kind: 'load', pool: name, endpoints: urls, path: load.path, intervalMs: load.intervalMs, timeoutMs: load.timeoutMs, credential });
    }
    this.checks =
      targets.length > 0
        ? new HealthChecker(targets, { health: (pool, url, healthy) => this.setHealth(pool, url, healthy), load: (pool, url, load) => this.setLoad(pool, url, load) }, this.now)
        : undefined;
  }

  /** Starts the periodic health checks and load polls (no-op without any). */
  start(): void {
    this.checks?.start();
  }

  /** Stops the health checks and load polls. */
  close(): void {
    this.checks?.close();
  }

  /** The configuration of a pool. */
  pool(name: string): PoolConfig {
    return this.entry(name).config;
  }

  private entry(name: string): PoolEntry {
    const entry = this.pools.get(name);
    if (!entry) throw new ConfigError(`unknown pool "${name}"`);
    return entry;
  }

  /** The target of a known endpoint of a pool, without taking it (for logs and paired calls). */
  target(name: string, endpoint: string): BackendTarget {
    const { config, credential } = this.entry(name);
    return { pool: name, endpoint, timeoutMs: config.timeoutMs, upstreamModels: config.upstreamModels, credential };
  }

  /** Calls in flight from this instance on a pool's endpoints. */
  inFlight(name: string): number {
    return this.entry(name).endpoints.reduce((sum, e) => sum + e.outstanding, 0);
  }

  /**
   * Every pool's gauges: endpoints, those healthy (health check passing, breaker not open) and
   * the calls in flight from this process (the metrics' pool gauges, the local status page).
   */
  poolGauges(): PoolGauge[] {
    return [...this.pools.values()].map(({ name, config, endpoints }) => ({
      pool: name,
      role: config.role,
      endpoints: endpoints.length,
      healthy: endpoints.filter((e) => e.healthy && e.breaker.state !== BREAKER_STATES.open).length,
      inFlight: endpoints.reduce((sum, e) => sum + e.outstanding, 0),
    }));
  }

  /** The state of a pool's endpoints (for tests, logs and a status page). */
  snapshot(name: string): EndpointSnapshot[] {
    const pool = this.entry(name);
    return pool.endpoints.map((e) => {
      const view = this.view(pool, e);
      return {
        url: e.url,
        outstanding: e.outstanding,
        healthy: e.healthy,
        breaker: e.breaker.state,
        consecutiveFailures: e.breaker.consecutiveFailures,
        ...(view.load !== undefined ? { load: view.load } : {}),
        priorityRefused: e.priorityRefused,
      };
    });
  }

  /**
   * Replaces the registered workers of a pool (discovery calls this after each read): those that
   * stay keep their state, new ones join, the others leave the selection (their calls in flight
   * finish). A URL that is also a static endpoint stays the static one. Health checks and load
   * polls follow the new set.
   */
  setRegisteredEndpoints(name: string, workers: readonly RegisteredEndpoint[]): void {
    const pool = this.entry(name);
    const staticUrls = new Set(pool.endpoints.filter((e) => e.registeredUntil === undefined).map((e) => e.url));
    const known = new Map(pool.endpoints.filter((e) => e.registeredUntil !== undefined).map((e) => [e.url, e]));
    const next: EndpointEntry[] = [];
    const now = this.now();
    for (const w of workers) {
      if (staticUrls.has(w.url) || w.expiresAtMs <= now) continue;
      const e = known.get(w.url) ?? newEndpoint(w.url, w.expiresAtMs);
      e.registeredUntil = w.expiresAtMs;
      known.delete(w.url);
      next.push(e);
    }
    const kept = pool.endpoints.filter((e) => e.registeredUntil === undefined);
    pool.endpoints.splice(0, pool.endpoints.length, ...kept, ...next);
    this.checks?.setEndpoints(name, pool.endpoints.map((e) => e.url));
  }

  /** Drops the registered workers whose registration lapsed since the last read (their calls in flight finish). */
  private dropLapsed(pool: PoolEntry): void {
    const now = this.now();
    if (!pool.endpoints.some((e) => e.registeredUntil !== undefined && e.registeredUntil <= now)) return;
    const live = pool.endpoints.filter((e) => e.registeredUntil === undefined || e.registeredUntil > now);
    pool.endpoints.splice(0, pool.endpoints.length, ...live);
    this.checks?.setEndpoints(pool.name, live.map((e) => e.url));
  }

  /** Records a health-check result (the health checker calls this). */
  setHealth(name: string, endpoint: string, healthy: boolean): void {
    const e = this.entry(name).endpoints.find((x) => x.url === endpoint);
    if (e) e.healthy = healthy;
  }

  /**
   * Records a load reading of an endpoint's engine (the load poller calls this; undefined: no
   * reading this round, the last one ages out). Learns the engine's batch capacity from readings
   * that show a queue, and its completion rate from its finished-request counter (or, for an
   * engine without one, from this instance's successful calls) over windows of at least
   * {@link RATE_WINDOW_MS} in which it had a queue: the rate it serves at when full, which is
   * what a queued request waits on (an idle engine's rate says nothing of it, and is not taken).
   */
  setLoad(name: string, endpoint: string, load: EngineLoad | undefined): void {
    const e = this.entry(name).endpoints.find((x) => x.url === endpoint);
    if (!e || !load) return;
    const at = this.now();
    const point = { count: load.completed ?? e.succeeded, at };
    const queued = load.waiting > 0;
    if (e.busySince && (at - e.busySince.at >= RATE_WINDOW_MS || !queued)) {
      if (at - e.busySince.at >= RATE_WINDOW_MS / 5) e.completionsPerSecond = nextCompletionRate(e.completionsPerSecond, e.busySince, point);
      e.busySince = undefined;
    }
    if (queued && !e.busySince) e.busySince = point;
    e.reading = { running: load.running, waiting: load.waiting, ...(load.kvUsage !== undefined ? { kvUsage: load.kvUsage } : {}), at, outstandingAt: e.outstanding };
    if (queued && load.running > 0) e.capacity = load.running;
  }

  /** A reading of the endpoint young enough to count, if any. */
  private freshReading(pool: PoolEntry, e: EndpointEntry): LoadReading | undefined {
    const r = e.reading;
    if (!r || pool.loadMaxAgeMs === undefined) return undefined;
    return this.now() - r.at <= pool.loadMaxAgeMs ? r : undefined;
  }

  private view(pool: PoolEntry, e: EndpointEntry): EndpointView {
    const r = this.freshReading(pool, e);
    if (!r) return e;
    return { url: e.url, outstanding: e.outstanding, load: estimatedRequests(r, e.outstanding), ...(r.kvUsage !== undefined ? { kvUsage: r.kvUsage } : {}) };
  }

  /**
   * The queue of a pool's engines now, over its available endpoints with a fresh reading; starts
   * a background poll when the readings are due (Lambda has no timers between invocations).
   */
  queue(name: string): PoolQueue {
    const pool = this.entry(name);
    this.checks?.refreshIfDue(name);
    this.dropLapsed(pool);
    let endpoints = 0;
    let waiting = 0;
    let requests = 0;
    let rate: number | undefined;
    let capacity: number | undefined;
    let honours = sendsEnginePriority(pool.config);
    const now = this.now();
    for (const i of availableEndpoints(pool.endpoints, now, pool.breaker)) {
      const e = pool.endpoints[i]!;
      const r = this.freshReading(pool, e);
      if (!r) continue;
      endpoints += 1;
      waiting += estimatedWaiting(r, e.outstanding, e.capacity);
      requests += estimatedRequests(r, e.outstanding);
      if (e.completionsPerSecond !== undefined) rate = (rate ?? 0) + e.completionsPerSecond;
      if (e.capacity !== undefined) capacity = (capacity ?? 0) + e.capacity;
      if (e.priorityRefused) honours = false;
    }
    return { endpoints, waiting, requests, capacity, completionsPerSecond: rate, honoursPriority: honours };
  }

  /**
   * The engine priority to send to an endpoint for a tier: undefined when the pool sends none or
   * the endpoint refused it before. Its `refused` marks the endpoint (one warning per endpoint).
   */
  enginePriority(name: string, endpoint: string, tier: TierName, tierConfig: TierConfig | undefined): EnginePriority | undefined {
    const pool = this.entry(name);
    const value = enginePriorityFor(pool.config, tier, tierConfig);
    if (value === undefined) return undefined;
    const e = pool.endpoints.find((x) => x.url === endpoint);
    if (!e || e.priorityRefused) return undefined;
    return {
      value,
      refused: (reason) => {
        if (e.priorityRefused) return;
        e.priorityRefused = true;
        this.logger.warn('engine refused the request priority; sending requests without it from now on', {
          pool: name,
          endpoint,
          reason,
          hint: 'start vLLM with --scheduling-policy priority (SGLang: --enable-priority-scheduling), or set "enginePriority": false on the pool',
        });
      },
    };
  }

  /**
   * Takes an endpoint of a pool for one call: `preferred` when it is available (a pair chosen
   * earlier), else the policy's choice among the available endpoints (by the request's routing
   * `key` on a pool with `affinity`), avoiding `exclude` when another one is available. A pool
   * without endpoints (Bedrock through the SDK's own endpoint) yields a target with an empty endpoint.
   *
   * @throws UpstreamError (503, retryable) when every endpoint is unhealthy or has its circuit open
   */
  acquire(name: string, preferred?: string, exclude?: ReadonlySet<string>, key?: string): EndpointLease {
    const pool = this.entry(name);
    if (pool.endpoints.length === 0 && !pool.config.registration) return { target: this.target(name, ''), release: NO_LEASE };
    return this.lease(pool, this.choose(pool, preferred, exclude, key));
  }

  /**
   * The prefill step's pick on a disaggregated route: the prefill endpoint (leased) and the
   * decode endpoint for the decode step to take, both chosen here, once. With
   * `pairing: "decode-first"` on either pool the decode endpoint is chosen first (as llm-d
   * schedules). For a protocol that sends prefill together with decode (`concurrent`, SGLang),
   * the prefill lease only names the endpoint: the real call is leased from `decode` through
   * {@link PairLeases}. `key`: the request's routing key, for a pool with `affinity`.
   */
  acquirePair(prefillPool: string, decodePool: string, concurrent: boolean, key?: string): PrefillPick {
    const prefill = this.entry(prefillPool);
    const decode = this.entry(decodePool);
    if ((prefill.endpoints.length === 0 && !prefill.config.registration) || (decode.endpoints.length === 0 && !decode.config.registration)) {
      return { lease: concurrent ? this.nameOnly(prefill, undefined, key) : this.acquire(prefillPool, undefined, undefined, key) };
    }
    const decodeFirst = (prefill.config.pairing ?? decode.config.pairing) === 'decode-first';
    let prefillIndex: number;
    let decodeIndex: number;
    if (decodeFirst) {
      const prefillCandidates = this.candidates(prefill);
      const decodeCandidates = this.candidates(decode);
      const pair = selectPairDecodeFirst({
        prefill: prefillCandidates.map((i) => this.view(prefill, prefill.endpoints[i]!)),
        decode: decodeCandidates.map((i) => this.view(decode, decode.endpoints[i]!)),
        prefillPolicy: prefill.policy,
        decodePolicy: decode.policy,
        key,
      });
      prefillIndex = prefillCandidates[pair.prefill]!;
      decodeIndex = decodeCandidates[pair.decode]!;
    } else {
      prefillIndex = this.choose(prefill, undefined, undefined, key);
      decodeIndex = this.choose(decode, undefined, undefined, key);
    }
    const lease = concurrent ? this.nameOnly(prefill, prefillIndex) : this.lease(prefill, prefillIndex);
    return { lease, decodeEndpoint: decode.endpoints[decodeIndex]!.url };
  }

  /** A lease that only names an endpoint (no call is counted on it). */
  private nameOnly(pool: PoolEntry, index: number | undefined, key?: string): EndpointLease {
    const i = index ?? (pool.endpoints.length > 0 ? this.choose(pool, undefined, undefined, key) : undefined);
    return { target: this.target(pool.name, i === undefined ? '' : pool.endpoints[i]!.url), release: NO_LEASE };
  }

  /**
   * Leases for a protocol that calls prefill with decode and retries on a fresh pair (SGLang); a
   * fresh pair is chosen by `key` on a pool with `affinity` (the key's next endpoints, `avoid` left out).
   */
  pairLeases(prefillPool: string, decodePool: string, decode: EndpointLease, key?: string): PairLeases {
    return {
      decode,
      prefill: (endpoint) => this.acquire(prefillPool, endpoint),
      fresh: (avoid) => {
        const d = this.acquire(decodePool, undefined, avoid, key);
        try {
          return { decode: d, prefill: this.acquire(prefillPool, undefined, avoid, key) };
        } catch (err) {
          d.release();
          throw err;
        }
      },
    };
  }

  private candidates(pool: PoolEntry, exclude?: ReadonlySet<string>): number[] {
    const now = this.now();
    this.checks?.refreshIfDue(pool.name);
    this.dropLapsed(pool);
    if (pool.endpoints.length === 0) throw new UpstreamError(`No worker is registered in the ${pool.name} pool.`, 503, true, pool.name);
    let candidates = availableEndpoints(pool.endpoints, now, pool.breaker, exclude);
    if (candidates.length === 0 && exclude && exclude.size > 0) candidates = availableEndpoints(pool.endpoints, now, pool.breaker);
    if (candidates.length === 0) {
      throw new UpstreamError(`No endpoint of the ${pool.name} pool is available (failing health checks or circuit open).`, 503, true, pool.name);
    }
    return candidates;
  }

  private choose(pool: PoolEntry, preferred?: string, exclude?: ReadonlySet<string>, key?: string): number {
    const candidates = this.candidates(pool, exclude);
    const kept = preferred === undefined ? undefined : candidates.find((i) => pool.endpoints[i]!.url === preferred);
    if (kept !== undefined) return kept;
    if (candidates.length === 1) return candidates[0]!;
    return candidates[pool.policy.select(candidates.map((i) => this.view(pool, pool.endpoints[i]!)), key)]!;
  }

  private lease(pool: PoolEntry, index: number): EndpointLease {
    const e = pool.endpoints[index]!;
    const settings = pool.breaker;
    const before = e.breaker;
    if (settings) e.breaker = breakerOnCall(before, this.now(), settings);
    const probe = before.state === BREAKER_STATES.open && e.breaker.state === BREAKER_STATES.halfOpen;
    const failuresAtStart = e.failures;
    e.outstanding += 1;
    let released = false;
    return {
      target: this.target(pool.name, e.url),
      release: (ok?: boolean) => {
        if (released) return;
        released = true;
        e.outstanding -= 1;
        if (ok === true) e.succeeded += 1;
        if (ok === false) {
          const now = this.now();
          e.failures += 1;
          e.avoidUntil = now + this.retryAvoidMs;
          if (settings) e.breaker = breakerOnFailure(e.breaker, now, settings);
        } else if (settings && ok === true && e.failures === failuresAtStart) {
          e.breaker = breakerOnSuccess(e.breaker);
        } else if (settings && ok === undefined && probe) {
          e.breaker = breakerOnAbandon(e.breaker);
        }
      },
    };
  }
}

/**
 * Returns a copy of the config whose `simulate` pools are replaced by the endpoints of the
 * simulators started for them.
 */
export function withEndpoints(config: SplitserveConfig, started: Record<string, string[]>): SplitserveConfig {
  const pools: SplitserveConfig['pools'] = {};
  for (const [name, pool] of Object.entries(config.pools)) {
    const endpoints = started[name];
    pools[name] = endpoints ? { ...pool, endpoints, simulate: undefined } : pool;
  }
  return { ...config, pools };
}
