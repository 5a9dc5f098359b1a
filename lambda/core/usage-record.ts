/**
 * The metering record of a request, built the same way by both executors: tokens, timings, the
 * SLO verdict and the cost.
 *
 * - TTFT: from the request's start to the first output the gateway received (streams only; a
 *   non-streamed answer arrives whole, so it has none).
 * - TPOT: the mean time per output token after the first, (total − TTFT) / (completion − 1), for
 *   a stream of two tokens or more that completed (an aborted stream's end is when the gateway saw
 *   its client go, not its last token).
 * - SLO met, against the served tier's `slo` (null when it has none): a stream that completed meets
 *   it when TTFT ≤ `ttftMs` and TPOT ≤ `tpotMs`, one its client aborted after its first token
 *   when TTFT ≤ `ttftMs` (it has no TPOT); a non-streamed answer when its whole latency is within what the targets allow,
 *   `ttftMs` + `tpotMs` × (completion − 1); a failure never does; an abort before the first token
 *   and a shed request are not judged (null).
 * - Cost units: ⌈tokens × the served tier's `priceFactor`⌉ (cost.ts).
 */
import type { TierConfig } from './config.ts';
import { costUnits } from './cost.ts';
import type { PlanState, PlanUsage } from './plan.ts';
import type { OpenRequest, RequestIdentity, UsageRecord } from './ports.ts';

/** The TPOT of a stream: mean inter-token time after the first token, or null (fewer than two tokens, no TTFT). */
export function tpotOf(totalMs: number, ttftMs: number | null, completionTokens: number): number | null {
  if (ttftMs === null || completionTokens < 2) return null;
  return Math.round(((totalMs - ttftMs) / (completionTokens - 1)) * 100) / 100;
}

/** Whether a request met its tier's SLO; null when not judged (see the module header). */
export function sloMetOf(
  slo: TierConfig['slo'],
  outcome: UsageRecord['outcome'],
  timing: { readonly ttftMs: number | null; readonly tpotMs: number | null; readonly totalMs: number; readonly completionTokens: number },
): boolean | null {
  if (!slo || outcome === 'shed') return null;
  if (outcome === 'error') return false;
  if (timing.ttftMs !== null) return timing.ttftMs <= slo.ttftMs && (timing.tpotMs === null || timing.tpotMs <= slo.tpotMs);
  if (outcome === 'aborted') return null;
  return timing.totalMs <= slo.ttftMs + slo.tpotMs * Math.max(0, timing.completionTokens - 1);
}

/** The {@link UsageRecord} of a plan that ended with `outcome`, judged against the served tier's config. */
export function usageRecordOf(
  state: PlanState,
  outcome: UsageRecord['outcome'],
  usage: PlanUsage,
  ttftMs: number | null,
  tierConfig: TierConfig | undefined,
  now = Date.now(),
): UsageRecord {
  const totalMs = now - state.startedAt;
  const tpotMs = outcome === 'ok' ? tpotOf(totalMs, ttftMs, usage.completionTokens) : null;
  return {
    ...identityOf(state),
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    ttftMs,
    tpotMs,
    sloMet: sloMetOf(tierConfig?.slo, outcome, { ttftMs, tpotMs, totalMs, completionTokens: usage.completionTokens }),
    costUnits: costUnits(usage.promptTokens + usage.completionTokens, tierConfig?.priceFactor ?? 1),
    totalMs,
    outcome,
  };
}

/** What a usage record and an open marker both name of a plan: who asked what, where it ran. */
function identityOf(state: PlanState): RequestIdentity {
  return {
    requestId: state.requestId,
    tenantId: state.tenantId,
    tierAsked: state.tierAsked,
    tierServed: state.tierServed,
    route: state.route,
    pools: state.pools,
    model: state.model,
    startedAt: state.startedAt,
  };
}

/**
 * The open marker of an admitted plan (lambda/store/open-requests.ts): what a sweep bills if the
 * process dies while serving it, the reservation (`reservedTokens`, and `reservedCost` cost units
 * as admission reserved them).
 */
export function openRequestOf(state: PlanState, reservedTokens: number, reservedCost: number): OpenRequest {
  return {
    ...identityOf(state),
    promptTokens: state.promptEstimate,
    reservedTokens: Math.ceil(reservedTokens),
    reservedCost,
  };
}
