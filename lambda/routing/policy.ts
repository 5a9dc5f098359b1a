/**
 * The interface every endpoint-selection policy implements: a small pure function of the
 * endpoints' current state, no I/O (one file per policy in lambda/routing/).
 */

/** What a policy sees of one endpoint. */
export interface EndpointView {
  readonly url: string;
  /** Requests in flight on it from this instance. */
  readonly outstanding: number;
}

/** Picks one of `endpoints` (non-empty), returning its index. */
export interface SelectionPolicy {
  select(endpoints: readonly EndpointView[]): number;
}
