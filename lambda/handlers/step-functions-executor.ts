/**
 * Runs non-streaming plans on the orchestration state machine (Express, `StartSyncExecution`):
 * Prefill → Decode → Meter with Retry and Catch → Fallback, as synthesized in lib/orchestration.ts.
 * The state machine meters the plan (its Meter or MeterFailure step); when it could not (its
 * Meter step failed after its retries: MeterDeferred; or the execution timed out or was aborted
 * before metering), this executor runs the same Meter step here.
 */
import { SFNClient, StartSyncExecutionCommand } from '@aws-sdk/client-sfn';
import { PlanNotMeteredError } from '../core/errors.ts';
import type { PlanExecutor, PlanMetering } from '../core/executor.ts';
import { NO_USAGE } from '../core/meter-step.ts';
import type { PlanState } from '../core/plan.ts';
import { fromStepError } from '../core/wire-errors.ts';

/** The execution's output: the final plan state, with `meterError` when its Meter step failed (MeterDeferred). */
type ExecutionOutput = PlanState & { readonly meterError?: { readonly Error: string; readonly Cause?: string } };

/** Executes plans on a state machine. */
export class StepFunctionsExecutor implements PlanExecutor {
  readonly name = 'step-functions';

  constructor(
    private readonly stateMachineArn: string,
    private readonly client: SFNClient = new SFNClient({ disableHostPrefix: process.env.AWS_ENDPOINT_URL_SFN !== undefined }),
  ) {}

  async runJson(state: PlanState, signal: AbortSignal, metering: PlanMetering): Promise<PlanState> {
    const out = await this.client.send(
      new StartSyncExecutionCommand({ stateMachineArn: this.stateMachineArn, name: state.requestId, input: JSON.stringify(state) }),
      { abortSignal: signal },
    );
    if (out.status === 'SUCCEEDED' && out.output) {
      const { meterError, ...done } = JSON.parse(out.output) as ExecutionOutput;
      if (meterError !== undefined) metering.meter(done, done.usage ?? NO_USAGE);
      return done;
    }
    // Failed: its MeterFailure step metered it.
    if (out.status === 'FAILED') throw fromStepError(out.error, out.cause);
    const failure = new PlanNotMeteredError(out.status ?? 'unknown');
    metering.meter(state, NO_USAGE, failure);
    throw failure;
  }
}
