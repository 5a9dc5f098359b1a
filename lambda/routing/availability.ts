/**
 * Which endpoints of a pool may take a call now: healthy (last health check), allowed by the
 * circuit breaker, not excluded by the caller, and preferably not one that failed a moment ago
 * (so a retry goes to a different endpoint). Pure.
 */
import type { Breaker, BreakerSettings } from './circuit-breaker.ts';
import { breakerAllows } from './circuit-breaker.ts';
import type { EndpointView } from './policy.ts';

/** What availability looks at for one endpoint. */
export interface EndpointStatus extends EndpointView {
  /** The last health check passed (always true when health checks are off). */
  readonly healthy: boolean;
  readonly breaker: Breaker;
  /** Until when (ms) a recent failure makes it a last resort. */
  readonly avoidUntil: number;
}

/**
 * Indices of the endpoints a call may use, best tier first: healthy, breaker allowing, not
 * excluded and not recently failed; else the same without the recent-failure preference. Empty
 * when every endpoint is unhealthy, open or excluded.
 *
 * @param breaker - breaker settings, or undefined when the pool has no breaker
 * @example
 * availableEndpoints(statuses, Date.now(), { failures: 5, coolDownMs: 10_000 }, new Set(['http://a']));
 */
export function availableEndpoints(
  endpoints: readonly EndpointStatus[],
  now: number,
  breaker: BreakerSettings | undefined,
  exclude: ReadonlySet<string> = new Set(),
): number[] {
  const usable: number[] = [];
  endpoints.forEach((e, i) => {
    if (e.healthy && !exclude.has(e.url) && (!breaker || breakerAllows(e.breaker, now, breaker))) usable.push(i);
  });
  const fresh = usable.filter((i) => endpoints[i]!.avoidUntil <= now);
  return fresh.length > 0 ? fresh : usable;
}
