/**
 * Round-robin endpoint selection: the default policy of a pool.
 */
import type { EndpointView, SelectionPolicy } from './policy.ts';

/**
 * Creates a round-robin policy (its cursor is its only state).
 *
 * @example
 * const rr = roundRobin();
 * rr.select([{ url: 'http://a', outstanding: 0 }, { url: 'http://b', outstanding: 0 }]); // 0, then 1, 0, …
 */
export function roundRobin(): SelectionPolicy {
  let cursor = 0;
  return {
    select(endpoints: readonly EndpointView[]): number {
      const index = cursor % endpoints.length;
      cursor = (cursor + 1) % Number.MAX_SAFE_INTEGER;
      return index;
    },
  };
}
