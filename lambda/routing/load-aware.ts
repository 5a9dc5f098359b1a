/**
 * The default endpoint selection of a pool: least busy of two random choices
 * (least-outstanding.ts) while the engines report their load, round robin while none of the
 * candidates has a recent reading (round robin spreads evenly when all the gateway knows is its
 * own in-flight count, which is the same on every endpoint of a lightly used pool).
 */
import type { RandomSource } from './least-outstanding.ts';
import { leastOutstanding } from './least-outstanding.ts';
import type { EndpointView, SelectionPolicy } from './policy.ts';
import { roundRobin } from './round-robin.ts';

/**
 * Creates the load-aware policy.
 *
 * @example
 * const policy = loadAware();
 * policy.select([{ url: 'http://a', outstanding: 0, load: 12 }, { url: 'http://b', outstanding: 0, load: 3 }]); // 1, or 0 when sampled twice
 */
export function loadAware(random?: RandomSource): SelectionPolicy {
  const byLoad = leastOutstanding(random);
  const rr = roundRobin();
  return {
    select(endpoints: readonly EndpointView[]): number {
      return endpoints.some((e) => e.load !== undefined) ? byLoad.select(endpoints) : rr.select(endpoints);
    },
  };
}
