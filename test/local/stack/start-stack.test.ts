/**
 * The synthesized stack, run locally: cdk synth (cached under .splitserve/), the template's
 * tables in the embedded store, the Lambda bundles in-process, the state machine's ASL on
 * aws-local-stepfunctions behind the local StartSyncExecution endpoint, and the API's routes;
 * called with the official `openai` client.
 */
import OpenAI, { APIError } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PLAN_ERRORS } from '../../../lambda/core/plan-errors.ts';
import type { LocalStack } from '../../../local/stack/start-stack.ts';
import type { ExecutionRecord } from '../../../local/stack/state-machine-runner.ts';
import { statesEntered } from '../../../local/stack/state-machine-runner.ts';
import { describeEdgeAnswers } from '../edge-answers.ts';
import { CONFIG, KEY, MODEL, startTestStack } from './fixture.ts';

let stack: LocalStack;
let client: OpenAI;
const progress: string[] = [];

beforeAll(async () => {
  const started = performance.now();
  stack = await startTestStack({ onProgress: (m) => progress.push(m) });
  process.stdout.write(`local stack ${stack.synth.cached ? 'cached' : 'cold'} start: ${Math.round(performance.now() - started)} ms (synth ${Math.round(stack.synth.ms)} ms)\n`);
  client = new OpenAI({ baseURL: `${stack.url}/v1`, apiKey: KEY, maxRetries: 0 });
}, 240_000);

afterAll(async () => {
  await stack?.close();
});

afterEach(() => {
  for (const pool of Object.keys(CONFIG.pools)) stack.setFaults(pool, {});
});

async function simCalls(pool: string): Promise<number> {
  const res = await fetch(`${stack.simulators[pool]![0]}/sim/stats`);
  return ((await res.json()) as { calls: number }).calls;
}

function lastExecution(before: number): ExecutionRecord {
  const all = stack.executions();
  expect(all.length).toBe(before + 1);
  return all[all.length - 1]!;
}

const ask: OpenAI.ChatCompletionCreateParamsNonStreaming = {
  model: MODEL,
  service_tier: 'priority',
  max_tokens: 8,
  messages: [{ role: 'user', content: 'Say hi' }],
};

