/**
 * The Bedrock Converse door on the stack runtime (what `npm start` runs): the synthesized
 * template's API routes served by the API Gateway emulator over h2c, the gateway's Lambda bundle,
 * and, for Converse (non-streamed), the Step Functions executor running the state machine. The
 * real `@aws-sdk/client-bedrock-runtime` is the caller. Shares the test stack's synth
 * (test/local/stack/fixture.ts).
 */
import {
  AccessDeniedException,
  BedrockRuntimeServiceException,
  ConverseCommand,
  ConverseStreamCommand,
  ResourceNotFoundException,
  InternalServerException,
  ServiceQuotaExceededException,
  ServiceUnavailableException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCommand } from '../../bin/commands/admin.ts';
import type { LocalStack } from '../../local/stack/start-stack.ts';
import { KEY, MODEL, startTestStack } from '../local/stack/fixture.ts';
import { collectStream, gatewayClient, user, WEATHER_TOOLS } from './converse-client.ts';

describe('Bedrock Converse door, stack runtime (API Gateway emulator, Lambda bundle, Step Functions executor)', () => {
  let stack: LocalStack;

  beforeAll(async () => {
    stack = await startTestStack();
  }, 180_000);
  afterAll(async () => {
    await stack?.close();
  });

  it('the template declares both routes with their {modelId} path parameter, streamed', () => {
    const routes = stack.routes.filter((r) => r.path.startsWith('/model/')).map((r) => `${r.method} ${r.path} ${r.streaming}`);
    expect(routes).toEqual(['POST /model/{modelId}/converse true', 'POST /model/{modelId}/converse-stream true']);
  });

  it('Converse at the priority tier runs the state machine over prefill → decode and echoes the tier', async () => {
    const before = stack.executions().length;
    const res = await gatewayClient(stack.url, KEY).send(
      new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig: { maxTokens: 6 }, serviceTier: { type: 'priority' } }),
    );
    expect(res.serviceTier).toEqual({ type: 'priority' });
    expect(res.output?.message?.content?.[0]?.text?.length).toBeGreaterThan(0);
    expect(res.usage?.outputTokens).toBeGreaterThan(0);
    const runs = stack.executions().slice(before);
    expect(runs).toHaveLength(1);
    expect(runs[0]).toMatchObject({ status: 'SUCCEEDED' });
    expect(JSON.parse(runs[0]!.input)).toMatchObject({ route: 'disaggregated', tierServed: 'priority' });
  });

  it('ConverseStream relays the event stream through the Lambda response stream and the emulated API', async () => {
    const res = await gatewayClient(stack.url, KEY).send(
      new ConverseStreamCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig: { maxTokens: 6 }, serviceTier: { type: 'priority' } }),
    );
    const { events, kinds, text, error } = await collectStream(res.stream);
    expect(error).toBeUndefined();
    expect(kinds[0]).toBe('messageStart');
    expect(kinds.slice(-2)).toEqual(['messageStop', 'metadata']);
    expect(text.length).toBeGreaterThan(0);
    expect(events.at(-1)!.metadata!.serviceTier).toEqual({ type: 'priority' });
  });

  it('tool use both ways over prefill → decode: a forced tool call as a toolUse block (state machine) and as streamed input; its result goes back', async () => {
    const client = gatewayClient(stack.url, KEY);
    const called = await client.send(new ConverseCommand({ modelId: MODEL, serviceTier: { type: 'priority' }, messages: [user('Weather in Oslo?')], toolConfig: WEATHER_TOOLS }));
    expect(called.stopReason).toBe('tool_use');
    const toolUse = called.output!.message!.content!.find((b) => b.toolUse)!.toolUse!;
    expect(toolUse).toMatchObject({ name: 'weather', input: { city: expect.any(String) } });

    const streamed = await client.send(new ConverseStreamCommand({ modelId: MODEL, serviceTier: { type: 'priority' }, messages: [user('Weather in Oslo?')], toolConfig: WEATHER_TOOLS }));
    const { events } = await collectStream(streamed.stream);
    const start = events.find((e) => e.contentBlockStart)!.contentBlockStart!;
    expect(start.start?.toolUse?.name).toBe('weather');
    const input = events.filter((e) => e.contentBlockDelta?.contentBlockIndex === start.contentBlockIndex).map((e) => e.contentBlockDelta!.delta!.toolUse?.input ?? '').join('');
    expect(JSON.parse(input)).toMatchObject({ city: expect.any(String) });
    expect(events.find((e) => e.messageStop)!.messageStop!.stopReason).toBe('tool_use');

    const answered = await client.send(
      new ConverseCommand({
        modelId: MODEL,
        serviceTier: { type: 'priority' },
        inferenceConfig: { maxTokens: 6 },
        toolConfig: { tools: WEATHER_TOOLS.tools, toolChoice: { auto: {} } },
        messages: [user('Weather in Oslo?'), called.output!.message!, { role: 'user', content: [{ toolResult: { toolUseId: toolUse.toolUseId!, content: [{ json: { celsius: 12 } }] } }] }],
      }),
    );
    expect(answered.stopReason).not.toBe('tool_use');
    expect(answered.output?.message?.content?.[0]?.text?.length).toBeGreaterThan(0);
  });

  it('errors are typed through the Lambda: unknown key, unknown model, bad input', async () => {
    const bad = await gatewayClient(stack.url, 'sk-ss-not-a-key-0123456789abcdef')
      .send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'hi' }] }] }))
      .catch((e: unknown) => e as BedrockRuntimeServiceException);
    expect(bad).toBeInstanceOf(BedrockRuntimeServiceException);
    expect((bad as BedrockRuntimeServiceException).name).toBe('UnrecognizedClientException');
    const unknown = await gatewayClient(stack.url, KEY)
      .send(new ConverseStreamCommand({ modelId: 'no-such-model', messages: [{ role: 'user', content: [{ text: 'hi' }] }] }))
      .catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(ResourceNotFoundException);
    const invalid = await gatewayClient(stack.url, KEY)
      .send(new ConverseCommand({ modelId: MODEL, messages: [] }))
      .catch((e: unknown) => e);
    expect(invalid).toBeInstanceOf(ValidationException);
  });

  /** Runs an admin command against the stack's store; returns what it printed. */
  const admin = async (...args: string[]): Promise<string> => {
    let out = '';
    const code = await adminCommand([...args, '--endpoint', stack.storeEndpoint], { out: (t) => void (out += t), err: (t) => void (out += t) });
    expect(code, out).toBe(0);
    return out;
  };

  it('a tenant over its rate limit gets ThrottlingException (429); one over its monthly budget ServiceQuotaExceededException (400)', { timeout: 30_000 }, async () => {
    for (const [tenant, limit] of [['bedrock-rpm', ['--rpm', '1']], ['bedrock-budget', ['--monthly-tokens', '20']]] as const) {
      await admin('tenant', 'create', '--tenant', tenant, '--tiers', 'default');
      await admin('limits', 'set', '--tenant', tenant, '--tier', 'default', ...limit);
    }
    const keyOf = async (tenant: string) => (await admin('key', 'create', '--tenant', tenant)).trim().split('\n').at(-1)!;
    const [rpmKey, budgetKey] = [await keyOf('bedrock-rpm'), await keyOf('bedrock-budget')];
    const send = (key: string, maxTokens: number) =>
      gatewayClient(stack.url, key)
        .send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'hi' }] }], inferenceConfig: { maxTokens } }))
        .then(
          () => undefined,
          (e: unknown) => e,
        );
    // The window is the calendar minute: start well inside one.
    const second = new Date().getUTCSeconds();
    if (second > 45) await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1000));
    expect(await send(rpmKey, 4)).toBeUndefined();
    const throttled = await send(rpmKey, 4);
    expect(throttled).toBeInstanceOf(ThrottlingException);
    expect((throttled as ThrottlingException).$metadata.httpStatusCode).toBe(429);
    expect(await send(budgetKey, 64)).toBeInstanceOf(ServiceQuotaExceededException);
  });

  it('a disabled tenant gets AccessDeniedException (403)', async () => {
    await admin('tenant', 'create', '--tenant', 'bedrock-off', '--tiers', 'default');
    const key = (await admin('key', 'create', '--tenant', 'bedrock-off')).trim().split('\n').at(-1)!;
    await admin('tenant', 'disable', '--tenant', 'bedrock-off');
    const err = await gatewayClient(stack.url, key)
      .send(new ConverseCommand({ modelId: MODEL, messages: [user('hi')] }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AccessDeniedException);
  });

  it('a stream whose engine drops the connection mid-answer ends with an exception event, thrown by the SDK as its typed error', async () => {
    stack.setFaults('gpu', { dropAfterTokens: 3 });
    try {
      const res = await gatewayClient(stack.url, KEY).send(
        new ConverseStreamCommand({ modelId: MODEL, messages: [user('hi')], inferenceConfig: { maxTokens: 32 }, serviceTier: { type: 'default' } }),
      );
      const { kinds, error } = await collectStream(res.stream);
      expect(kinds[0]).toBe('messageStart');
      expect(kinds).toContain('contentBlockDelta');
      expect(kinds).not.toContain('metadata');
      expect(error).toBeInstanceOf(InternalServerException);
    } finally {
      stack.setFaults('gpu', {});
    }
  });

  it('a backend failing every attempt of the state machine (no fallback at default): ServiceUnavailableException (503)', async () => {
    stack.setFaults('gpu', { errorRate: 1, errorStatus: 503 });
    try {
      const err = await gatewayClient(stack.url, KEY)
        .send(new ConverseCommand({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'hi' }] }], serviceTier: { type: 'default' } }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ServiceUnavailableException);
      expect((err as ServiceUnavailableException).$metadata.httpStatusCode).toBe(503);
      expect(stack.executions().at(-1)).toMatchObject({ status: 'FAILED' });
    } finally {
      stack.setFaults('gpu', {});
    }
  });
});
