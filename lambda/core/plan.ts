/**
 * The route plan of one request as a JSON-serialisable state: what the Step Functions state
 * machine passes between its tasks and what the in-process executor threads through the same
 * step functions (lambda/core/plan-steps.ts).
 */
import { routePools } from '../routing/tier-route.ts';
import type { RouteConfig, TierName } from './config.ts';
import type { ApiKind } from './request-schema.ts';

/**
 * How a request was routed, as logged and metered. The `local-prefill-*` kinds are a
 * disaggregated route that conditional disaggregation served on its decode pool alone (no prefill
 * call, no KV hand-off), because the prompt was short or the prefill pool's queue was full.
 */
export const ROUTE_KINDS = {
  disaggregated: 'disaggregated',
  aggregated: 'aggregated',
  bedrock: 'bedrock',
  localPrefillShort: 'local-prefill-short',
  localPrefillQueue: 'local-prefill-queue',
} as const;
export type RouteKind = (typeof ROUTE_KINDS)[keyof typeof ROUTE_KINDS];

/** Token usage reported by the backends (or counted, for a stream that ended early). */
export interface PlanUsage {
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** The plan state. Every field is JSON. */
export interface PlanState {
  readonly requestId: string;
  readonly tenantId: string;
  readonly api: ApiKind;
  readonly model: string;
  readonly tierAsked: TierName | 'auto';
  /** Tier whose route runs (changes on fallback). */
  readonly tierServed: TierName;
  /** Tiers already tried, in order (fallback never revisits one). */
  readonly tiersTried: readonly TierName[];
  /** Set when overload control moved the request off this tier to the one it is served at (lambda/core/overload-guard.ts). */
  readonly yieldedFrom?: TierName;
  /** The client's validated body. */
  readonly body: Record<string, unknown>;
  readonly route: RouteKind;
  /** Pools used, in call order. */
  readonly pools: readonly string[];
  /** Prompt-token estimate made at admission. */
  readonly promptEstimate: number;
  /** The request's routing key (lambda/routing/routing-key.ts): pools with `affinity` route by it. */
  readonly routingKey?: string;
  readonly startedAt: number;
  /** Set by `prefill`: what decode receives; null = decode recomputes. */
  readonly kvTransferParams?: Record<string, unknown> | null;
  readonly prefillMs?: number;
  /** Set by `prefill`: the prefill endpoint used (SGLang's decode calls it again, concurrently). */
  readonly prefillEndpoint?: string;
  /** Set by `prefill` when a pair policy chose decode's endpoint together with prefill's. */
  readonly decodeEndpoint?: string;
  /** Prompt tokens as counted by prefill. */
  readonly prefillPromptTokens?: number | null;
  /** Set by `decode` (non-streaming): the completion body returned to the client. */
  readonly response?: Record<string, unknown>;
  readonly usage?: PlanUsage;
  /** Set by `Catch`: the failure that sent the plan to `fallback`. */
  readonly error?: { readonly Error: string; readonly Cause?: string };
}

/** A state switched to another tier (fallback), with the per-route fields reset. */
export function switchTier(state: PlanState, tier: TierName, route: RouteConfig): PlanState {
  return {
    ...state,
    tierServed: tier,
    tiersTried: [...state.tiersTried, tier],
    route: route.mode,
    pools: routePools(route),
    kvTransferParams: undefined,
    prefillMs: undefined,
    prefillEndpoint: undefined,
    decodeEndpoint: undefined,
    error: undefined,
  };
}
