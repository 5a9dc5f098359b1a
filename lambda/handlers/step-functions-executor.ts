/**
 * Runs non-streaming plans on the orchestration state machine (Express, `StartSyncExecution`):
 * Prefill → Decode → Meter with Retry and Catch → Fallback, as synthesized in lib/orchestration.ts.
 */
import { SFNClient, StartSyncExecutionCommand } from '@aws-sdk/client-sfn';
import { PlanNotMeteredError } from '../core/errors.ts';
import type { PlanExecutor } from '../core/executor.ts';
import type { PlanState } from '../core/plan.ts';
import { fromStepError } from '../core/wire-errors.ts';

/** Executes plans on a state machine. */
export class StepFunctionsExecutor implements PlanExecutor {
  readonly name = 'step-functions';
  readonly meters = true;

  constructor(
    private readonly stateMachineArn: string,
    private readonly client: SFNClient = new SFNClient({ disableHostPrefix: process.env.AWS_ENDPOINT_URL_SFN !== undefined }),
  ) {}

  async runJson(state: PlanState, signal: AbortSignal): Promise<PlanState> {
    const out = await this.client.send(
      new StartSyncExecutionCommand({ stateMachineArn: this.stateMachineArn, name: state.requestId, input: JSON.stringify(state) }),
      { abortSignal: signal },
    );
    if (out.status === 'SUCCEEDED' && out.output) return JSON.parse(out.output) as PlanState;
    if (out.status === 'FAILED') throw fromStepError(out.error, out.cause);
    throw new PlanNotMeteredError(out.status ?? 'unknown');
  }
}
