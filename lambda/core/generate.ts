/**
 * A generation request (`/v1/chat/completions`, `/v1/completions`) from authenticated caller to
 * response: validate → classify (tier asked → tier granted → route) → admit → execute the plan →
 * shape → meter. Streaming plans run in-process; non-streaming ones on the configured executor.
 */
import type { TierName } from './config.ts';
import { checkContextLimit } from './context-limit.ts';
import { costUnits, reservePriceFactor } from './cost.ts';
import { NotFoundError, PermissionDeniedError, TierOverloadedError } from './errors.ts';
import type { Placement } from './overload-guard.ts';
import type { RequestRun } from './drain.ts';
import type { GatewayDeps } from './gateway-deps.ts';
import type { GatewayResponse } from './http-types.ts';
import { jsonResponse, SSE_HEADERS } from './http-types.ts';
import { writesDebug } from './logger.ts';
import type { PlanState, PlanUsage } from './plan.ts';
import { ROUTE_KINDS, switchTier } from './plan.ts';
import { routePools, tierRoute } from '../routing/tier-route.ts';
import { openPlanStream } from './executor.ts';
import type { OpenedStream, PlanMetering } from './executor.ts';
import { meterPlan, NO_USAGE } from './meter-step.ts';
import { refusalReason } from './metric-labels.ts';
import type { AdmissionRequest, AdmissionTicket, OpenRequestHandle, Principal, UsageRecord } from './ports.ts';
import { addRateLimitHeaders } from './rate-limit-headers.ts';
import type { ApiKind } from './request-schema.ts';
import { parseGenerationBody } from './request-schema.ts';
import { StreamShaper } from './response-shape.ts';
import { neverFitRefusal } from './request-fit.ts';
import { relayStream } from './stream-relay.ts';
import { openRequestOf, usageRecordOf } from './usage-record.ts';
import { routesByKey, routingKey, sessionOf } from '../routing/routing-key.ts';
import { grantTier, normaliseTier } from '../routing/tier-grant.ts';
import { applyCompletionLimit, estimatePromptTokens, maxCompletionTokens, tokenBounds } from './token-estimate.ts';

/** Routes that are the plan as configured (anything else is a decision worth logging). */
const ROUTINE_ROUTES: ReadonlySet<string> = new Set([ROUTE_KINDS.disaggregated, ROUTE_KINDS.aggregated, ROUTE_KINDS.bedrock]);

/** Per-request context the edge hands to the generation handler. */
export interface GenerationContext {
  readonly requestId: string;
  readonly principal: Principal;
  readonly signal: AbortSignal;
  /** The `x-session-id` header, when the client sent one (lambda/routing/routing-key.ts). */
  readonly session?: string | undefined;
  /** The request's own deadline (the adapter's), aborted with the error to answer. */
  readonly deadline?: AbortSignal;
  /** Response headers every answer carries (request id). */
  readonly baseHeaders: Record<string, string>;
  readonly startedAt: number;
}

/** Tiers the tenant may use that are configured and able to serve the model. */
function servableTiers(deps: GatewayDeps, principal: Principal, model: string): TierName[] {
  return principal.tenant.tiers.filter((tier) => {
    try {
      tierRoute(deps.config, tier, model);
      return true;
    } catch {
      return false;
    }
  });
}

