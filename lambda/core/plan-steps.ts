/**
 * The plan's step functions: `prefill`, `decode`, `fallback` and the metering record. The Step
 * Functions tasks (lambda/handlers/step-tasks.ts) and the in-process executor
 * (lambda/core/executor.ts) call these same functions: one plan, two executors.
 */
import { PREFILL_DECISIONS, decidePrefill } from '../routing/conditional-disaggregation.ts';
import { tierRoute } from '../routing/tier-route.ts';
import type { PoolConfig, RouteConfig, SplitserveConfig, TierName } from './config.ts';
import { ConfigError, UpstreamError } from './errors.ts';
import { backendErrorClass } from './metric-labels.ts';
import type { PlanState } from './plan.ts';
import type { RequestMetrics } from './ports.ts';
import { switchTier } from './plan.ts';
import { completionUsage, shapeCompletion } from './response-shape.ts';
import type { AggregatedProtocol, BackendCall, BackendProtocols, BackendTarget, DisaggregatedProtocol, EndpointLease, StepPools, UpstreamCompletion, UpstreamTransport } from './backend-ports.ts';

/** What the steps need: the config, and the backends through the ports of backend-ports.ts. */
export interface StepDeps {
  readonly config: SplitserveConfig;
  /** The pools' endpoints (lambda/backends/pool-directory.ts). */
  readonly pools: StepPools;
  /** The transport the protocols POST with. */
  readonly client: UpstreamTransport;
  /** The protocols a pool may speak (lambda/backends/registry.ts). */
  readonly protocols: BackendProtocols;
  /** Where failed backend calls are counted (by pool and class); none when absent. */
  readonly metrics?: Pick<RequestMetrics, 'backendError'>;
}

/**
 * A tier's route for a model with its pools' protocol halves, resolved once per route of a config
 * (the steps of a request, and every request after it, reuse it).
 */
export type StepRoute =
  | {
      readonly mode: 'disaggregated';
      readonly route: Extract<RouteConfig, { mode: 'disaggregated' }>;
      readonly prefill: DisaggregatedProtocol;
      readonly decode: DisaggregatedProtocol;
    }
  | { readonly mode: 'aggregated' | 'bedrock'; readonly route: Extract<RouteConfig, { mode: 'aggregated' | 'bedrock' }>; readonly complete: AggregatedProtocol };

const STEP_ROUTES = new WeakMap<BackendProtocols, WeakMap<SplitserveConfig, WeakMap<RouteConfig, StepRoute>>>();

/** The disaggregated half of a pool's protocol. */
function disaggregatedHalf({ config, protocols }: RouteDeps, pool: string): DisaggregatedProtocol {
  const protocol = poolConfig(config, pool).protocol;
  const impl = protocols[protocol]?.disaggregated;
  if (!impl) throw new ConfigError(`pool "${pool}" speaks "${protocol}", which does not serve disaggregated routes in this version`);
  return impl;
}

/** The aggregated half of a pool's protocol. */
function aggregatedHalf({ config, protocols }: RouteDeps, pool: string): AggregatedProtocol {
  const protocol = poolConfig(config, pool).protocol;
  const impl = protocols[protocol]?.aggregated;
  if (!impl) throw new ConfigError(`pool "${pool}" speaks "${protocol}", which does not serve aggregated routes in this version`);
  return impl;
}

function poolConfig(config: SplitserveConfig, pool: string): PoolConfig {
  const found = config.pools[pool];
  if (!found) throw new ConfigError(`unknown pool "${pool}"`);
  return found;
}

/** What resolving a route takes: the config and the protocols. */
export type RouteDeps = Pick<StepDeps, 'config' | 'protocols'>;

/**
 * A route with its protocols. Throws a {@link ConfigError} when a pool's protocol does not serve
 * that kind of route (checked for every tier at start-up: gateway-runtime.ts).
 */
export function resolveRoute(deps: RouteDeps, route: RouteConfig): StepRoute {
  let byConfig = STEP_ROUTES.get(deps.protocols);
  if (!byConfig) STEP_ROUTES.set(deps.protocols, (byConfig = new WeakMap()));
  let routes = byConfig.get(deps.config);
  if (!routes) byConfig.set(deps.config, (routes = new WeakMap()));
  let resolved = routes.get(route);
  if (resolved) return resolved;
  resolved =
    route.mode === 'disaggregated'
      ? { mode: route.mode, route, prefill: disaggregatedHalf(deps, route.prefill), decode: disaggregatedHalf(deps, route.decode) }
      : { mode: route.mode, route, complete: aggregatedHalf(deps, route.pool) };
  routes.set(route, resolved);
  return resolved;
}

