/**
 * Least outstanding requests with the power of two choices: sample two distinct endpoints at
 * random and take the less busy one: fewer requests in the engine by its load reading (plus this
 * instance's calls since), or, without a recent reading, fewer calls in flight from this
 * instance; KV-cache use breaks ties. Nearly as good as scanning every endpoint, without herding
 * every instance onto the same "least loaded" one (which matters most when every instance reads
 * the same, slightly stale, load).
 */
import type { EndpointView, SelectionPolicy } from './policy.ts';
import { busyness } from './policy.ts';

/** A source of uniform numbers in [0, 1) (inject a seeded one in tests). */
export type RandomSource = () => number;

/**
 * Creates a least-outstanding policy with power-of-two choices. A tie goes to the first sample,
 * so the choice among equals stays random.
 *
 * @param random - uniform [0, 1) source @default Math.random
 * @example
 * const lor = leastOutstanding(() => 0.5);
 * lor.select([{ url: 'http://a', outstanding: 3 }, { url: 'http://b', outstanding: 0 }]); // 1
 */
export function leastOutstanding(random: RandomSource = Math.random): SelectionPolicy {
  return {
    select(endpoints: readonly EndpointView[]): number {
      const n = endpoints.length;
      if (n <= 1) return 0;
      const a = Math.min(n - 1, Math.floor(random() * n));
      const b = (a + 1 + Math.min(n - 2, Math.floor(random() * (n - 1)))) % n;
      return busyness(endpoints[b]!) < busyness(endpoints[a]!) ? b : a;
    },
  };
}
