/**
 * Bedrock end to end: the gateway core over its Node adapter (`startLocal`), the official `openai`
 * client as the caller, and the real Bedrock Runtime client talking to the local Bedrock-protocol
 * server. Checks what the client sees (`service_tier`, chunks, usage, errors, tool calls) and
 * what Bedrock receives (`serviceTier`, `performanceConfig`, messages, `toolConfig`).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { startSimulator } from '../../sim/index.ts';
import { silentLogger } from '../helpers/silent-logger.ts';
import type { BedrockServer } from './bedrock-server.ts';
import { converseAnswer, startBedrockServer, toolEvents, useDummyCredentials } from './bedrock-server.ts';

const KEY = 'sk-ss-test-bedrock-0123456789abcdef0123456';
const MODEL = 'llama-3.1-8b';
const MODEL_ID = 'meta.llama3-1-8b-instruct-v1:0';

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

describe('bedrock route end to end (node adapter, openai client)', () => {
  let bedrock: BedrockServer;
  let gpu: SimulatorHandle;
  let gateway: LocalGateway;
  let client: OpenAI;
  let restore: () => void;

  beforeAll(async () => {
    restore = useDummyCredentials();
    [bedrock, gpu] = await Promise.all([startBedrockServer(), startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', seed: 3, speedup: 20 })]);
    const config = parseConfig({
      pools: {
        bedrock: { protocol: 'bedrock', region: 'us-east-1', endpoints: [bedrock.url], modelIds: { [MODEL]: MODEL_ID }, timeoutMs: 5000 },
        gpu: { protocol: 'openai', endpoints: [gpu.url], timeoutMs: 5000 },
      },
      models: { [MODEL]: { pools: ['bedrock', 'gpu'] } },
      tiers: {
        priority: { route: { mode: 'bedrock', pool: 'bedrock' }, bedrock: { latency: 'optimized' }, fallback: 'default' },
        default: { route: { mode: 'aggregated', pool: 'gpu' } },
        flex: { route: { mode: 'bedrock', pool: 'bedrock' } },
      },
      tenants: [{ id: 'acme', apiKeys: [KEY], tiers: ['priority', 'default', 'flex'] }],
    });
    gateway = await startLocal({ config, port: 0, logger: silentLogger });
    client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEY, maxRetries: 0 });
  }, 30_000);
  afterAll(async () => {
    await gateway?.close();
    await Promise.all([bedrock?.close(), gpu?.close()]);
    restore?.();
  });
  beforeEach(() => {
    bedrock.requests.length = 0;
  });

  const collect = async (stream: AsyncIterable<Chunk>) => {
    const chunks: Chunk[] = [];
    for await (const chunk of stream) chunks.push(chunk);
    return chunks;
  };

  it('non-streaming: a chat.completion at the flex tier, Bedrock asked for serviceTier flex', async () => {
    bedrock.script(converseAnswer('Hi from flex.'));
    const res = await client.chat.completions.create({ model: MODEL, service_tier: 'flex', max_tokens: 12, messages: [{ role: 'user', content: 'Hello' }] });
    expect(res.service_tier).toBe('flex');
    expect(res.model).toBe(MODEL);
    expect(res.choices[0]!.message.content).toBe('Hi from flex.');
    expect(res.choices[0]!.finish_reason).toBe('stop');
    expect(res.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 });
    const seen = bedrock.requests[0]!;
    expect(seen.operation).toBe('converse');
    expect(seen.modelId).toBe(MODEL_ID);
    expect(seen.body.serviceTier).toEqual({ type: 'flex' });
    expect(seen.body.performanceConfig).toBeUndefined();
    expect(seen.body.inferenceConfig).toEqual({ maxTokens: 12 });
  });

  it('streaming: chunks with service_tier on each, the usage chunk, Bedrock asked for serviceTier flex', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      service_tier: 'flex',
      stream: true,
      stream_options: { include_usage: true },
      messages: [{ role: 'user', content: 'Hello' }],
    });
    const chunks = await collect(stream);
    expect(chunks.every((c) => c.service_tier === 'flex' && c.model === MODEL)).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe('Hello from Bedrock.');
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]!.finish_reason).toBe('stop');
    expect(chunks.at(-1)!.usage).toMatchObject({ prompt_tokens: 11, completion_tokens: 3 });
    expect(bedrock.requests[0]!.operation).toBe('converse-stream');
    expect(bedrock.requests[0]!.body.serviceTier).toEqual({ type: 'flex' });
  });

  it('a stream without include_usage gets no usage chunk', async () => {
    const chunks = await collect(await client.chat.completions.create({ model: MODEL, service_tier: 'flex', stream: true, messages: [{ role: 'user', content: 'Hi' }] }));
    expect(chunks.some((c) => c.usage)).toBe(false);
    expect(chunks.every((c) => c.choices.length === 1)).toBe(true);
  });

  it('a tier with bedrock.latency "optimized" sends performanceConfig and its own serviceTier', async () => {
    await client.chat.completions.create({ model: MODEL, service_tier: 'priority', messages: [{ role: 'user', content: 'Fast' }] });
    expect(bedrock.requests[0]!.body).toMatchObject({ serviceTier: { type: 'priority' }, performanceConfig: { latency: 'optimized' } });
  });

  it('throttling with no fallback left: the client gets a 429 after the plan\'s retries', async () => {
    const throttle = { kind: 'error', status: 429, type: 'ThrottlingException', message: 'Too many requests' } as const;
    bedrock.script(throttle, throttle, throttle);
    const err = await client.chat.completions.create({ model: MODEL, service_tier: 'flex', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.RateLimitError);
    expect((err as InstanceType<typeof OpenAI.RateLimitError>).status).toBe(429);
    expect(bedrock.requests).toHaveLength(3);
  });

  it('throttling on a tier with a fallback: served by the fallback tier, and the answer says so', async () => {
    const throttle = { kind: 'error', status: 429, type: 'ThrottlingException', message: 'Too many requests' } as const;
    bedrock.script(throttle, throttle, throttle);
    const chunks = await collect(await client.chat.completions.create({ model: MODEL, service_tier: 'priority', stream: true, messages: [{ role: 'user', content: 'x' }] }));
    expect(chunks.length).toBeGreaterThan(0);
    expect(chunks.every((c) => c.service_tier === 'default')).toBe(true);
    expect(bedrock.requests).toHaveLength(3);
  });

  it('a Bedrock ValidationException is the client\'s 400, not retried', async () => {
    bedrock.script({ kind: 'error', status: 400, type: 'ValidationException', message: 'The maximum tokens you requested exceeds the model limit' });
    // Within the gateway's own context bound (131,072 by default), above what this Bedrock model takes.
    const err = await client.chat.completions.create({ model: MODEL, service_tier: 'flex', max_tokens: 100_000, messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).message).toContain('exceeds the model limit');
    expect(bedrock.requests).toHaveLength(1);
  });

  it('content the Bedrock route cannot carry is a 400 naming the field', async () => {
    const err = await client.chat.completions
      .create({ model: MODEL, service_tier: 'flex', messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'https://example.com/a.png' } }] }] })
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.BadRequestError);
    expect((err as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages.0.content.0');
    expect(bedrock.requests).toHaveLength(0);
  });

  it('an exception mid-stream ends the stream with an error event, never a silent cut', async () => {
    bedrock.script({
      kind: 'events',
      messages: [
        { event: 'messageStart', body: { role: 'assistant' } },
        { event: 'contentBlockDelta', body: { contentBlockIndex: 0, delta: { text: 'partial' } } },
        { exception: 'modelStreamErrorException', message: 'the model stopped' },
      ],
    });
    const stream = await client.chat.completions.create({ model: MODEL, service_tier: 'flex', stream: true, messages: [{ role: 'user', content: 'x' }] });
    const seen: string[] = [];
    const err = await (async () => {
      for await (const chunk of stream) seen.push(chunk.choices[0]?.delta.content ?? '');
    })().catch((e: unknown) => e);
    expect(seen.join('')).toBe('partial');
    expect(err).toBeInstanceOf(OpenAI.APIError);
    expect(String((err as Error).message)).toContain('the model stopped');
  });

  it('tool calls round-trip: streamed tool_calls deltas, then the tool result goes back as toolResult', async () => {
    const parameters = { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] };
    const tools: OpenAI.Chat.Completions.ChatCompletionTool[] = [{ type: 'function', function: { name: 'weather', description: 'Current weather', parameters } }];
    bedrock.script({ kind: 'events', messages: toolEvents('tooluse_1', 'weather', ['{"city"', ':"Oslo"}']) });
    const chunks = await collect(
      await client.chat.completions.create({ model: MODEL, service_tier: 'flex', stream: true, tools, tool_choice: 'auto', messages: [{ role: 'user', content: 'Weather in Oslo?' }] }),
    );
    expect(bedrock.requests[0]!.body.toolConfig).toEqual({
      tools: [{ toolSpec: { name: 'weather', description: 'Current weather', inputSchema: { json: parameters } } }],
      toolChoice: { auto: {} },
    });
    const deltas = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
    expect(deltas[0]).toMatchObject({ index: 0, id: 'tooluse_1', type: 'function', function: { name: 'weather' } });
    const args = deltas.map((d) => d.function?.arguments ?? '').join('');
    expect(JSON.parse(args)).toEqual({ city: 'Oslo' });
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0]!.finish_reason).toBe('tool_calls');

    bedrock.script(converseAnswer('It is 12C in Oslo.'));
    const res = await client.chat.completions.create({
      model: MODEL,
      service_tier: 'flex',
      tools,
      messages: [
        { role: 'user', content: 'Weather in Oslo?' },
        { role: 'assistant', content: 'Let me check.', tool_calls: [{ id: 'tooluse_1', type: 'function', function: { name: 'weather', arguments: args } }] },
        { role: 'tool', tool_call_id: 'tooluse_1', content: '{"celsius":12}' },
      ],
    });
    expect(res.choices[0]!.message.content).toBe('It is 12C in Oslo.');
    expect(bedrock.requests[1]!.body.messages).toEqual([
      { role: 'user', content: [{ text: 'Weather in Oslo?' }] },
      { role: 'assistant', content: [{ text: 'Let me check.' }, { toolUse: { toolUseId: 'tooluse_1', name: 'weather', input: { city: 'Oslo' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_1', content: [{ text: '{"celsius":12}' }] } }] },
    ]);
  });

  it('legacy /v1/completions on the Bedrock route answers text_completion objects', async () => {
    bedrock.script(converseAnswer(' 4'));
    const res = await client.completions.create({ model: MODEL, service_tier: 'flex', prompt: '2+2=', max_tokens: 2 } as OpenAI.Completions.CompletionCreateParamsNonStreaming);
    expect(res.object).toBe('text_completion');
    expect(res.choices[0]!.text).toBe(' 4');
    expect(bedrock.requests[0]!.body.messages).toEqual([{ role: 'user', content: [{ text: '2+2=' }] }]);
  });
});
