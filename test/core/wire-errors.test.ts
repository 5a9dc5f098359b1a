import { describe, expect, it } from 'vitest';
import { InvalidRequestError, UpstreamError } from '../../lambda/core/errors.ts';
import { PLAN_ERRORS } from '../../lambda/core/plan-errors.ts';
import { fromStepError, toStepError } from '../../lambda/core/wire-errors.ts';

/** What Step Functions reports for a Lambda task that threw `err`: Error = name, Cause = Lambda's error JSON. */
function acrossTheStateMachine(err: unknown) {
  const thrown = toStepError(err);
  return fromStepError(thrown.name, JSON.stringify({ errorType: thrown.name, errorMessage: thrown.message, trace: [] }));
}

describe('errors across the state machine', () => {
  it('names transient and fatal backend failures for Retry/Catch', () => {
    expect(toStepError(new UpstreamError('x', 502, true)).name).toBe(PLAN_ERRORS.upstreamTransient);
    expect(toStepError(new UpstreamError('x', 502, false)).name).toBe(PLAN_ERRORS.upstreamFatal);
    expect(toStepError(new InvalidRequestError('x', 'messages')).name).toBe(PLAN_ERRORS.clientError);
  });

  it('brings back the same OpenAI-shaped error, status and headers', () => {
    const back = acrossTheStateMachine(new InvalidRequestError("This model's maximum context length is 8192 tokens.", 'messages'));
    expect(back.statusCode).toBe(400);
    expect(back.toJSON()).toEqual({ error: { message: "This model's maximum context length is 8192 tokens.", type: 'invalid_request_error', param: 'messages', code: null } });
  });

  it('keeps a throttled backend (429) an upstream failure, still retryable', () => {
    const back = acrossTheStateMachine(new UpstreamError('The bedrock backend is throttling.', 429, true));
    expect(back).toBeInstanceOf(UpstreamError);
    expect(back.statusCode).toBe(429);
    expect((back as UpstreamError).retryable).toBe(true);
  });

  it('turns an unknown failure into a generic error without details', () => {
    const back = fromStepError('States.Timeout', 'the task timed out');
    expect(back).toBeInstanceOf(UpstreamError);
    expect(fromStepError('SomethingElse', 'stack trace here').toJSON().error.message).not.toContain('stack');
  });
});
