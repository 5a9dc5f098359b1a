/**
 * The configured pools with their concrete endpoints: hands out an endpoint per call through the
 * pool's selection policy (lambda/routing/), and keeps per endpoint the calls in flight, the last
 * health check, a circuit breaker and a short "failed a moment ago" mark.
 *
 * Retries go to a different endpoint: a call that fails (`release(false)`) marks its endpoint as
 * a last resort for {@link RETRY_AVOID_MS}, so the retry that follows (the step calls `acquire`
 * again) picks another endpoint when the pool has one; with a breaker configured, repeated
 * failures take the endpoint out until a probe succeeds. A pool with one endpoint and neither
 * `health` nor `breaker` behaves exactly as a plain round robin.
 */
import type { PoolConfig, SplitserveConfig } from '../core/config.ts';
import { ConfigError, UpstreamError } from '../core/errors.ts';
import { availableEndpoints } from '../routing/availability.ts';
import type { EndpointStatus } from '../routing/availability.ts';
import type { Breaker, BreakerSettings, BreakerStateName } from '../routing/circuit-breaker.ts';
import { BREAKER_STATES, CLOSED_BREAKER, breakerOnAbandon, breakerOnCall, breakerOnFailure, breakerOnSuccess } from '../routing/circuit-breaker.ts';
import type { RandomSource } from '../routing/least-outstanding.ts';
import { leastOutstanding } from '../routing/least-outstanding.ts';
import { selectPairDecodeFirst } from '../routing/pair-selection.ts';
import type { SelectionPolicy } from '../routing/policy.ts';
import { roundRobin } from '../routing/round-robin.ts';
import type { BackendTarget } from './backend-target.ts';
import { HEALTH_DEFAULTS, HealthChecker } from './health-checker.ts';
import { BACKEND_PROTOCOLS } from './registry.ts';

/**
 * An endpoint taken for one call; `release` exactly once when the call ends (later calls are
 * ignored): `true` it succeeded, `false` it failed (counts against the endpoint), nothing: the
 * gateway cancelled it (no verdict on the endpoint).
 */
export interface EndpointLease {
  readonly target: BackendTarget;
  release(ok?: boolean): void;
}

/**
 * Endpoint leases for a protocol that calls prefill and decode together and retries on a fresh
 * pair (SGLang PD), handed to its `decode`.
 */
export interface PairLeases {
  /** The decode lease the step holds; release it (with its verdict) before moving to a fresh pair. */
  readonly decode: EndpointLease;
  /** Takes the prefill endpoint the prefill step chose, for the call sent with decode's. */
  prefill(endpoint: string): EndpointLease;
  /** Takes a fresh pair for a retry, avoiding `avoid` wherever the pool has another endpoint. */
  fresh(avoid: ReadonlySet<string>): { readonly prefill: EndpointLease; readonly decode: EndpointLease };
}

/** What the prefill step takes: its lease, and decode's endpoint when the pair was chosen together. */
export interface PrefillPick {
  readonly lease: EndpointLease;
  readonly decodeEndpoint?: string;
}

/** What a test or a log sees of one endpoint. */
export interface EndpointSnapshot {
  readonly url: string;
  readonly outstanding: number;
  readonly healthy: boolean;
  readonly breaker: BreakerStateName;
  readonly consecutiveFailures: number;
}

/** Options of {@link PoolDirectory}. */
export interface PoolDirectoryOptions {
  /** @default Date.now */
  readonly now?: () => number;
  /** Randomness of least-outstanding sampling. @default Math.random */
  readonly random?: RandomSource;
  /** How long a failed endpoint stays a last resort. @default RETRY_AVOID_MS */
  readonly retryAvoidMs?: number;
}

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
}

interface PoolEntry {
  readonly name: string;
  readonly config: PoolConfig;
  readonly endpoints: EndpointEntry[];
  readonly policy: SelectionPolicy;
  readonly breaker: BreakerSettings | undefined;
}

const NO_LEASE = (): void => undefined;

/** Pools by name, each able to hand out an endpoint. */
export class PoolDirectory {
  private readonly pools = new Map<string, PoolEntry>();
  private readonly now: () => number;
  private readonly retryAvoidMs: number;
  private readonly health: HealthChecker | undefined;

  constructor(pools: SplitserveConfig['pools'], options: PoolDirectoryOptions = {}) {
    this.now = options.now ?? Date.now;
    this.retryAvoidMs = options.retryAvoidMs ?? RETRY_AVOID_MS;
    for (const [name, config] of Object.entries(pools)) {
      const urls = config.endpoints ?? [];
      if (urls.length === 0 && config.protocol !== 'bedrock') {
        throw new ConfigError(`pools.${name}: no endpoints (a "simulate" pool must be started first)`);
      }
      this.pools.set(name, {
        name,
        config,
        endpoints: urls.map((url) => ({ url, outstanding: 0, healthy: true, breaker: CLOSED_BREAKER, avoidUntil: 0, failures: 0 })),
        policy: config.policy === 'least-outstanding' ? leastOutstanding(options.random) : roundRobin(),
        breaker: config.breaker ? { ...BREAKER_DEFAULTS, ...config.breaker } : undefined,
      });
    }
    const targets = [...this.pools.values()]
      .filter((p) => p.config.health && p.endpoints.length > 0)
      .map((p) => ({ ...HEALTH_DEFAULTS, ...p.config.health, pool: p.name, endpoints: p.endpoints.map((e) => e.url) }));
    this.health = targets.length > 0 ? new HealthChecker(targets, (pool, url, healthy) => this.setHealth(pool, url, healthy), this.now) : undefined;
  }

