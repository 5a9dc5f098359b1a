/**
 * The plan's Meter step: how a request ended, turned into its usage record and recorded. The one
 * place a plan is metered: the state machine's Meter task (lambda/handlers/step-tasks.ts), the
 * in-process executor at the end of a non-streamed plan, the Step Functions executor when its
 * state machine could not meter, and the gateway at the end of a stream all call it.
 */
import type { SplitserveConfig } from './config.ts';
import type { PlanState, PlanUsage } from './plan.ts';
import type { UsageMeter, UsageRecord } from './ports.ts';
import { usageRecordOf } from './usage-record.ts';

/** No tokens: what a plan that failed before its answer is metered with. */
export const NO_USAGE: PlanUsage = { promptTokens: 0, completionTokens: 0 };

/**
 * Records the usage record of a plan that ended with `outcome`, judged against its served tier;
 * returns the record.
 *
 * @example
 * meterPlan(meter, config, done, 'ok', done.usage ?? NO_USAGE);
 */
export function meterPlan(
  meter: UsageMeter,
  config: SplitserveConfig,
  state: PlanState,
  outcome: UsageRecord['outcome'],
  usage: PlanUsage,
  ttftMs: number | null = null,
): UsageRecord {
  const record = usageRecordOf(state, outcome, usage, ttftMs, config.tiers[state.tierServed]);
  meter.record(record);
  return record;
}
