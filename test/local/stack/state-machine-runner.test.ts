import { describe, expect, it } from 'vitest';
import { LambdaTaskError } from '../../../local/stack/lambda-error.ts';
import type { LocalFunction } from '../../../local/stack/local-lambda.ts';
import { createLocalStateMachine, statesEntered } from '../../../local/stack/state-machine-runner.ts';

const ARN = (name: string) => `arn:aws:lambda:local:000000000000:function:${name}`;

/** A fake local function: its `invoke` follows LocalFunction's contract (throws LambdaTaskError). */
function fakeFunction(name: string, body: (event: Record<string, unknown>) => unknown): LocalFunction {
  return {
    logicalId: name,
    name,
    arn: ARN(name),
    handlerName: 'index.handler',
    file: '/dev/null',
    environment: {},
    handler: () => undefined,
    invoke: async (event) => {
      try {
        return (await body(event as Record<string, unknown>)) ?? null;
      } catch (err) {
        throw LambdaTaskError.from(err);
      }
    },
  };
}

function named(name: string, message: string): Error {
  return Object.assign(new Error(message), { name });
}

const retry = [{ ErrorEquals: ['Transient'], IntervalSeconds: 1, MaxAttempts: 2, BackoffRate: 2, JitterStrategy: 'FULL' }];

function definition(): string {
  return JSON.stringify({
    StartAt: 'Work',
    States: {
      Work: { Type: 'Task', Resource: ARN('work'), Retry: retry, Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Rescue' }], Next: 'Wrap' },
      Wrap: {
        Type: 'Task',
        Resource: 'arn:aws:states:::lambda:invoke',
        Parameters: { FunctionName: ARN('wrap'), 'Payload.$': '$' },
        ResultSelector: { 'out.$': '$.Payload', 'status.$': '$.StatusCode' },
        End: true,
      },
      Rescue: { Type: 'Task', Resource: ARN('rescue'), Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.error', Next: 'Failed' }], End: true },
      Failed: { Type: 'Fail', ErrorPath: '$.error.Error', CausePath: '$.error.Cause' },
    },
  });
}

function machine(work: (e: Record<string, unknown>) => unknown, rescue: (e: Record<string, unknown>) => unknown = (e) => ({ rescued: e.error })) {
  const fns = [fakeFunction('work', work), fakeFunction('wrap', (e) => ({ ...e, wrapped: true })), fakeFunction('rescue', rescue)];
  return createLocalStateMachine({
    arn: 'arn:aws:states:local:000000000000:stateMachine:Test',
    definition: definition(),
    findFunction: (arn) => fns.find((f) => f.arn === arn),
    retryIntervalMs: 1,
  });
}

describe('local state machine', () => {
  it('runs function-ARN tasks and emulates the lambda:invoke envelope', async () => {
    const sm = machine((e) => ({ ...e, worked: true }));
    const run = await sm.startSyncExecution(JSON.stringify({ n: 1 }), 'exec-1');
    expect(run.status).toBe('SUCCEEDED');
    expect(JSON.parse(run.output!)).toEqual({ out: { n: 1, worked: true, wrapped: true }, status: 200 });
    expect(statesEntered(run)).toEqual(['Work', 'Wrap']);
    expect(run.name).toBe('exec-1');
    expect(run.executionArn).toContain(':express:Test:exec-1:');
    expect(sm.executions()).toHaveLength(1);
  });

  it('retries a matching error per the Retry rule (attempts counted in the history)', async () => {
    let calls = 0;
    const sm = machine((e) => {
      calls += 1;
      if (calls < 3) throw named('Transient', 'try again');
      return e;
    });
    const run = await sm.startSyncExecution('{}');
    expect(run.status).toBe('SUCCEEDED');
    expect(calls).toBe(3);
    expect(run.history.filter((h) => h.type === 'StateRetried').map((h) => [h.state, h.attempt])).toEqual([
      ['Work', 1],
      ['Work', 2],
    ]);
  });

  it('gives Catch the error as AWS reports it: Error = errorType, Cause = the Lambda error JSON', async () => {
    const sm = machine(() => {
      throw named('Fatal', '{"statusCode":400}');
    });
    const run = await sm.startSyncExecution('{"a":1}');
    expect(run.status).toBe('SUCCEEDED');
    const rescued = (JSON.parse(run.output!) as { rescued: { Error: string; Cause: string } }).rescued;
    expect(rescued.Error).toBe('Fatal');
    const cause = JSON.parse(rescued.Cause) as { errorType: string; errorMessage: string; trace: string[] };
    expect(cause.errorType).toBe('Fatal');
    expect(cause.errorMessage).toBe('{"statusCode":400}');
    expect(Array.isArray(cause.trace)).toBe(true);
    expect(statesEntered(run)).toEqual(['Work', 'Rescue']);
    // A non-matching error is not retried.
    expect(run.history.some((h) => h.type === 'StateRetried')).toBe(false);
  });

  it('fails the execution with the error and cause of a Fail state', async () => {
    const sm = machine(
      () => {
        throw named('Transient', 'always');
      },
      () => {
        throw named('NoRescue', 'nothing left');
      },
    );
    const run = await sm.startSyncExecution('{}');
    expect(run.status).toBe('FAILED');
    expect(run.error).toBe('NoRescue');
    expect(JSON.parse(run.cause!)).toMatchObject({ errorType: 'NoRescue', errorMessage: 'nothing left' });
    expect(statesEntered(run)).toEqual(['Work', 'Rescue', 'Failed']);
    expect(run.stopDate!.getTime()).toBeGreaterThanOrEqual(run.startDate.getTime());
  });

  it('rejects a Task whose resource is not a local function', () => {
    expect(() =>
      createLocalStateMachine({
        arn: 'arn:aws:states:local:000000000000:stateMachine:X',
        definition: JSON.stringify({ StartAt: 'T', States: { T: { Type: 'Task', Resource: ARN('nope'), End: true } } }),
        findFunction: () => undefined,
      }),
    ).toThrow(/Resource .*nope/);
  });
});
