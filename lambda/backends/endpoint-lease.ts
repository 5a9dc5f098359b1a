/**
 * What the plan's steps and the protocols hold of an endpoint while they call it: a lease, taken
 * from the pool directory (pool-directory.ts) and released exactly once with a verdict. A module
 * of its own so the protocols and the directory share the types without importing each other.
 */
import type { BackendTarget } from './backend-target.ts';

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

/** What the prefill step takes: its lease, and the decode endpoint chosen with it. */
export interface PrefillPick {
  readonly lease: EndpointLease;
  readonly decodeEndpoint?: string;
}
