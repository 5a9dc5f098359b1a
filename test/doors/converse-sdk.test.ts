/**
 * The Bedrock Converse door on the node runtime (in-process executor), driven by the real
 * `@aws-sdk/client-bedrock-runtime` with its default HTTP/2 handler (h2c on the gateway's port)
 * and a bearer token: Converse and ConverseStream over a disaggregated route (the vLLM NIXL
 * protocol, seen at the simulators), tool use both ways through a Bedrock-protocol pool, the
 * served tier echoed after a downgrade, and every exception as the SDK's typed error.
 */
import {
  AccessDeniedException,
  BedrockRuntimeServiceException,
  ConverseCommand,
  ConverseStreamCommand,
  ModelTimeoutException,
  ResourceNotFoundException,
  ServiceQuotaExceededException,
  ServiceUnavailableException,
  ThrottlingException,
  ValidationException,
} from '@aws-sdk/client-bedrock-runtime';
import type { Message } from '@aws-sdk/client-bedrock-runtime';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../lambda/core/ports.ts';
import { LOCAL_TABLE_NAMES } from '../../lambda/store/table-schema.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import type { BedrockServer } from '../backends/bedrock-server.ts';
import { converseAnswer, startBedrockServer, toolEvents, useDummyCredentials } from '../backends/bedrock-server.ts';
import type { Backends } from '../contract/harness.ts';
import { ACME_KEY, BASIC_KEY, MODEL, startBackends } from '../contract/harness.ts';
import { silentLogger } from '../helpers/silent-logger.ts';
import { collectStream, gatewayClient, http1GatewayClient, user, WEATHER_TOOLS } from './converse-client.ts';

const LIMITED_KEY = 'sk-ss-test-limited-0123456789abcdef01234567';
const BROKE_KEY = 'sk-ss-test-broke-0123456789abcdef0123456789';
const DISABLED_KEY = 'sk-ss-test-disabled-0123456789abcdef012345';
const BEDROCK_MODEL_ID = 'meta.llama3-1-8b-instruct-v1:0';

