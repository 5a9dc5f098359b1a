/**
 * What a backend protocol implements. A protocol serves disaggregated routes (a prefill half that
 * yields the parameters decode needs, and a decode half), aggregated routes (one call), or both.
 * One file per protocol implements this; lambda/backends/registry.ts maps protocol names to them.
 */
import type { BackendCall, BackendTarget } from './backend-target.ts';
import type { PairLeases } from './endpoint-lease.ts';
import type { UpstreamCompletion } from './upstream-completion.ts';

/** What the prefill half yields. */
export interface PrefillResult {
  /**
   * What decode needs to find the prefilled KV cache (vLLM: `kv_transfer_params`; SGLang: the
   * bootstrap coordinates); null when there is none and decode must recompute the prompt.
   */
  readonly kvTransferParams: Record<string, unknown> | null;
  /** Prompt tokens as counted by the prefill server, when known. */
  readonly promptTokens: number | null;
}

/** The two halves of a disaggregated protocol. */
export interface DisaggregatedProtocol {
  /**
   * `decode` sends prefill and decode together (SGLang); `prefill` only names the pair. The
   * pool directory reads it to lease only decode's endpoint for the pair (plan-steps.ts passes it).
   */
  readonly concurrent?: boolean;
  prefill(call: BackendCall, body: Record<string, unknown>): Promise<PrefillResult>;
  /**
   * @param params - what prefill yielded (null: recompute)
   * @param prefillTarget - the prefill endpoint used (protocols that call prefill and decode
   *   concurrently, like SGLang, call it again from here)
   * @param pairs - endpoint leases for a concurrent protocol's prefill call and fresh-pair retry
   */
  decode(call: BackendCall, body: Record<string, unknown>, params: Record<string, unknown> | null, prefillTarget: BackendTarget | null, pairs?: PairLeases): Promise<UpstreamCompletion>;
}

/** One call serving both phases. */
export interface AggregatedProtocol {
  complete(call: BackendCall, body: Record<string, unknown>): Promise<UpstreamCompletion>;
}

/** A backend protocol. */
export interface BackendProtocol {
  readonly disaggregated?: DisaggregatedProtocol;
  readonly aggregated?: AggregatedProtocol;
}