/** Handles one generation request. Errors are thrown typed and mapped at the edge. */
export async function handleGeneration(deps: GatewayDeps, api: ApiKind, rawBody: string, ctx: GenerationContext): Promise<GatewayResponse> {
  const body = parseGenerationBody(api, rawBody);
  if (!deps.config.models[body.model]) {
    throw new NotFoundError(`The model '${body.model}' does not exist or you do not have access to it.`, 'model_not_found', 'model');
  }
  const tierAsked = normaliseTier(body.service_tier);
  const tier = grantTier(tierAsked, servableTiers(deps, ctx.principal, body.model));
  if (!tier) throw new PermissionDeniedError(`Your account has no service tier that serves the model '${body.model}'.`);
  const route = tierRoute(deps.config, tier, body.model);
  const promptEstimate = estimatePromptTokens(api, body);
  const key = routesByKey(deps.config) ? routingKey(ctx.principal.tenant.id, sessionOf(ctx.session, body), body) : undefined;
  // The engine gets the completion limit reserved; admission reserves an upper bound of the
  // request's tokens (token-estimate.ts); the overload guard weighs the central estimate.
  const bounds = tokenBounds(api, applyCompletionLimit(api, body, deps.config.defaultMaxTokens), deps.config.defaultMaxTokens);
  checkContextLimit(body.model, deps.config.models[body.model]!, bounds);
  const reserveTokens = bounds.total;
  const loadTokens = promptEstimate + maxCompletionTokens(body, deps.config.defaultMaxTokens);
  const priceFactor = reservePriceFactor(deps.config, tier);
  // A request that can never fit its tenant's limits is told so before the overload guard could
  // shed it with a retry-after (request-fit.ts).
  const reserveCost = costUnits(reserveTokens, priceFactor);
  const tooLarge = neverFitRefusal(tier, ctx.principal.tenant.limits[tier], { tokens: reserveTokens, cost: reserveCost });
  if (tooLarge) {
    refused(deps, ctx, tier, tooLarge);
    throw tooLarge;
  }
  const asked: PlanState = {
    requestId: ctx.requestId,
    tenantId: ctx.principal.tenant.id,
    api,
    model: body.model,
    tierAsked,
    tierServed: tier,
    tiersTried: [tier],
    body,
    route: route.mode,
    pools: routePools(route),
    promptEstimate,
    ...(key !== undefined ? { routingKey: key } : {}),
    startedAt: ctx.startedAt,
  };

  // Overload control places the request (its tier, a faster fallback, or a 429) before any
  // quota is consumed: a shed request costs the tenant nothing.
  let placement: Placement;
  try {
    placement = deps.overload.place({ tier, model: body.model, tenantId: asked.tenantId, tokens: loadTokens });
  } catch (err) {
    if (err instanceof TierOverloadedError) shed(deps, asked, err);
    throw err;
  }
  const state = placement.tier === tier ? asked : { ...switchTier(asked, placement.tier, tierRoute(deps.config, placement.tier, body.model)), yieldedFrom: tier };
  const request: AdmissionRequest = { requestId: ctx.requestId, tenant: ctx.principal.tenant, tier, reserveTokens, priceFactor };
  const admission = deps.admission.admit(request);
  // Its upstream calls stop when the client goes away, at the adapter's deadline, or at the
  // drain deadline of this instance (drain.ts).
  const run = deps.drain.enter(ctx.signal, ctx.deadline);
  // Crash safety: a marker of the request, written while the backend works on it (open-requests.ts),
  // held by whoever meters it in this process: the gateway for a stream, the in-process executor
  // for a non-streamed plan (a state machine execution meters its own even if this process dies).
  const open = () => deps.openRequests?.open(openRequestOf(state, reserveTokens, reserveCost));
  // Speculative start: a stream whose admission is all but certain (the tenant's last admission
  // here left ample room) opens its plan and its marker while the admission write is in flight, so
  // neither the write's round trip nor the marker's after it is added to the time to first token.
  // Nothing reaches the client before the admission succeeds; a refusal stops the backend calls
  // at once and lets the marker go (a refused request has no record to wait for).
  const early = body.stream === true && deps.admission.admitsLikely?.(request) === true ? openPlanStream(deps.steps, state, run.signal) : undefined;
  // Handled from now on: a plan that fails before the admission answers is not an unhandled
  // rejection (the stream awaits `early` itself, and sees the failure).
  early?.catch(() => undefined);
  const earlyMarker = early ? open() : undefined;
  let ticket: AdmissionTicket;
  try {
    ticket = await admission;
  } catch (err) {
    refused(deps, ctx, tier, err);
    run.abandon(err);
    early?.then((opened) => opened.rest.return?.(), () => undefined).catch(() => undefined);
    if (earlyMarker) deps.openRequests?.recorded([ctx.requestId]);
    placement.release();
    throw err;
  }
  // The answer's headers, built once into one object (spreads re-copy every key).
  const headers: Record<string, string> = body.stream === true ? { ...SSE_HEADERS, ...ctx.baseHeaders } : { ...ctx.baseHeaders };
  const marker = body.stream === true ? (earlyMarker ?? open()) : undefined;
  const admitted: Admitted = { state, ticket, placement, headers: addRateLimitHeaders(headers, ticket.rateLimit), ctx, run, marker, recorded: undefined, early };
  try {
    return body.stream === true ? await streamPlan(deps, admitted) : await jsonPlan(deps, admitted, open);
  } catch (thrown) {
    // Ended by a deadline: answered (and metered) as the deadline's error, not as an abort.
    const err = run.stopped && !ctx.signal.aborted ? run.stopped : thrown;
    finish(deps, admitted, state, { outcome: ctx.signal.aborted ? 'aborted' : 'error', usage: NO_USAGE, ttftMs: null }, err);
    throw err;
  }
}

