/**
 * Conditional disaggregation (as NVIDIA Dynamo and llm-d do): whether a request on a
 * disaggregated route is worth the prefill pool and the KV hand-off, or is better served by the
 * decode pool alone (decode recomputes the prompt). A small pure function of the route's two
 * thresholds and the request's state, shared by the gateway (lambda/core/plan-steps.ts) and the
 * goodput benchmark (bench/goodput/).
 */

/** Outcomes of {@link decidePrefill}; the two local ones are also route kinds (logged, metered). */
export const PREFILL_DECISIONS = {
  /** Prefill on the prefill pool, KV handed to the decode pool. */
  disaggregated: 'disaggregated',
  /** The prompt is below `localPrefillBelowTokens`: the decode pool prefills it itself. */
  localShort: 'local-prefill-short',
  /** The prefill pool already has `maxPrefillQueue` calls in flight: the decode pool prefills. */
  localQueue: 'local-prefill-queue',
} as const;
export type PrefillDecision = (typeof PREFILL_DECISIONS)[keyof typeof PREFILL_DECISIONS];

/** The route fields the decision reads (a disaggregated route of the config has both). */
export interface ConditionalRoute {
  /** Prompts with fewer estimated tokens skip the prefill pool. @default 0 (always disaggregate) */
  readonly localPrefillBelowTokens?: number;
  /** Prefill calls in flight at or above which a request skips the prefill pool. @default no bound */
  readonly maxPrefillQueue?: number;
}

/**
 * Decides where a request's prompt is prefilled. The short-prompt rule is checked first; the
 * queue bound applies only when the caller knows the queue (`prefillQueue` defined): a request
 * that would be call number `maxPrefillQueue + 1` in flight goes local. With neither field set
 * the answer is always `disaggregated`.
 *
 * @param promptTokens - the prompt-token estimate made at admission
 * @param prefillQueue - prefill calls in flight on the route's prefill pool now (unknown: undefined)
 * @example
 * decidePrefill({ localPrefillBelowTokens: 256 }, 40, 0);           // 'local-prefill-short'
 * decidePrefill({ localPrefillBelowTokens: 256, maxPrefillQueue: 8 }, 3000, 8); // 'local-prefill-queue'
 * decidePrefill({}, 40, 100);                                        // 'disaggregated'
 */
export function decidePrefill(route: ConditionalRoute, promptTokens: number, prefillQueue: number | undefined): PrefillDecision {
  if (promptTokens < (route.localPrefillBelowTokens ?? 0)) return PREFILL_DECISIONS.localShort;
  const bound = route.maxPrefillQueue;
  if (bound !== undefined && prefillQueue !== undefined && prefillQueue >= bound) return PREFILL_DECISIONS.localQueue;
  return PREFILL_DECISIONS.disaggregated;
}
