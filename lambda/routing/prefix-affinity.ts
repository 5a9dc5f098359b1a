/**
 * Prefix-cache affinity: requests with the same routing key (a session, or the hash of the
 * prompt's first blocks: routing-key.ts) go to the same endpoint, so the engine finds the
 * prompt's prefix in its KV cache and prefills only the rest; a key's endpoint is taken only
 * while its load stays within a bound, so a hot key cannot pile onto one engine.
 *
 * - Endpoint order per key: rendezvous (highest-random-weight) hashing, Thaler & Ravishankar,
 *   "Using Name-Based Mappings to Increase Hit Rates", IEEE/ACM ToN 6(1), 1998: every endpoint
 *   gets the score hash(key, endpoint url) and the key's order is by score. Adding or removing
 *   an endpoint moves only the keys whose first choice it is or becomes (~1/n of them), with no
 *   ring to keep in step across gateway instances: every instance computes the same order from
 *   the same URLs.
 * - Load bound: Mirrokni, Thorup & Zadimoghaddam, "Consistent Hashing with Bounded Loads",
 *   SODA 2018 (arXiv:1608.01350): with the request counted, an endpoint may take it while its
 *   load is at most ⌈c · average⌉, c = 1 + ε (`loadFactor`); otherwise the key goes to the next
 *   endpoint of its order that is within the bound. Some endpoint is always within it (not every
 *   one can be above the average), so the bound never refuses a request.
 *
 * Load is what the other policies weigh (policy.ts `busyness`, without its KV-use fraction): the
 * engine's requests by its last reading when there is one, else this instance's calls in flight.
 * A request without a key is the fallback policy's (the pool's `policy`).
 */
import type { EndpointView, SelectionPolicy } from './policy.ts';

/** Settings of {@link prefixAffinity}. */
export interface AffinitySettings {
  /** c = 1 + ε of the load bound; ≥ 1. */
  readonly loadFactor: number;
}

/** Default c of the bound (ε = 0.25, within the range the paper's experiments favour). */
export const DEFAULT_LOAD_FACTOR = 1.25;

/**
 * 32-bit rendezvous score of `url` for a key already hashed to `keyHash`: FNV-1a over the URL
 * seeded with the key's hash, then MurmurHash3's finaliser (so nearby inputs spread over the
 * whole range).
 */
export function rendezvousScore(keyHash: number, url: string): number {
  let h = (keyHash ^ 0x811c9dc5) >>> 0;
  for (let i = 0; i < url.length; i++) {
    h ^= url.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 32-bit FNV-1a of a key. */
export function keyHash(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** Indices of `endpoints` in `key`'s rendezvous order (best first; ties by index). */
export function rendezvousOrder(endpoints: readonly Pick<EndpointView, 'url'>[], key: string): number[] {
  const h = keyHash(key);
  const scores = endpoints.map((e) => rendezvousScore(h, e.url));
  return scores.map((_, i) => i).sort((a, b) => scores[b]! - scores[a]! || a - b);
}

/** The load of an endpoint the bound counts: its engine's requests, else this instance's calls. */
function loadOf(e: EndpointView): number {
  return e.load ?? e.outstanding;
}

/**
 * Creates the affinity policy over `fallback` (which serves requests without a key).
 *
 * @example
 * const policy = prefixAffinity(loadAware(), { loadFactor: 1.25 });
 * policy.select(endpoints, 'p:3f9a…'); // the same index for the same key while its endpoint is within the bound
 */
export function prefixAffinity(fallback: SelectionPolicy, settings: AffinitySettings = { loadFactor: DEFAULT_LOAD_FACTOR }): SelectionPolicy {
  const c = Math.max(1, settings.loadFactor);
  return {
    select(endpoints: readonly EndpointView[], key?: string): number {
      if (key === undefined || endpoints.length <= 1) return fallback.select(endpoints, key);
      let total = 1; // the request being placed
      for (const e of endpoints) total += loadOf(e);
      const bound = Math.ceil((c * total) / endpoints.length);
      const order = rendezvousOrder(endpoints, key);
      for (const i of order) if (loadOf(endpoints[i]!) + 1 <= bound) return i;
      // Unreachable while loads are non-negative (the least loaded is within the bound); kept total.
      return order[0]!;
    },
  };
}
