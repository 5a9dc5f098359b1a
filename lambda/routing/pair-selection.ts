/**
 * Pair selection for disaggregated routes, decode first (as llm-d schedules): the decode endpoint
 * holds the request for its whole generation, so it is the scarce choice; prefill is chosen second,
 * for that decode. Pure: each side uses its own pool's policy.
 */
import type { EndpointView, SelectionPolicy } from './policy.ts';

/** Indices of the chosen prefill and decode endpoints. */
export interface SelectedPair {
  readonly prefill: number;
  readonly decode: number;
}

/** The candidates and policies of both sides. */
export interface PairCandidates {
  readonly prefill: readonly EndpointView[];
  readonly decode: readonly EndpointView[];
  readonly prefillPolicy: SelectionPolicy;
  readonly decodePolicy: SelectionPolicy;
  /** The request's routing key, for pools that route by affinity. */
  readonly key?: string | undefined;
}

/**
 * Picks decode first, then prefill (both lists non-empty).
 *
 * @example
 * selectPairDecodeFirst({ prefill, decode, prefillPolicy: roundRobin(), decodePolicy: leastOutstanding() });
 */
export function selectPairDecodeFirst(c: PairCandidates): SelectedPair {
  const decode = c.decode.length > 1 ? c.decodePolicy.select(c.decode, c.key) : 0;
  const prefill = c.prefill.length > 1 ? c.prefillPolicy.select(c.prefill, c.key) : 0;
  return { prefill, decode };
}