/** Counts a request refused before any backend was called (a quota 429 or a shed), when `err` is such a refusal. */
function refused(deps: GatewayDeps, ctx: GenerationContext, tier: TierName, err: unknown): void {
  const reason = deps.metrics && refusalReason(err);
  if (reason) deps.metrics.refused({ requestId: ctx.requestId, tenantId: ctx.principal.tenant.id, tier, reason });
}

/** Meters, counts and logs a request the overload shed (429): no tokens, no cost, counted per tier as shed. */
function shed(deps: GatewayDeps, state: PlanState, err: TierOverloadedError): void {
  meterPlan(deps.meter, deps.config, state, 'shed', NO_USAGE);
  deps.metrics?.refused({ requestId: state.requestId, tenantId: state.tenantId, tier: state.tierServed, reason: 'overload' });
  deps.logger.info('request shed', { requestId: state.requestId, tenant: state.tenantId, tierAsked: state.tierAsked, tier: state.tierServed, retryAfterMs: err.retryAfterMs, reason: err.message });
}

/** An admitted request, ready to run its plan. */
interface Admitted {
  readonly state: PlanState;
  readonly ticket: AdmissionTicket;
  readonly placement: Placement;
  /** Headers of the answer: request id and rate limits (and the SSE ones for a stream). */
  readonly headers: Record<string, string>;
  readonly ctx: GenerationContext;
  /** Its cancellation: `run.signal` is what upstream calls stop at; `run.stopped` says why, at a deadline. */
  readonly run: RequestRun;
  /** A stream's open marker: durable before the first byte reaches the client. */
  readonly marker: OpenRequestHandle | undefined;
  /** The usage record a non-streamed plan's Meter step wrote in this process, if it did. */
  recorded: UsageRecord | undefined;
  /** A stream's plan, opened while its admission was in flight (a speculative start). */
  readonly early: Promise<OpenedStream> | undefined;
}

async function jsonPlan(deps: GatewayDeps, admitted: Admitted, open: PlanMetering['open']): Promise<GatewayResponse> {
  const { state, headers, ctx } = admitted;
  const metering: PlanMetering = {
    open,
    meter: (metered, usage, failure) => {
      const outcome = failure === undefined ? 'ok' : ctx.signal.aborted ? 'aborted' : 'error';
      admitted.recorded = meterPlan(deps.meter, deps.config, metered, outcome, usage);
    },
  };
  const done = await deps.executor.runJson(state, admitted.run.signal, metering);
  finish(deps, admitted, done, { outcome: 'ok', usage: done.usage ?? NO_USAGE, ttftMs: null });
  headers['openai-processing-ms'] = String(Date.now() - ctx.startedAt);
  return jsonResponse(200, done.response, headers);
}

