/**
 * The interface every endpoint-selection policy implements: a small pure function of the
 * endpoints' current state, no I/O (one file per policy in lambda/routing/).
 */

/** What a policy sees of one endpoint. */
export interface EndpointView {
  readonly url: string;
  /** Requests in flight on it from this instance. */
  readonly outstanding: number;
  /**
   * Requests in the engine (running + waiting) by its last load reading and this instance's
   * calls since (load-estimate.ts); absent without a recent reading.
   */
  readonly load?: number;
  /** KV-cache use (0..1) by the last reading, when the engine reports it. */
  readonly kvUsage?: number;
}

/**
 * Picks one of `endpoints` (non-empty), returning its index. `key` is the request's routing key
 * (lambda/routing/routing-key.ts: its session, or the hash of its prompt's prefix) when the
 * pool routes by affinity; policies that do not use it ignore it.
 */
export interface SelectionPolicy {
  select(endpoints: readonly EndpointView[], key?: string): number;
}

/**
 * How busy an endpoint is, for comparing two: the engine's requests when it reports them, else
 * this instance's calls in flight; its KV-cache use (a fraction) breaks ties.
 */
export function busyness(e: EndpointView): number {
  return (e.load ?? e.outstanding) + (e.kvUsage ?? 0);
}
