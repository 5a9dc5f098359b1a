/**
 * The configured pools with their concrete endpoints, and the choice of an endpoint per call.
 */
import type { PoolConfig, SplitserveConfig } from '../core/config.ts';
import { ConfigError } from '../core/errors.ts';
import type { RoundRobin } from '../routing/round-robin.ts';
import { roundRobin } from '../routing/round-robin.ts';
import type { BackendTarget } from './backend-target.ts';

/** Pools by name, each able to hand out a target endpoint. */
export class PoolDirectory {
  private readonly selectors = new Map<string, RoundRobin<string>>();

  constructor(private readonly pools: SplitserveConfig['pools']) {
    for (const [name, pool] of Object.entries(pools)) {
      if (pool.protocol === 'bedrock') continue;
      if (!pool.endpoints) throw new ConfigError(`pools.${name}: no endpoints (a "simulate" pool must be started first)`);
      this.selectors.set(name, roundRobin(pool.endpoints));
    }
  }

  /** The configuration of a pool. */
  pool(name: string): PoolConfig {
    const pool = this.pools[name];
    if (!pool) throw new ConfigError(`unknown pool "${name}"`);
    return pool;
  }

  /** Picks the next endpoint of a pool. */
  target(name: string): BackendTarget {
    const pool = this.pool(name);
    const selector = this.selectors.get(name);
    if (!selector) throw new ConfigError(`pool "${name}" has no HTTP endpoints`);
    return { pool: name, endpoint: selector.next(), timeoutMs: pool.timeoutMs, upstreamModels: pool.upstreamModels };
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
