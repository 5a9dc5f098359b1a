/**
 * The assembled gateway's `flush()`: what the Lambda handler awaits after each response (a frozen
 * environment runs no timers). A stream reports its end on the next turn of the event loop, so
 * `flush()` must take in every end reported before it was called. Also: a request's deadline
 * (the Lambda time limit) ends it with a 504 that is metered, a shutdown refuses new requests,
 * and refusals are logged with their reason and never the key. The Step Functions tasks are built
 * by the same composition root.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { GatewayRuntime } from '../../lambda/handlers/gateway-runtime.ts';
import { assembleGateway, assembleStepTasks } from '../../lambda/handlers/gateway-runtime.ts';
import { meterPlan } from '../../lambda/core/meter-step.ts';
import type { PlanState } from '../../lambda/core/plan.ts';
import { decode } from '../../lambda/core/plan-steps.ts';
import { seedFromConfig } from '../../lambda/store/seed.ts';
import { createTables, tableDefinitions } from '../../lambda/store/tables.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import type { EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { startEmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { startSimulator } from '../../sim/index.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { RequestTimeoutError } from '../../lambda/core/errors.ts';
import { capturingLogger } from '../helpers/silent-logger.ts';

const KEY = 'sk-ss-test-runtime-0123456789abcdef0123456789';
const TABLES = { config: 'rt-config', usage: 'rt-usage' };

describe('assembled gateway', () => {
  let store: EmbeddedDynamo;
  let sim: SimulatorHandle;
  let runtime: GatewayRuntime;
  const logger = capturingLogger();
  let config: ReturnType<typeof parseConfig>;

  beforeAll(async () => {
    [store, sim] = await Promise.all([startEmbeddedDynamo(), startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 1000 })]);
    config = parseConfig({
      pools: { gpu: { protocol: 'openai', endpoints: [sim.url] } },
      models: { 'llama-3.1-8b': { pools: ['gpu'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
      tenants: [{ id: 'rt', apiKeys: [KEY], tiers: ['default'] }],
    });
    await createTables(store.client, tableDefinitions(TABLES));
    await seedFromConfig(store.client, TABLES, config);
    runtime = assembleGateway({ config, dynamo: store.client, tables: TABLES, logger });
  });
  afterAll(async () => {
    await runtime?.close();
    await Promise.all([store?.close(), sim?.close()]);
  });

  it('has metered a streamed request once flush() resolves, as the Lambda handler relies on', async () => {
    const response = await runtime.gateway({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'llama-3.1-8b', stream: true, max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }),
      signal: new AbortController().signal,
    });
    expect(response.status).toBe(200);
    let text = '';
    for await (const chunk of response.body as AsyncIterable<string>) text += chunk;
    expect(text).toContain('data: [DONE]');
    await runtime.flush();
    const records = await usageRecords(store.client, TABLES.usage, 'rt', Date.now());
    expect(records.map((r) => r.requestId)).toEqual([response.headers['x-request-id']]);
    expect(records[0]).toMatchObject({ outcome: 'ok', completionTokens: 3 });
  });

  it('builds the Step Functions tasks from the same root: their steps serve a plan, their Meter step makes it durable', async () => {
    const tasks = assembleStepTasks({ config, dynamo: store.client, tables: TABLES, logger });
    try {
      expect(tasks.steps.protocols).toBe(runtime.deps.steps.protocols);
      const state: PlanState = {
        requestId: 'step-task-plan',
        tenantId: 'rt',
        api: 'chat',
        model: 'llama-3.1-8b',
        tierAsked: 'auto',
        tierServed: 'default',
        tiersTried: ['default'],
        body: { model: 'llama-3.1-8b', max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] },
        route: 'aggregated',
        pools: ['gpu'],
        promptEstimate: 8,
        startedAt: Date.now(),
      };
      const done = await decode(tasks.steps, state, new AbortController().signal);
      expect(done.usage).toMatchObject({ completionTokens: 2 });
      // One meter per Meter invocation: a failed flush leaves with its invocation.
      const meter = tasks.meterForInvocation();
      expect(tasks.meterForInvocation()).not.toBe(meter);
      meterPlan(meter, config, done, 'ok', done.usage!);
      await meter.flush();
      const records = await usageRecords(store.client, TABLES.usage, 'rt', Date.now());
      expect(records.filter((r) => r.requestId === 'step-task-plan')).toMatchObject([{ outcome: 'ok', completionTokens: 2, tierServed: 'default' }]);
    } finally {
      await tasks.steps.client.close();
    }
  });

  const ask = (body: Record<string, unknown>, extra: { deadline?: AbortSignal; authorization?: string } = {}) =>
    runtime.gateway({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { authorization: extra.authorization ?? `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }], ...body }),
      signal: new AbortController().signal,
      ...(extra.deadline ? { deadline: extra.deadline } : {}),
    });

  async function recordOf(requestId: string | undefined) {
    await runtime.flush();
    const records = await usageRecords(store.client, TABLES.usage, 'rt', Date.now());
    return records.filter((r) => r.requestId === requestId);
  }

  it('ends a stream at its deadline with a request_timeout event and [DONE], metered with the tokens it served', async () => {
    sim.setFaults({ stallAfterTokens: 2 });
    try {
      const deadline = new AbortController();
      const response = await ask({ stream: true, max_tokens: 16 }, { deadline: deadline.signal });
      expect(response.status).toBe(200);
      let text = '';
      for await (const chunk of response.body as AsyncIterable<string>) {
        text += chunk;
        if (!deadline.signal.aborted) setTimeout(() => deadline.abort(new RequestTimeoutError()), 50);
      }
      const events = text.split('\n\n').filter(Boolean);
      expect(events.at(-1)).toBe('data: [DONE]');
      expect(JSON.parse(events.at(-2)!.slice(6))).toMatchObject({ error: { type: 'timeout', code: 'request_timeout' } });
      const served = events.filter((e) => /"content":"[^"]/.test(e)).length;
      expect(served).toBe(2);
      expect(await recordOf(response.headers['x-request-id'])).toMatchObject([{ outcome: 'error', completionTokens: 2 }]);
    } finally {
      sim.setFaults({});
    }
  });

  it('answers a non-streamed request that reaches its deadline before the backend answers with a 504, metered', async () => {
    sim.setFaults({ stallMs: 5000 });
    try {
      // A deadline whose reason is not a gateway error (AbortSignal.timeout's DOMException) is a 504 too.
      const response = await ask({ max_tokens: 4 }, { deadline: AbortSignal.timeout(100) });
      expect(response.status).toBe(504);
      const explicit = new AbortController();
      setTimeout(() => explicit.abort(new RequestTimeoutError()), 100);
      const timedOut = await ask({ max_tokens: 4 }, { deadline: explicit.signal });
      expect(timedOut.status).toBe(504);
      expect(JSON.parse(timedOut.body as string)).toMatchObject({ error: { type: 'timeout', code: 'request_timeout' } });
      expect(await recordOf(timedOut.headers['x-request-id'])).toMatchObject([{ outcome: 'error', completionTokens: 0 }]);
    } finally {
      sim.setFaults({});
    }
  });

  it('logs a refusal at INFO with its reason and request id, never the key', async () => {
    const wrongKey = 'sk-ss-test-wrong-0123456789abcdef01234567';
    const response = await ask({}, { authorization: `Bearer ${wrongKey}` });
    expect(response.status).toBe(401);
    const line = logger.records.find((r) => r.message === 'request refused' && r.fields.requestId === response.headers['x-request-id']);
    expect(line).toMatchObject({ level: 'info', fields: { status: 401, code: 'invalid_api_key' } });
    expect(JSON.stringify(logger.records)).not.toContain(wrongKey);
    const unknownModel = await ask({ model: 'no-such-model' });
    expect(unknownModel.status).toBe(404);
    expect(logger.records.find((r) => r.message === 'request refused' && r.fields.requestId === unknownModel.headers['x-request-id'])).toMatchObject({
      level: 'info',
      fields: { status: 404, tenant: 'rt', code: 'model_not_found' },
    });
  });

  it('refuses requests once it shuts down, with a 503 the client may retry elsewhere', async () => {
    const other = assembleGateway({ config, dynamo: store.client, tables: TABLES, logger });
    await other.shutdown(0);
    const response = await other.gateway({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }] }),
      signal: new AbortController().signal,
    });
    expect(response.status).toBe(503);
    expect(response.headers).toMatchObject({ 'retry-after': '1', 'x-should-retry': 'true' });
    expect(JSON.parse(response.body as string)).toEqual({
      error: { message: 'The server is shutting down. Please retry your request.', type: 'server_error', param: null, code: 'server_shutting_down' },
    });
    await other.close();
  });

  it('refuses a prompt or a completion limit the model cannot hold with a 400, before any backend call', async () => {
    const callsBefore = sim.stats().calls;
    // The model's context is the default 131,072 tokens: the prompt bound is 8 bytes a token.
    const huge = await ask({ messages: [{ role: 'user', content: 'x'.repeat(131_072 * 8 + 1) }] });
    expect(huge.status).toBe(400);
    expect(JSON.parse(huge.body as string)).toMatchObject({ error: { type: 'invalid_request_error', code: 'context_length_exceeded', param: 'messages' } });
    const tooMany = await ask({ max_tokens: 131_073 });
    expect(tooMany.status).toBe(400);
    expect(JSON.parse(tooMany.body as string)).toMatchObject({ error: { code: 'context_length_exceeded', param: 'max_tokens' } });
    expect(sim.stats().calls).toBe(callsBefore);
    // Just inside both bounds, the request is served.
    const fits = await ask({ max_tokens: 2, messages: [{ role: 'user', content: 'y'.repeat(100_000) }] });
    expect(fits.status).toBe(200);
  });

  it('serves a stream past an invalid upstream event, and warns once with the count', async () => {
    sim.setFaults({ invalidBody: true });
    try {
      const response = await ask({ stream: true, max_tokens: 4 });
      let text = '';
      for await (const chunk of response.body as AsyncIterable<string>) text += chunk;
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      await runtime.flush();
      expect(logger.records.filter((r) => r.message === 'invalid stream events dropped' && r.fields.requestId === response.headers['x-request-id'])).toMatchObject([
        { level: 'warn', fields: { invalidEvents: 1 } },
      ]);
    } finally {
      sim.setFaults({});
    }
  });

  it('names a backend that goes silent mid-stream past the pool timeout a timeout, not a dropped stream', async () => {
    const slow = assembleGateway({
      config: parseConfig({ ...JSON.parse(JSON.stringify(config)), pools: { gpu: { protocol: 'openai', endpoints: [sim.url], timeoutMs: 150 } } }),
      dynamo: store.client,
      tables: TABLES,
      logger,
    });
    sim.setFaults({ stallAfterTokens: 2 });
    try {
      const response = await slow.gateway({
        method: 'POST',
        path: '/v1/chat/completions',
        headers: { authorization: `Bearer ${KEY}` },
        body: JSON.stringify({ model: 'llama-3.1-8b', stream: true, max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] }),
        signal: new AbortController().signal,
      });
      let text = '';
      for await (const chunk of response.body as AsyncIterable<string>) text += chunk;
      const events = text.split('\n\n').filter(Boolean);
      expect(events.at(-1)).toBe('data: [DONE]');
      expect(JSON.parse(events.at(-2)!.slice(6))).toMatchObject({
        error: { type: 'timeout', code: 'upstream_timeout', message: 'The gpu backend timed out in the middle of the stream.' },
      });
    } finally {
      sim.setFaults({});
      await slow.close();
    }
  });
});