/** The route of the tier the state is served at, with its protocols. */
export function stepRoute(deps: RouteDeps, state: PlanState): StepRoute {
  return resolveRoute(deps, tierRoute(deps.config, state.tierServed, state.model));
}

function call(deps: StepDeps, state: PlanState, target: BackendTarget, signal: AbortSignal): BackendCall {
  const tierConfig = deps.config.tiers[state.tierServed];
  return {
    client: deps.client,
    target,
    api: state.api,
    requestId: state.requestId,
    signal,
    pool: deps.config.pools[target.pool],
    tier: state.tierServed,
    tierConfig,
    priority: (t) => deps.pools.enginePriority(t.pool, t.endpoint, state.tierServed, tierConfig),
  };
}

/**
 * What a failed call says about its endpoint: a backend failure counts against it (breaker,
 * retry elsewhere) and is counted in the metrics by pool and class; a client that went away or a
 * request the backend rightly refused says nothing.
 */
function verdictOf(deps: StepDeps, state: PlanState, lease: EndpointLease, err: unknown, signal: AbortSignal): false | undefined {
  if (signal.aborted || !(err instanceof UpstreamError)) return undefined;
  deps.metrics?.backendError({ requestId: state.requestId, pool: err.pool ?? lease.target.pool, errorClass: backendErrorClass(err), upstreamStatus: err.upstreamStatus });
  return false;
}

/** Runs `work` on a leased endpoint, releasing it with a verdict when the work settles. */
function onLease<T>(deps: StepDeps, state: PlanState, lease: EndpointLease, signal: AbortSignal, work: (target: BackendTarget) => Promise<T>): Promise<T> {
  return settled(() => work(lease.target)).then(
    (out) => {
      lease.release(true);
      return out;
    },
    (err: unknown) => {
      lease.release(verdictOf(deps, state, lease, err, signal));
      throw err;
    },
  );
}

/** Whether the state's route has a prefill step (a disaggregated route); {@link prefill} is a no-op otherwise. */
export function hasPrefill(deps: RouteDeps, state: PlanState): boolean {
  return stepRoute(deps, state).mode === 'disaggregated';
}

/**
 * Prefill: on a disaggregated route, picks the pair of endpoints (both, once: decode takes the
 * one chosen here), runs the prefill half of the prefill pool's protocol and records what decode
 * needs (null when prefill returned nothing: decode then recomputes). Other routes pass through
 * unchanged. Conditional disaggregation (lambda/routing/conditional-disaggregation.ts) may skip
 * the prefill call: the state then has `kvTransferParams: null`, only the decode pool in `pools`,
 * and `route` saying why (`local-prefill-short` / `-queue`).
 */
export async function prefill(deps: StepDeps, state: PlanState, signal: AbortSignal): Promise<PlanState> {
  const resolved = stepRoute(deps, state);
  if (resolved.mode !== 'disaggregated') return state;
  const { route } = resolved;
  const decision = decidePrefill(route, state.promptEstimate, deps.pools.inFlight(route.prefill));
  if (decision !== PREFILL_DECISIONS.disaggregated) {
    return { ...state, route: decision, pools: [route.decode], kvTransferParams: null, prefillEndpoint: undefined, decodeEndpoint: undefined };
  }
  const started = performance.now();
  const { lease, decodeEndpoint } = deps.pools.acquirePair(route.prefill, route.decode, resolved.prefill.concurrent === true, state.routingKey);
  const result = await onLease(deps, state, lease, signal, (target) => resolved.prefill.prefill(call(deps, state, target, signal), state.body));
  return {
    ...state,
    kvTransferParams: result.kvTransferParams,
    prefillPromptTokens: result.promptTokens,
    prefillEndpoint: lease.target.endpoint,
    decodeEndpoint,
    prefillMs: Math.round((performance.now() - started) * 100) / 100,
  };
}

/**
 * Releases a lease when a stream ends: completed (`true`), failed (`verdict` of the failure) or
 * abandoned (none, and the stream is closed). A plain iterator rather than an async generator: each batch costs
 * one promise instead of a generator's several.
 */
function releasing(batches: AsyncIterator<string[]>, lease: EndpointLease, verdict: (err: unknown) => false | undefined): AsyncIterator<string[]> {
  let settled = false;
  const settle = (ok: boolean | undefined): void => {
    if (settled) return;
    settled = true;
    lease.release(ok);
  };
  return {
    next: () =>
      batches.next().then(
        (next) => {
          if (next.done) settle(true);
          return next;
        },
        (err: unknown) => {
          settle(verdict(err));
          throw err;
        },
      ),
    return: async () => {
      if (!settled) {
        settle(undefined);
        await batches.return?.();
      }
      return { done: true, value: undefined };
    },
  };
}