  /** Starts the periodic health checks of the pools that configure `health` (no-op otherwise). */
  start(): void {
    this.health?.start();
  }

  /** Stops the health checks. */
  close(): void {
    this.health?.close();
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
    const { config } = this.entry(name);
    return { pool: name, endpoint, timeoutMs: config.timeoutMs, upstreamModels: config.upstreamModels };
  }

  /** Calls in flight from this instance on a pool's endpoints. */
  inFlight(name: string): number {
    return this.entry(name).endpoints.reduce((sum, e) => sum + e.outstanding, 0);
  }

  /** The state of a pool's endpoints (for tests, logs and a status page). */
  snapshot(name: string): EndpointSnapshot[] {
    return this.entry(name).endpoints.map((e) => ({
      url: e.url,
      outstanding: e.outstanding,
      healthy: e.healthy,
      breaker: e.breaker.state,
      consecutiveFailures: e.breaker.consecutiveFailures,
    }));
  }

  /** Records a health-check result (the health checker calls this). */
  setHealth(name: string, endpoint: string, healthy: boolean): void {
    const e = this.entry(name).endpoints.find((x) => x.url === endpoint);
    if (e) e.healthy = healthy;
  }

  /**
   * Takes an endpoint of a pool for one call: `preferred` when it is available (a pair chosen
   * earlier), else the policy's choice among the available endpoints, avoiding `exclude` when
   * another one is available. A pool without endpoints (Bedrock through the SDK's own endpoint)
   * yields a target with an empty endpoint.
   *
   * @throws UpstreamError (503, retryable) when every endpoint is unhealthy or has its circuit open
   */
  acquire(name: string, preferred?: string, exclude?: ReadonlySet<string>): EndpointLease {
    const pool = this.entry(name);
    if (pool.endpoints.length === 0) return { target: this.target(name, ''), release: NO_LEASE };
    return this.lease(pool, this.choose(pool, preferred, exclude));
  }

  /**
   * The prefill step's pick on a disaggregated route. With `pairing: "decode-first"` on either
   * pool, the decode endpoint is chosen first and returned for the decode step to prefer. For a
   * protocol that sends prefill together with decode (SGLang), the prefill lease only names the
   * endpoint: the real call is leased from `decode` through {@link PairLeases}.
   */
  acquirePair(prefillPool: string, decodePool: string): PrefillPick {
    const prefill = this.entry(prefillPool);
    const decode = this.entry(decodePool);
    const concurrent = BACKEND_PROTOCOLS[prefill.config.protocol]?.disaggregated?.concurrent === true;
    const decodeFirst = (prefill.config.pairing ?? decode.config.pairing) === 'decode-first';
    if (!decodeFirst || prefill.endpoints.length === 0 || decode.endpoints.length === 0) {
      if (!concurrent || prefill.endpoints.length === 0) return { lease: this.acquire(prefillPool) };
      const index = this.choose(prefill);
      return { lease: { target: this.target(prefillPool, prefill.endpoints[index]!.url), release: NO_LEASE } };
    }
    const prefillCandidates = this.candidates(prefill);
    const decodeCandidates = this.candidates(decode);
    const pair = selectPairDecodeFirst({
      prefill: prefillCandidates.map((i) => prefill.endpoints[i]!),
      decode: decodeCandidates.map((i) => decode.endpoints[i]!),
      prefillPolicy: prefill.policy,
      decodePolicy: decode.policy,
    });
    const prefillIndex = prefillCandidates[pair.prefill]!;
    const decodeEndpoint = decode.endpoints[decodeCandidates[pair.decode]!]!.url;
    const lease = concurrent
      ? { target: this.target(prefillPool, prefill.endpoints[prefillIndex]!.url), release: NO_LEASE }
      : this.lease(prefill, prefillIndex);
    return { lease, decodeEndpoint };
  }

  /** Leases for a protocol that calls prefill with decode and retries on a fresh pair (SGLang). */
  pairLeases(prefillPool: string, decodePool: string, decode: EndpointLease): PairLeases {
    return {
      decode,
      prefill: (endpoint) => this.acquire(prefillPool, endpoint),
      fresh: (avoid) => {
        const d = this.acquire(decodePool, undefined, avoid);
        try {
          return { decode: d, prefill: this.acquire(prefillPool, undefined, avoid) };
        } catch (err) {
          d.release();
          throw err;
        }
      },
    };
  }

  private candidates(pool: PoolEntry, exclude?: ReadonlySet<string>): number[] {
    const now = this.now();
    this.health?.refreshIfDue(pool.name);
    let candidates = availableEndpoints(pool.endpoints, now, pool.breaker, exclude);
    if (candidates.length === 0 && exclude && exclude.size > 0) candidates = availableEndpoints(pool.endpoints, now, pool.breaker);
    if (candidates.length === 0) {
      throw new UpstreamError(`No endpoint of the ${pool.name} pool is available (failing health checks or circuit open).`, 503, true, pool.name);
    }
    return candidates;
  }

  private choose(pool: PoolEntry, preferred?: string, exclude?: ReadonlySet<string>): number {
    const candidates = this.candidates(pool, exclude);
    const kept = preferred === undefined ? undefined : candidates.find((i) => pool.endpoints[i]!.url === preferred);
    if (kept !== undefined) return kept;
    if (candidates.length === 1) return candidates[0]!;
    return candidates[pool.policy.select(candidates.map((i) => pool.endpoints[i]!))]!;
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
