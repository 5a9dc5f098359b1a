/**
 * The metering record of a request, built the same way by both executors.
 */
import type { PlanState, PlanUsage } from './plan.ts';
import type { UsageRecord } from './ports.ts';

/** The {@link UsageRecord} of a plan that ended with `outcome`. */
export function usageRecordOf(state: PlanState, outcome: UsageRecord['outcome'], usage: PlanUsage, ttftMs: number | null, now = Date.now()): UsageRecord {
  return {
    requestId: state.requestId,
    tenantId: state.tenantId,
    tierAsked: state.tierAsked,
    tierServed: state.tierServed,
    route: state.route,
    pools: state.pools,
    model: state.model,
    promptTokens: usage.promptTokens,
    completionTokens: usage.completionTokens,
    ttftMs,
    totalMs: now - state.startedAt,
    outcome,
    startedAt: state.startedAt,
  };
}
