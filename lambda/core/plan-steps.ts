/**
 * The plan's step functions: `prefill`, `decode`, `fallback` and the metering record. The Step
 * Functions tasks (lambda/handlers/step-tasks.ts) and the in-process executor
 * (lambda/core/executor.ts) call these same functions: one plan, two executors.
 */
import type { BackendCall } from '../backends/backend-target.ts';
import { runAggregated } from '../backends/openai.ts';
import type { PoolDirectory } from '../backends/pool-directory.ts';
import type { UpstreamClient } from '../backends/upstream-client.ts';
import type { UpstreamCompletion } from '../backends/upstream-completion.ts';
import { runDecode, runPrefill } from '../backends/vllm-nixl.ts';
import type { SplitserveConfig, TierName } from './config.ts';
import { UpstreamError } from './errors.ts';
import type { PlanState } from './plan.ts';
import { switchTier, tierRoute } from './plan.ts';
import { completionUsage, shapeCompletion } from './response-shape.ts';

/** What the steps need. */
export interface StepDeps {
  readonly config: SplitserveConfig;
  readonly pools: PoolDirectory;
  readonly client: UpstreamClient;
}

function call(deps: StepDeps, state: PlanState, pool: string, signal: AbortSignal): BackendCall {
  return { client: deps.client, target: deps.pools.target(pool), api: state.api, requestId: state.requestId, signal };
}

/**
 * Prefill: on a disaggregated route, runs the prefill call and records the KV-transfer
 * parameters for decode (null when prefill returned none: decode then recomputes). Other routes
 * pass through unchanged.
 */
export async function prefill(deps: StepDeps, state: PlanState, signal: AbortSignal): Promise<PlanState> {
  const route = tierRoute(deps.config, state.tierServed, state.model);
  if (route.mode !== 'disaggregated') return state;
  const started = performance.now();
  const result = await runPrefill(call(deps, state, route.prefill, signal), state.body);
  return {
    ...state,
    kvTransferParams: result.kvTransferParams,
    prefillPromptTokens: result.promptTokens,
    prefillMs: Math.round((performance.now() - started) * 100) / 100,
  };
}

/**
 * Opens the decode call (or the single call of an aggregated route). A streaming body always asks
 * the backend for the final usage chunk, which metering needs; the relay hides it from a client
 * that did not ask for it.
 */
export async function openDecode(deps: StepDeps, state: PlanState, signal: AbortSignal): Promise<UpstreamCompletion> {
  const route = tierRoute(deps.config, state.tierServed, state.model);
  const body =
    state.body.stream === true
      ? { ...state.body, stream_options: { ...(state.body.stream_options as object | undefined), include_usage: true } }
      : state.body;
  if (route.mode === 'disaggregated') {
    const pool = deps.pools.pool(route.decode);
    return runDecode(call(deps, state, route.decode, signal), body, state.kvTransferParams ?? null, pool.kvTransfer);
  }
  if (route.mode === 'aggregated') return runAggregated(call(deps, state, route.pool, signal), body);
  throw new UpstreamError(`The '${route.mode}' route is not built yet.`, 501, false, route.pool);
}

/** Decode, non-streaming: runs the call and records the shaped completion and its usage. */
export async function decode(deps: StepDeps, state: PlanState, signal: AbortSignal): Promise<PlanState> {
  const completion = await openDecode(deps, { ...state, body: { ...state.body, stream: false } }, signal);
  if (completion.kind !== 'json') throw new UpstreamError('The backend streamed an answer that was not asked to stream.', 502, false);
  const response = shapeCompletion(completion.json, state.model, state.tierServed);
  return { ...state, response, usage: completionUsage(completion.json, state) };
}

/**
 * The next tier to try after `state.tierServed` failed: its configured fallback, unless already
 * tried or unable to serve the model.
 */
export function nextFallbackTier(config: SplitserveConfig, state: PlanState): TierName | undefined {
  let tier = config.tiers[state.tierServed]?.fallback;
  const seen = new Set(state.tiersTried);
  while (tier && !seen.has(tier)) {
    try {
      tierRoute(config, tier, state.model);
      return tier;
    } catch {
      seen.add(tier);
      tier = config.tiers[tier]?.fallback;
    }
  }
  return undefined;
}

/**
 * Fallback: serves the request on the failed tier's fallback route (prefill and decode, once
 * each), following the chain of fallbacks until one succeeds. Throws the last failure when the
 * chain is exhausted.
 */
export async function fallback(deps: StepDeps, state: PlanState, failure: unknown, signal: AbortSignal): Promise<PlanState> {
  let current = state;
  let lastError = failure;
  for (let tier = nextFallbackTier(deps.config, current); tier; tier = nextFallbackTier(deps.config, current)) {
    current = switchTier(current, tier, tierRoute(deps.config, tier, current.model));
    try {
      return await decode(deps, await prefill(deps, current, signal), signal);
    } catch (err) {
      if (!isFallbackWorthy(err)) throw err;
      lastError = err;
    }
  }
  throw lastError;
}

/** Whether a failure is the backend's (worth another route) rather than the client's. */
export function isFallbackWorthy(err: unknown): boolean {
  return err instanceof UpstreamError;
}

/** Whether a failure is transient (worth retrying the same step). */
export function isTransient(err: unknown): boolean {
  return err instanceof UpstreamError && err.retryable;
}