describe('Bedrock Converse door, node runtime (in-process executor), real Bedrock Runtime client', () => {
  let backends: Backends;
  let bedrock: BedrockServer;
  let gateway: LocalGateway;
  let restore: () => void;

  beforeAll(async () => {
    restore = useDummyCredentials();
    [backends, bedrock] = await Promise.all([startBackends(), startBedrockServer()]);
    const config = parseConfig({
      pools: {
        'trn-prefill': { protocol: 'vllm-nixl', role: 'prefill', endpoints: [backends.prefill.url], timeoutMs: 10_000 },
        'cs3-decode': { protocol: 'vllm-nixl', role: 'decode', endpoints: [backends.decode.url], timeoutMs: 10_000 },
        gpu: { protocol: 'openai', endpoints: [backends.gpu.url], timeoutMs: 10_000 },
        bedrock: { protocol: 'bedrock', region: 'us-east-1', endpoints: [bedrock.url], modelIds: { [MODEL]: BEDROCK_MODEL_ID }, timeoutMs: 5000 },
      },
      models: { [MODEL]: { pools: ['trn-prefill', 'cs3-decode', 'gpu', 'bedrock'] } },
      tiers: {
        priority: { route: { mode: 'disaggregated', prefill: 'trn-prefill', decode: 'cs3-decode' }, fallback: 'default' },
        default: { route: { mode: 'aggregated', pool: 'gpu' } },
        flex: { route: { mode: 'bedrock', pool: 'bedrock' } },
      },
      tenants: [
        { id: 'acme', apiKeys: [ACME_KEY], tiers: ['priority', 'default', 'flex'] },
        { id: 'basic', apiKeys: [BASIC_KEY], tiers: ['default'] },
        { id: 'limited', apiKeys: [LIMITED_KEY], tiers: ['default'], limits: { default: { rpm: 1 } } },
        { id: 'broke', apiKeys: [BROKE_KEY], tiers: ['default'], limits: { default: { monthlyTokens: 20 } } },
        { id: 'gone', apiKeys: [DISABLED_KEY], tiers: ['default'], disabled: true },
      ],
    });
    gateway = await startLocal({ config, port: 0, logger: silentLogger });
  }, 30_000);
  afterAll(async () => {
    await gateway?.close();
    await Promise.all([backends?.close(), bedrock?.close()]);
    restore?.();
  });
  beforeEach(() => {
    bedrock.requests.length = 0;
  });

  it('Converse at the priority tier: prefill → decode with the NIXL KV parameters, the Converse response shape', async () => {
    const before = backends.decode.stats().recent.length;
    const client = gatewayClient(gateway.url, ACME_KEY);
    const res = await client.send(
      new ConverseCommand({
        modelId: MODEL,
        system: [{ text: 'Be brief.' }],
        messages: [user('Why split prefill and decode?')],
        inferenceConfig: { maxTokens: 8, temperature: 0.2, topP: 0.9 },
        serviceTier: { type: 'priority' },
      }),
    );
    expect(res.$metadata.httpStatusCode).toBe(200);
    expect(res.serviceTier).toEqual({ type: 'priority' });
    const text = res.output?.message?.content?.map((b) => b.text ?? '').join('') ?? '';
    expect(res.output?.message?.role).toBe('assistant');
    expect(text.length).toBeGreaterThan(0);
    expect(['end_turn', 'max_tokens']).toContain(res.stopReason);
    expect(res.usage?.outputTokens).toBeGreaterThan(0);
    expect(res.usage?.totalTokens).toBe((res.usage?.inputTokens ?? 0) + (res.usage?.outputTokens ?? 0));
    expect(res.metrics?.latencyMs).toBeGreaterThanOrEqual(0);
    // The decode engine got the prefill engine's KV transfer parameters (the vLLM NIXL protocol).
    const decoded = backends.decode.stats().recent.slice(before).at(-1)!.body as Record<string, unknown>;
    expect(decoded.kv_transfer_params).toMatchObject({ remote_engine_id: expect.any(String) });
    expect(decoded.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Why split prefill and decode?' },
    ]);
    expect(decoded).toMatchObject({ max_tokens: 8, temperature: 0.2, top_p: 0.9 });
  });

  it('ConverseStream at the priority tier: messageStart, text deltas, contentBlockStop, messageStop, metadata with the served tier', async () => {
    const client = gatewayClient(gateway.url, ACME_KEY);
    const res = await client.send(
      new ConverseStreamCommand({ modelId: MODEL, messages: [user('Stream, please.')], inferenceConfig: { maxTokens: 6 }, performanceConfig: { latency: 'optimized' } }),
    );
    const { events, text, kinds, error } = await collectStream(res.stream);
    expect(error).toBeUndefined();
    expect(kinds[0]).toBe('messageStart');
    expect(kinds.slice(-3)).toEqual(['contentBlockStop', 'messageStop', 'metadata']);
    expect(kinds.filter((k) => k === 'contentBlockDelta').length).toBeGreaterThan(1);
    expect(text.length).toBeGreaterThan(0);
    const metadata = events.at(-1)!.metadata!;
    expect(metadata.serviceTier).toEqual({ type: 'priority' });
    expect(metadata.performanceConfig).toEqual({ latency: 'optimized' });
    expect(metadata.usage?.outputTokens).toBeGreaterThan(0);
    expect(metadata.metrics?.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('meters Converse and ConverseStream as the OpenAI routes are: one usage record each, under the request id the SDK reports', async () => {
    const client = gatewayClient(gateway.url, ACME_KEY);
    const whole = await client.send(new ConverseCommand({ modelId: MODEL, messages: [user('meter me')], inferenceConfig: { maxTokens: 5 }, serviceTier: { type: 'priority' } }));
    const streamed = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: [user('meter me')], inferenceConfig: { maxTokens: 5 } }));
    const { events } = await collectStream(streamed.stream);
    const store = new DynamoDBClient({ endpoint: gateway.storeEndpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const find = async (requestId: string | undefined): Promise<UsageRecord | undefined> =>
      (await usageRecords(store, LOCAL_TABLE_NAMES.usage, 'acme', Date.now())).find((r) => r.requestId === requestId);
    const deadline = Date.now() + 5000;
    while (Date.now() < deadline && (!(await find(whole.$metadata.requestId)) || !(await find(streamed.$metadata.requestId)))) await new Promise((r) => setTimeout(r, 50));
    expect(await find(whole.$metadata.requestId)).toMatchObject({ outcome: 'ok', tierServed: 'priority', route: 'disaggregated', completionTokens: whole.usage!.outputTokens });
    expect(await find(streamed.$metadata.requestId)).toMatchObject({ outcome: 'ok', tierServed: 'default', completionTokens: events.at(-1)!.metadata!.usage!.outputTokens });
    store.destroy();
  });

  it('multiplexes concurrent streams on one HTTP/2 connection, and a client that goes away mid-stream stops the engine at once', async () => {
    const client = gatewayClient(gateway.url, ACME_KEY);
    const streams = await Promise.all(
      Array.from({ length: 4 }, () => client.send(new ConverseStreamCommand({ modelId: MODEL, messages: [user('together')], inferenceConfig: { maxTokens: 6 } }))),
    );
    const collected = await Promise.all(streams.map((r) => collectStream(r.stream)));
    expect(collected.map((c) => [c.error, c.kinds.at(-1)])).toEqual(Array.from({ length: 4 }, () => [undefined, 'metadata']));

    // A client that aborts mid-stream (the SDK resets its HTTP/2 stream) stops the engine's call,
    // which would otherwise stay open (the engine goes silent after 3 tokens).
    backends.gpu.setFaults({ stallAfterTokens: 3 });
    try {
      const abortedBefore = backends.gpu.stats().aborted;
      const controller = new AbortController();
      const res = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: [user('long')], inferenceConfig: { maxTokens: 64 } }), {
        abortSignal: controller.signal,
      });
      const seen: string[] = [];
      try {
        for await (const event of res.stream!) {
          seen.push(Object.keys(event)[0]!);
          if (event.contentBlockDelta) controller.abort();
        }
      } catch {
        // The SDK ends an aborted stream quietly or with an abort error.
      }
      expect(seen.slice(0, 2)).toEqual(['messageStart', 'contentBlockDelta']);
      expect(seen).not.toContain('metadata');
      const deadline = Date.now() + 3000;
      while (backends.gpu.stats().aborted === abortedBefore && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      expect(backends.gpu.stats().aborted).toBe(abortedBefore + 1);
    } finally {
      backends.gpu.setFaults({});
    }
  });

  it('echoes the tier that served: priority asked by a default-only tenant is served (and said to be) default; flex likewise', async () => {
    const client = gatewayClient(gateway.url, BASIC_KEY);
    const asked = await client.send(new ConverseCommand({ modelId: MODEL, messages: [user('hi')], inferenceConfig: { maxTokens: 4 }, serviceTier: { type: 'priority' } }));
    expect(asked.serviceTier).toEqual({ type: 'default' });
    const flex = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: [user('hi')], inferenceConfig: { maxTokens: 4 }, serviceTier: { type: 'flex' } }));
    const { events } = await collectStream(flex.stream);
    expect(events.at(-1)!.metadata!.serviceTier).toEqual({ type: 'default' });
  });

  it('accepts the Bedrock model ID a pool serves the model under, URL-encoded by the SDK', async () => {
    bedrock.script(converseAnswer('By its Bedrock ID.'));
    const res = await gatewayClient(gateway.url, ACME_KEY).send(new ConverseCommand({ modelId: BEDROCK_MODEL_ID, messages: [user('hi')], serviceTier: { type: 'flex' } }));
    expect(res.output?.message?.content).toEqual([{ text: 'By its Bedrock ID.' }]);
    expect(res.serviceTier).toEqual({ type: 'flex' });
    expect(bedrock.requests[0]!.body.serviceTier).toEqual({ type: 'flex' });
  });

  it('tool use over prefill → decode: the engines get the tools and the forced choice, the call comes back as toolUse', async () => {
    const before = backends.decode.stats().recent.length;
    const res = await gatewayClient(gateway.url, ACME_KEY).send(new ConverseCommand({ modelId: MODEL, serviceTier: { type: 'priority' }, messages: [user('Weather?')], toolConfig: WEATHER_TOOLS }));
    expect(res.stopReason).toBe('tool_use');
    expect(res.output!.message!.content!.find((b) => b.toolUse)!.toolUse).toMatchObject({ name: 'weather', input: { city: expect.any(String) } });
    const decoded = backends.decode.stats().recent.slice(before).at(-1)!.body as Record<string, unknown>;
    expect(decoded.tool_choice).toEqual({ type: 'function', function: { name: 'weather' } });
    expect(decoded.tools).toEqual([{ type: 'function', function: { name: 'weather', description: 'The weather of a city', parameters: WEATHER_TOOLS.tools[0]!.toolSpec.inputSchema.json } }]);
  });

  it('tool use, non-streamed: toolConfig reaches the engine as tools, a tool call comes back as a toolUse block, its toolResult goes back', async () => {
    const client = gatewayClient(gateway.url, ACME_KEY);
    const toolConfig = {
      tools: [{ toolSpec: { name: 'weather', description: 'Weather of a city', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } } } }],
      toolChoice: { auto: {} },
    };
    bedrock.script(converseAnswer('', { stopReason: 'tool_use', toolUses: [{ toolUseId: 'tooluse_1', name: 'weather', input: { city: 'Oslo' } }] }));
    const first = await client.send(new ConverseCommand({ modelId: MODEL, serviceTier: { type: 'flex' }, messages: [user('Weather in Oslo?')], toolConfig }));
    expect(first.stopReason).toBe('tool_use');
    expect(first.output?.message?.content).toEqual([{ toolUse: { toolUseId: 'tooluse_1', name: 'weather', input: { city: 'Oslo' } } }]);
    expect(bedrock.requests[0]!.body.toolConfig).toEqual({ tools: [{ toolSpec: { ...toolConfig.tools[0]!.toolSpec } }], toolChoice: { auto: {} } });

    bedrock.script(converseAnswer('It is 12C in Oslo.'));
    const second = await client.send(
      new ConverseCommand({
        modelId: MODEL,
        serviceTier: { type: 'flex' },
        toolConfig,
        messages: [
          user('Weather in Oslo?'),
          first.output!.message!,
          { role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_1', content: [{ json: { celsius: 12 } }] } }] },
        ],
      }),
    );
    expect(second.output?.message?.content).toEqual([{ text: 'It is 12C in Oslo.' }]);
    const sent = bedrock.requests[1]!.body.messages as Message[];
    expect(sent[1]!.content).toEqual([{ toolUse: { toolUseId: 'tooluse_1', name: 'weather', input: { city: 'Oslo' } } }]);
    expect(sent[2]!.content).toEqual([{ toolResult: { toolUseId: 'tooluse_1', content: [{ text: '{"celsius":12}' }] } }]);
  });

  it('tool use, streamed: contentBlockStart with the toolUse, its input in deltas, stopReason tool_use', async () => {
    bedrock.script({ kind: 'events', messages: toolEvents('tooluse_2', 'weather', ['{"city"', ':"Oslo"}']) });
    const res = await gatewayClient(gateway.url, ACME_KEY).send(
      new ConverseStreamCommand({
        modelId: MODEL,
        serviceTier: { type: 'flex' },
        messages: [user('Weather in Oslo?')],
        toolConfig: { tools: [{ toolSpec: { name: 'weather', inputSchema: { json: { type: 'object' } } } }], toolChoice: { tool: { name: 'weather' } } },
      }),
    );
    const { events, text, error } = await collectStream(res.stream);
    expect(error).toBeUndefined();
    expect(text).toBe('Let me check.');
    const start = events.find((e) => e.contentBlockStart)!.contentBlockStart!;
    expect(start.start?.toolUse).toMatchObject({ toolUseId: 'tooluse_2', name: 'weather' });
    const input = events
      .filter((e) => e.contentBlockDelta?.contentBlockIndex === start.contentBlockIndex)
      .map((e) => e.contentBlockDelta!.delta!.toolUse?.input ?? '')
      .join('');
    expect(JSON.parse(input)).toEqual({ city: 'Oslo' });
    expect(events.find((e) => e.messageStop)!.messageStop!.stopReason).toBe('tool_use');
    expect(events.at(-1)!.metadata!.serviceTier).toEqual({ type: 'flex' });
    expect(bedrock.requests[0]!.body.toolConfig).toMatchObject({ toolChoice: { tool: { name: 'weather' } } });
  });

  describe('errors, as the SDK types them', () => {
    const send = (key: string, input: Partial<ConstructorParameters<typeof ConverseCommand>[0]> = {}, maxAttempts = 1) =>
      gatewayClient(gateway.url, key, maxAttempts)
        .send(new ConverseCommand({ modelId: MODEL, messages: [user('hi')], inferenceConfig: { maxTokens: 4 }, ...input }))
        .then(
          () => undefined,
          (err: unknown) => err,
        );

    it('an unknown key: UnrecognizedClientException (403)', async () => {
      const err = (await send('sk-ss-not-a-key-0123456789abcdef')) as BedrockRuntimeServiceException;
      expect(err).toBeInstanceOf(BedrockRuntimeServiceException);
      expect(err.name).toBe('UnrecognizedClientException');
      expect(err.$metadata.httpStatusCode).toBe(403);
    });

    it('a disabled tenant: AccessDeniedException (403)', async () => {
      const err = await send(DISABLED_KEY);
      expect(err).toBeInstanceOf(AccessDeniedException);
      expect((err as AccessDeniedException).$metadata.httpStatusCode).toBe(403);
    });

    it('an unknown model: ResourceNotFoundException (404)', async () => {
      const err = await send(ACME_KEY, { modelId: 'no-such-model' });
      expect(err).toBeInstanceOf(ResourceNotFoundException);
      expect((err as Error).message).toContain('no-such-model');
    });

    it('bad input and the reserved tier: ValidationException (400)', async () => {
      const bad = await send(ACME_KEY, { inferenceConfig: { maxTokens: -1 } });
      expect(bad).toBeInstanceOf(ValidationException);
      expect((bad as Error).message).toContain('inferenceConfig.maxTokens');
      const reserved = await send(ACME_KEY, { serviceTier: { type: 'reserved' } });
      expect(reserved).toBeInstanceOf(ValidationException);
      expect((reserved as Error).message).toContain("'reserved'");
    });

    it('a rate limit: ThrottlingException (429), which the SDK retries', { timeout: 30_000 }, async () => {
      // The window is the calendar minute: start well inside one, so all three calls share it.
      const second = new Date().getUTCSeconds();
      if (second > 45) await new Promise((resolve) => setTimeout(resolve, (61 - second) * 1000));
      expect(await send(LIMITED_KEY)).toBeUndefined();
      const err = await send(LIMITED_KEY);
      expect(err).toBeInstanceOf(ThrottlingException);
      expect((err as ThrottlingException).$metadata.httpStatusCode).toBe(429);
      const retried = (await send(LIMITED_KEY, {}, 2)) as ThrottlingException;
      expect(retried).toBeInstanceOf(ThrottlingException);
      expect(retried.$metadata.attempts).toBe(2);
    });

    it('the monthly budget: ServiceQuotaExceededException (400), not retried', async () => {
      const err = (await send(BROKE_KEY, { inferenceConfig: { maxTokens: 64 } }, 3)) as ServiceQuotaExceededException;
      expect(err).toBeInstanceOf(ServiceQuotaExceededException);
      expect(err.$metadata.attempts).toBe(1);
    });

    it('a backend that times out: ModelTimeoutException (408); an unavailable one: ServiceUnavailableException (503)', async () => {
      const timeout = { kind: 'error', status: 408, type: 'ModelTimeoutException', message: 'Model has timed out' } as const;
      bedrock.script(timeout, timeout, timeout);
      const timedOut = await send(ACME_KEY, { serviceTier: { type: 'flex' } });
      expect(timedOut).toBeInstanceOf(ModelTimeoutException);
      const unavailable = { kind: 'error', status: 503, type: 'ServiceUnavailableException', message: 'Service unavailable' } as const;
      bedrock.script(unavailable, unavailable, unavailable);
      const down = await send(ACME_KEY, { serviceTier: { type: 'flex' } });
      expect(down).toBeInstanceOf(ServiceUnavailableException);
      expect((down as ServiceUnavailableException).$metadata.httpStatusCode).toBe(503);
    });

    it('a stream that fails after its first events: the exception event, thrown by the SDK as its typed error', async () => {
      bedrock.script({
        kind: 'events',
        messages: [
          { event: 'messageStart', body: { role: 'assistant' } },
          { event: 'contentBlockDelta', body: { contentBlockIndex: 0, delta: { text: 'Partial' } } },
          { exception: 'throttlingException', message: 'Too many tokens, please wait' },
        ],
      });
      const res = await gatewayClient(gateway.url, ACME_KEY).send(new ConverseStreamCommand({ modelId: MODEL, serviceTier: { type: 'flex' }, messages: [user('hi')] }));
      const { text, error, kinds } = await collectStream(res.stream);
      expect(text).toBe('Partial');
      expect(kinds[0]).toBe('messageStart');
      expect(error).toBeInstanceOf(ThrottlingException);
    });

    it('a stream refused before its first event: the HTTP error, typed (unknown model)', async () => {
      const err = await gatewayClient(gateway.url, ACME_KEY)
        .send(new ConverseStreamCommand({ modelId: 'no-such-model', messages: [user('hi')] }))
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ResourceNotFoundException);
    });
  });

  it('the same client over HTTP/1.1 (NodeHttpHandler, as deployed): Converse and ConverseStream', async () => {
    const client = http1GatewayClient(gateway.url, ACME_KEY);
    const res = await client.send(new ConverseCommand({ modelId: MODEL, messages: [user('hi')], inferenceConfig: { maxTokens: 4 } }));
    expect(res.serviceTier).toEqual({ type: 'default' });
    expect(res.output?.message?.content?.[0]?.text?.length).toBeGreaterThan(0);
    const streamed = await client.send(new ConverseStreamCommand({ modelId: MODEL, messages: [user('hi')], inferenceConfig: { maxTokens: 4 } }));
    const { kinds, error } = await collectStream(streamed.stream);
    expect(error).toBeUndefined();
    expect(kinds[0]).toBe('messageStart');
    expect(kinds.at(-1)).toBe('metadata');
  });

  it('OpenAI clients on HTTP/1.1 are served on the same port as before', async () => {
    const res = await fetch(`${gateway.url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ACME_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 4, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { service_tier: string }).service_tier).toBe('default');
  });
});
