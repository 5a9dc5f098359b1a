/**
 * The plan's steps as Step Functions task handlers (one Lambda function each, same bundle): each
 * takes the plan state as its event and returns the next state. They call the very functions the
 * in-process executor calls (lambda/core/plan-steps.ts); errors leave as plan error names the
 * state machine's Retry/Catch match (lambda/core/plan-errors.ts).
 */
import { PoolDirectory } from '../backends/pool-directory.ts';
import { UpstreamClient } from '../backends/upstream-client.ts';
import type { PlanState } from '../core/plan.ts';
import * as steps from '../core/plan-steps.ts';
import type { StepDeps } from '../core/plan-steps.ts';
import { usageRecordOf } from '../core/usage-record.ts';
import { fromStepError, isUpstreamFailure, toStepError } from '../core/wire-errors.ts';
import type { UsageMeter } from '../core/ports.ts';
import { DynamoUsageMeter } from '../store/usage-meter.ts';
import { createLogger } from '../core/logger.ts';
import { readFunctionEnvironment } from './function-env.ts';
import { traced } from './tracing.ts';

/** What the task handlers share within one execution environment. */
export interface StepRuntime {
  readonly deps: StepDeps;
  /**
   * A usage meter for one `Meter` invocation. One per invocation, not per environment: a record
   * whose flush failed leaves with the invocation (the state machine's Retry records it again,
   * or MeterDeferred hands it to the gateway), instead of staying queued in the environment and
   * being written a second time by a later invocation's flush.
   */
  readonly meterForInvocation: () => UsageMeter;
}

let runtime: StepRuntime | undefined;

function current(): StepRuntime {
  if (!runtime) {
    const env = readFunctionEnvironment();
    const logger = createLogger();
    const dynamo = traced(env.dynamo);
    runtime = {
      deps: { config: env.config, pools: new PoolDirectory(env.config.pools, { logger }), client: new UpstreamClient() },
      meterForInvocation: () => new DynamoUsageMeter(dynamo, env.tables.usage, { logger, flushIntervalMs: 0, aggregatesAfterRecords: true }),
    };
  }
  return runtime;
}

const never = new AbortController().signal;

async function run(step: () => Promise<PlanState>): Promise<PlanState> {
  try {
    return await step();
  } catch (err) {
    throw toStepError(err);
  }
}

/** `Prefill` task. */
export const prefill = (state: PlanState): Promise<PlanState> => run(() => steps.prefill(current().deps, state, never));

/** `Decode` task. */
export const decode = (state: PlanState): Promise<PlanState> => run(() => steps.decode(current().deps, state, never));

/**
 * `Fallback` task: the failed step's error arrives in `state.error`; a client error is thrown
 * again unchanged (no other route would accept the request), a backend failure is served by the
 * tier's fallback route.
 */
export const fallback = (state: PlanState): Promise<PlanState> =>
  run(() => {
    const failure = fromStepError(state.error?.Error, state.error?.Cause);
    if (!isUpstreamFailure(state.error?.Error)) throw failure;
    return steps.fallback(current().deps, { ...state, error: undefined }, failure, never);
  });

/** `Meter` task: records the request's usage (success, or failure with `error`) durably. */
export async function meter(state: PlanState): Promise<void> {
  const { meterForInvocation, deps } = current();
  const sink = meterForInvocation();
  sink.record(usageRecordOf(state, state.error ? 'error' : 'ok', state.usage ?? { promptTokens: 0, completionTokens: 0 }, null, deps.config.tiers[state.tierServed]));
  await sink.flush();
}