/**
 * Opens the decode call (or the single call of an aggregated route). A streaming body always asks
 * the backend for the final usage chunk, which metering needs; the relay hides it from a client
 * that did not ask for it.
 */
export async function openDecode(deps: StepDeps, state: PlanState, signal: AbortSignal): Promise<UpstreamCompletion> {
  const resolved = stepRoute(deps, state);
  const body =
    state.body.stream === true
      ? { ...state.body, stream_options: { ...(state.body.stream_options as object | undefined), include_usage: true } }
      : state.body;
  const pool = resolved.mode === 'disaggregated' ? resolved.route.decode : resolved.route.pool;
  const lease = deps.pools.acquire(pool, resolved.mode === 'disaggregated' ? state.decodeEndpoint : undefined, undefined, state.routingKey);
  let completion: UpstreamCompletion;
  try {
    const backend = call(deps, state, lease.target, signal);
    if (resolved.mode === 'disaggregated') {
      const prefillPool = resolved.route.prefill;
      const prefillTarget = state.prefillEndpoint ? deps.pools.target(prefillPool, state.prefillEndpoint) : null;
      // Pair leases only for a protocol that calls prefill with decode (SGLang).
      const pairs = resolved.decode.concurrent === true ? deps.pools.pairLeases(prefillPool, pool, lease, state.routingKey) : undefined;
      completion = await resolved.decode.decode(backend, body, state.kvTransferParams ?? null, prefillTarget, pairs);
    } else {
      completion = await resolved.complete.complete(backend, body);
    }
  } catch (err) {
    lease.release(verdictOf(deps, state, lease, err, signal));
    throw err;
  }
  if (completion.kind === 'json') {
    lease.release(true);
    return completion;
  }
  return { kind: 'stream', batches: releasing(completion.batches, lease, (err) => verdictOf(deps, state, lease, err, signal)) };
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
 * Runs `attempt` on the state's tier and, while it fails for the backends' reasons, on each
 * fallback tier in turn (never one already tried); rethrows a client error, an abort, or the last
 * failure once the chain is exhausted. Both executors walk fallbacks with it.
 */
export function onTierChain<T>(deps: StepDeps, initial: PlanState, signal: AbortSignal, attempt: (state: PlanState) => Promise<T>): Promise<T> {
  // A promise chain, not an async loop: the common case (the first tier serves) costs one promise.
  const run = (state: PlanState): Promise<T> => settled(() => attempt(state)).catch((err: unknown) => run(nextTierOrThrow(deps, state, err, signal)));
  return run(initial);
}

/** The state switched to the next fallback tier, or `err` rethrown when there is none. */
function nextTierOrThrow(deps: StepDeps, state: PlanState, err: unknown, signal: AbortSignal): PlanState {
  if (!isFallbackWorthy(err) || signal.aborted) throw err;
  const tier = nextFallbackTier(deps.config, state);
  if (!tier) throw err;
  return switchTier(state, tier, tierRoute(deps.config, tier, state.model));
}

/**
 * The state machine's `Fallback` task (the caller has decided the failure warrants one): the
 * failed tier's fallback route serves the request (prefill and decode once each; the state
 * machine retries the whole task), following the chain of fallbacks. Throws `failure` when there
 * is no fallback, or the last failure.
 */
export async function fallback(deps: StepDeps, state: PlanState, failure: unknown, signal: AbortSignal): Promise<PlanState> {
  const tier = nextFallbackTier(deps.config, state);
  if (!tier) throw failure;
  return onTierChain(deps, switchTier(state, tier, tierRoute(deps.config, tier, state.model)), signal, async (current) =>
    decode(deps, await prefill(deps, current, signal), signal),
  );
}

/** Whether a failure is the backend's (worth another route) rather than the client's. */
export function isFallbackWorthy(err: unknown): boolean {
  return err instanceof UpstreamError;
}

/** Whether a failure is transient (worth retrying the same step). */
export function isTransient(err: unknown): boolean {
  return err instanceof UpstreamError && err.retryable;
}

/** `attempt()`, with a synchronous throw turned into a rejection (as an `async` caller would). */
export function settled<T>(attempt: () => Promise<T>): Promise<T> {
  try {
    return attempt();
  } catch (err) {
    return Promise.reject(err);
  }
}