async function streamPlan(deps: GatewayDeps, admitted: Admitted): Promise<GatewayResponse> {
  const { state, headers, ctx } = admitted;
  const opened = await (admitted.early ?? openPlanStream(deps.steps, state, admitted.run.signal));
  if (admitted.marker) await admitted.marker.ready();
  admitted.placement.firstToken();
  const streamOptions = state.body.stream_options as { include_usage?: boolean; continuous_usage_stats?: boolean } | null | undefined;
  const includeUsage = streamOptions?.include_usage === true;
  const shaper = new StreamShaper({ model: state.model, tierServed: opened.state.tierServed, includeUsage, continuousUsage: includeUsage && streamOptions?.continuous_usage_stats === true });
  const body = relayStream(opened, shaper, { client: ctx.signal, run: admitted.run }, (end) => {
    if (end.invalidEvents > 0) {
      deps.logger.warn('invalid stream events dropped', { requestId: state.requestId, pools: opened.state.pools, invalidEvents: end.invalidEvents });
    }
    finish(deps, admitted, opened.state, { outcome: end.outcome, usage: end.usage, ttftMs: opened.ttftMs }, end.error);
  });
  headers['openai-processing-ms'] = String(Date.now() - ctx.startedAt);
  return { status: 200, headers, body };
}

interface Ending {
  readonly outcome: UsageRecord['outcome'];
  readonly usage: PlanUsage;
  readonly ttftMs: number | null;
}

/**
 * Settles admission and the placement, meters a stream and logs a request, exactly once, off the
 * response path. A non-streamed plan was metered by its executor's Meter step.
 */
function finish(deps: GatewayDeps, { ticket, placement, run, recorded }: Admitted, state: PlanState, end: Ending, error?: unknown): void {
  const totalMs = Date.now() - state.startedAt;
  run.end();
  placement.release();
  const record =
    state.body.stream === true
      ? meterPlan(deps.meter, deps.config, state, end.outcome, end.usage, end.ttftMs)
      : (recorded ?? usageRecordOf(state, end.outcome, end.usage, end.ttftMs, deps.config.tiers[state.tierServed]));
  ticket.settle({ tokens: end.usage.promptTokens + end.usage.completionTokens, costUnits: record.costUnits });
  const kvRecomputed = state.route === 'disaggregated' && state.kvTransferParams === null;
  deps.metrics?.record(record, { kvRecomputed, plannedTier: state.tiersTried[0] ?? state.tierServed });
  // Every request is logged; at INFO when something is worth a look (a failure, an abort, a tier
  // other than the one asked, a local prefill, a KV recompute), at DEBUG otherwise: a synchronous
  // stdout line per routine request was ~8% of the gateway's CPU (npm run bench, --cpu-prof).
  const notable = end.outcome !== 'ok' || kvRecomputed || (state.tierAsked !== 'auto' && state.tierAsked !== state.tierServed) || !ROUTINE_ROUTES.has(state.route);
  if (!notable && !writesDebug(deps.logger)) return;
  (notable ? deps.logger.info : deps.logger.debug).call(deps.logger, 'request', {
    requestId: state.requestId,
    tenant: state.tenantId,
    tierAsked: state.tierAsked,
    tier: state.tierServed,
    route: state.route,
    pools: state.pools,
    executor: state.body.stream === true ? 'in-process' : deps.executor.name,
    outcome: end.outcome,
    prefillMs: state.prefillMs,
    kvParams: state.route === 'disaggregated' ? state.kvTransferParams != null : undefined,
    ttftMs: end.ttftMs,
    tpotMs: record.tpotMs,
    sloMet: record.sloMet,
    totalMs,
    ...(state.yieldedFrom ? { yieldedFrom: state.yieldedFrom } : {}),
    promptTokens: end.usage.promptTokens,
    completionTokens: end.usage.completionTokens,
    ...(error ? { error: error instanceof Error ? error.message : String(error) } : {}),
  });
}
