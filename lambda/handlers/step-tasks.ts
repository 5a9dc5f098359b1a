/**
 * The plan's steps as Step Functions task handlers (one Lambda function each, same bundle): each
 * takes the plan state as its event and returns the next state. They call the very functions the
 * in-process executor calls (lambda/core/plan-steps.ts); errors leave as plan error names the
 * state machine's Retry/Catch match (lambda/core/plan-errors.ts).
 */
import type { PlanState } from '../core/plan.ts';
import * as steps from '../core/plan-steps.ts';
import { meterPlan, NO_USAGE } from '../core/meter-step.ts';
import { fromStepError, isUpstreamFailure, toStepError } from '../core/wire-errors.ts';
import { readFunctionEnvironment } from './function-env.ts';
import { assembleStepTasks } from './gateway-runtime.ts';
import type { StepTaskRuntime } from './gateway-runtime.ts';
import { fanOutMetrics } from '../core/metrics-fanout.ts';
import { localMetrics } from './local-metrics.ts';
import { EmfRequestMetrics } from './request-metrics.ts';
import { traced } from './tracing.ts';

export { observeLocally } from './local-metrics.ts';

let runtime: StepTaskRuntime | undefined;

/** The tasks' runtime, assembled once per execution environment (cold start) by the composition root. */
function current(): StepTaskRuntime {
  if (!runtime) {
    const env = readFunctionEnvironment();
    runtime = assembleStepTasks({
      config: env.config,
      dynamo: traced(env.dynamo),
      tables: env.tables,
      // Failed backend calls of non-streamed requests happen here; the pool gauges are the gateway's to publish.
      metrics: (pools) => fanOutMetrics([new EmfRequestMetrics(), localMetrics(pools)]),
    });
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
export const prefill = (state: PlanState): Promise<PlanState> => run(async () => {
  await current().discover();
  return steps.prefill(current().steps, state, never);
});

/** `Decode` task. */
export const decode = (state: PlanState): Promise<PlanState> => run(async () => {
  await current().discover();
  return steps.decode(current().steps, state, never);
});

/**
 * `Fallback` task: the failed step's error arrives in `state.error`; a client error is thrown
 * again unchanged (no other route would accept the request), a backend failure is served by the
 * tier's fallback route.
 */
export const fallback = (state: PlanState): Promise<PlanState> =>
  run(async () => {
    const failure = fromStepError(state.error?.Error, state.error?.Cause);
    if (!isUpstreamFailure(state.error?.Error)) throw failure;
    await current().discover();
    return steps.fallback(current().steps, { ...state, error: undefined }, failure, never);
  });

/** `Meter` task: the plan's Meter step (success, or failure with `error`), made durable. */
export async function meter(state: PlanState): Promise<void> {
  const { meterForInvocation, steps: deps } = current();
  const sink = meterForInvocation();
  meterPlan(sink, deps.config, state, state.error ? 'error' : 'ok', state.usage ?? NO_USAGE);
  await sink.flush();
}
