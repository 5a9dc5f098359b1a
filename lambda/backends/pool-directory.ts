/**
 * The configured pools with their concrete endpoints: hands out an endpoint per call through the
 * pool's selection policy and keeps the count of calls in flight on each endpoint.
 */
import type { PoolConfig, SplitserveConfig } from '../core/config.ts';
import { ConfigError } from '../core/errors.ts';
import type { EndpointView, SelectionPolicy } from '../routing/policy.ts';
import { roundRobin } from '../routing/round-robin.ts';
import type { BackendTarget } from './backend-target.ts';

/** An endpoint taken for one call; `release` exactly once when the call ends. */
export interface EndpointLease {
  readonly target: BackendTarget;
  release(ok: boolean): void;
}

interface EndpointEntry extends EndpointView {
  outstanding: number;
}

interface PoolEntry {
  readonly config: PoolConfig;
  readonly endpoints: EndpointEntry[];
  readonly policy: SelectionPolicy;
}

/** Pools by name, each able to hand out an endpoint. */
export class PoolDirectory {
  private readonly pools = new Map<string, PoolEntry>();

  constructor(pools: SplitserveConfig['pools']) {
    for (const [name, config] of Object.entries(pools)) {
      const urls = config.endpoints ?? [];
      if (urls.length === 0 && config.protocol !== 'bedrock') {
        throw new ConfigError(`pools.${name}: no endpoints (a "simulate" pool must be started first)`);
      }
      this.pools.set(name, { config, endpoints: urls.map((url) => ({ url, outstanding: 0 })), policy: roundRobin() });
    }
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

  /**
   * Takes an endpoint of a pool for one call: `preferred` when it is one of the pool's endpoints
   * (a pair chosen earlier), else the policy's choice. A pool without endpoints (Bedrock through
   * the SDK's own endpoint) yields a target with an empty endpoint.
   */
  acquire(name: string, preferred?: string): EndpointLease {
    const { endpoints, policy } = this.entry(name);
    const chosen = endpoints.find((e) => e.url === preferred) ?? endpoints[endpoints.length > 1 ? policy.select(endpoints) : 0];
    const target = this.target(name, chosen?.url ?? '');
    if (!chosen) return { target, release: () => undefined };
    chosen.outstanding += 1;
    let released = false;
    return {
      target,
      release: () => {
        if (released) return;
        released = true;
        chosen.outstanding -= 1;
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