describe('npm start on the synthesized stack', () => {
  it('was synthesized offline and built from the template', () => {
    expect(progress[0]).toMatch(/^(synthesizing stack…|using cached synth)/);
    expect(progress.at(-1)).toMatch(/^ready in /);
    expect(stack.routes.map((r) => `${r.method} ${r.path}`)).toEqual([
      'GET /health',
      'POST /model/{modelId}/converse',
      'POST /model/{modelId}/converse-stream',
      'POST /v1/chat/completions',
      'POST /v1/completions',
      'GET /v1/models',
    ]);
    expect(stack.routes.every((r) => r.streaming)).toBe(true);
    expect(Object.keys(stack.functions)).toHaveLength(6);
    // The scheduled open-request sweep is loaded too (the local runtime runs no schedule; start-up sweeps).
    expect(Object.keys(stack.functions).filter((id) => id.startsWith('OpenRequestSweepFunction'))).toHaveLength(1);
    expect(stack.stateMachineArn).toMatch(/^arn:aws:states:local:000000000000:stateMachine:/);
    expect(stack.config.tenants.map((t) => t.id)).toEqual(['stack-test']);
    expect(Object.values(stack.config.pools).every((p) => p.endpoints?.length === 1 && p.simulate === undefined)).toBe(true);
  });

  it('streams a priority completion (in-process plan inside the gateway bundle, no execution)', async () => {
    const before = stack.executions().length;
    const chunks = [];
    const stream = await client.chat.completions.create({ ...ask, stream: true });
    for await (const chunk of stream) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThan(2);
    expect(chunks.every((c) => c.service_tier === 'priority')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('').length).toBeGreaterThan(0);
    expect(stack.executions()).toHaveLength(before);
  });

  it('runs a non-streamed completion on the state machine: Prefill → HasKvTransferParams → Decode → Meter', async () => {
    const before = stack.executions().length;
    const completion = await client.chat.completions.create(ask);
    expect(completion.service_tier).toBe('priority');
    expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);
    const run = lastExecution(before);
    expect(run.status).toBe('SUCCEEDED');
    expect(statesEntered(run)).toEqual(['Prefill', 'HasKvTransferParams', 'Decode', 'Meter', 'Done']);
    expect(run.history.find((h) => h.type === 'StateExited' && h.state === 'Decode')?.durationMs).toBeGreaterThanOrEqual(0);
    // The endpoint serves the same history.
    const served = (await (await fetch(`${stack.sfnEndpoint}/_local/executions`)).json()) as Array<{ executionArn: string }>;
    expect(served.map((e) => e.executionArn)).toContain(run.executionArn);
  });

  it('retries a scripted transient decode failure with the ASL Retry, then succeeds', async () => {
    const before = stack.executions().length;
    stack.setFaults('decode', { failNth: [(await simCalls('decode')) + 1] });
    const completion = await client.chat.completions.create(ask);
    expect(completion.service_tier).toBe('priority');
    const run = lastExecution(before);
    expect(run.status).toBe('SUCCEEDED');
    expect(statesEntered(run)).toEqual(['Prefill', 'HasKvTransferParams', 'Decode', 'Meter', 'Done']);
    const failed = run.history.find((h) => h.type === 'StateFailed');
    expect(failed?.state).toBe('Decode');
    expect(failed?.error).toBe(PLAN_ERRORS.upstreamTransient);
    // Cause is Lambda's error JSON, errorType = the state error.
    expect(JSON.parse(failed!.cause!)).toMatchObject({ errorType: PLAN_ERRORS.upstreamTransient });
    expect(run.history.filter((h) => h.type === 'StateRetried').map((h) => [h.state, h.attempt])).toEqual([['Decode', 1]]);
  });

  it('catches a prefill pool that always fails into Fallback: the answer comes from the fallback tier', async () => {
    const before = stack.executions().length;
    stack.setFaults('prefill', { errorRate: 1 });
    const completion = await client.chat.completions.create(ask);
    expect(completion.service_tier).toBe('default');
    const run = lastExecution(before);
    expect(run.status).toBe('SUCCEEDED');
    expect(statesEntered(run)).toEqual(['Prefill', 'Fallback', 'Meter', 'Done']);
    expect(run.history.filter((h) => h.type === 'StateRetried' && h.state === 'Prefill')).toHaveLength(2);
    expect(run.history.find((h) => h.type === 'StateCaught')).toMatchObject({ state: 'Prefill', next: 'Fallback' });
  });

  it('answers 5xx in the OpenAI error shape when the fallback pool is down too', async () => {
    const before = stack.executions().length;
    stack.setFaults('prefill', { errorRate: 1 });
    stack.setFaults('gpu', { errorRate: 1 });
    const err = await client.chat.completions.create(ask).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(APIError);
    const apiError = err as APIError;
    expect(apiError.status).toBeGreaterThanOrEqual(500);
    expect(apiError.error).toMatchObject({ message: expect.any(String), type: expect.any(String) });
    const run = lastExecution(before);
    expect(run.status).toBe('FAILED');
    expect(statesEntered(run)).toEqual(['Prefill', 'Fallback', 'MeterFailure', 'PlanFailed']);
    expect(run.error).toBe(PLAN_ERRORS.upstreamTransient);
    expect(JSON.parse(run.cause!)).toMatchObject({ errorType: PLAN_ERRORS.upstreamTransient });
  });
});

// API Gateway routes: a wrong method and a trailing slash are unknown URLs, as deployed.
describeEdgeAnswers('stack runtime', () => ({ url: stack.url, key: KEY, model: MODEL }), { wrongMethodStatus: 404, trailingSlashStatus: 404 });
