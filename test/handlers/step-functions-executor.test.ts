/**
 * The Step Functions executor and the plan's Meter step: the state machine meters a plan (its
 * Meter or MeterFailure step); the executor runs the Meter step itself only when the execution
 * could not (MeterDeferred, or an execution that timed out). The SFN client is stubbed at the SDK
 * boundary: `send` answers as StartSyncExecution does.
 */
import type { SFNClient, StartSyncExecutionCommandOutput } from '@aws-sdk/client-sfn';
import { describe, expect, it } from 'vitest';
import { PlanNotMeteredError, UpstreamError } from '../../lambda/core/errors.ts';
import type { PlanMetering } from '../../lambda/core/executor.ts';
import type { PlanState, PlanUsage } from '../../lambda/core/plan.ts';
import { StepFunctionsExecutor } from '../../lambda/handlers/step-functions-executor.ts';

const STATE: PlanState = {
  requestId: 'req-1',
  tenantId: 'acme',
  api: 'chat',
  model: 'm',
  tierAsked: 'auto',
  tierServed: 'default',
  tiersTried: ['default'],
  body: { model: 'm', messages: [{ role: 'user', content: 'hi' }] },
  route: 'aggregated',
  pools: ['gpu'],
  promptEstimate: 3,
  startedAt: 1_700_000_000_000,
};
const USAGE: PlanUsage = { promptTokens: 3, completionTokens: 5 };

function executorAnswering(out: Partial<StartSyncExecutionCommandOutput>): { executor: StepFunctionsExecutor; inputs: unknown[] } {
  const inputs: unknown[] = [];
  const client = { send: async (command: { input: unknown }) => (inputs.push(command.input), out) } as unknown as SFNClient;
  return { executor: new StepFunctionsExecutor('arn:aws:states:local:000000000000:stateMachine:plan', client), inputs };
}

function recordingMetering() {
  const metered: Array<{ state: PlanState; usage: PlanUsage; failure: unknown }> = [];
  let opened = 0;
  const metering: PlanMetering = {
    open: () => (opened++, undefined),
    meter: (state, usage, failure) => void metered.push({ state, usage, failure }),
  };
  return { metering, metered, opened: () => opened };
}

const signal = new AbortController().signal;

describe('StepFunctionsExecutor', () => {
  it('returns the final state of a metered execution and meters nothing itself', async () => {
    const done = { ...STATE, usage: USAGE, response: { id: 'cmpl-1' } };
    const { executor, inputs } = executorAnswering({ status: 'SUCCEEDED', output: JSON.stringify(done) });
    const m = recordingMetering();
    await expect(executor.runJson(STATE, signal, m.metering)).resolves.toEqual(done);
    expect(inputs).toEqual([{ stateMachineArn: expect.stringContaining('stateMachine:plan'), name: 'req-1', input: JSON.stringify(STATE) }]);
    expect(m.metered).toEqual([]);
    expect(m.opened()).toBe(0);
  });

  it('runs the Meter step when the state machine deferred it (MeterDeferred), and returns the state without meterError', async () => {
    const done = { ...STATE, usage: USAGE, response: { id: 'cmpl-2' } };
    const { executor } = executorAnswering({ status: 'SUCCEEDED', output: JSON.stringify({ ...done, meterError: { Error: 'Lambda.ServiceException' } }) });
    const m = recordingMetering();
    await expect(executor.runJson(STATE, signal, m.metering)).resolves.toEqual(done);
    expect(m.metered).toEqual([{ state: done, usage: USAGE, failure: undefined }]);
    expect(m.opened()).toBe(0);
  });

  it('rethrows a failed execution (its MeterFailure step metered it) without metering', async () => {
    const { executor } = executorAnswering({ status: 'FAILED', error: 'Splitserve.UpstreamFatal', cause: JSON.stringify({ errorType: 'Splitserve.UpstreamFatal', errorMessage: 'The gpu backend failed (HTTP 500).' }) });
    const m = recordingMetering();
    await expect(executor.runJson(STATE, signal, m.metering)).rejects.toBeInstanceOf(UpstreamError);
    expect(m.metered).toEqual([]);
  });

  it.each(['TIMED_OUT', 'ABORTED'])('meters an execution that ended %s before its Meter step, with no tokens, then throws', async (status) => {
    const { executor } = executorAnswering({ status: status as StartSyncExecutionCommandOutput['status'] });
    const m = recordingMetering();
    const err = await executor.runJson(STATE, signal, m.metering).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PlanNotMeteredError);
    expect((err as PlanNotMeteredError).statusCode).toBe(504);
    expect(m.metered).toEqual([{ state: STATE, usage: { promptTokens: 0, completionTokens: 0 }, failure: err }]);
  });
});
