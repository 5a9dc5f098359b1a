/**
 * The Bedrock backend with the real `@aws-sdk/client-bedrock-runtime` pointed (through the pool's
 * endpoint) at a local server speaking Bedrock's REST protocol, event-stream framing included.
 * Credentials: dummy values in the environment, so the SDK's default chain never reaches the network.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BedrockClients } from '../../lambda/backends/bedrock-client.ts';
import { bedrockProtocol } from '../../lambda/backends/bedrock.ts';
import { UpstreamClient } from '../../lambda/backends/upstream-client.ts';
import type { PoolConfig, TierConfig, TierName } from '../../lambda/core/config.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { InvalidRequestError, UpstreamError } from '../../lambda/core/errors.ts';
import type { BedrockServer } from './bedrock-server.ts';
import { converseAnswer, startBedrockServer, textEvents, toolEvents, useDummyCredentials } from './bedrock-server.ts';
import type { BackendCall, UpstreamCompletion } from '../../lambda/core/backend-ports.ts';

const MODEL_ID = 'meta.llama3-1-8b-instruct-v1:0';

async function collect(completion: UpstreamCompletion): Promise<string[]> {
  if (completion.kind !== 'stream') throw new Error('expected a stream');
  const out: string[] = [];
  for (let next = await completion.batches.next(); !next.done; next = await completion.batches.next()) out.push(...next.value);
  return out;
}

function parsed(payloads: readonly string[]): Array<Record<string, any>> {
  return payloads.filter((p) => p !== '[DONE]').map((p) => JSON.parse(p) as Record<string, any>);
}

describe('bedrock backend against a local Bedrock-protocol server', () => {
  let server: BedrockServer;
  let restore: () => void;
  const clients = new BedrockClients();
  const protocol = bedrockProtocol(clients);
  let pool: PoolConfig;

  const call = (overrides: { tier?: TierName; tierConfig?: Partial<TierConfig>; api?: 'chat' | 'text'; signal?: AbortSignal } = {}): BackendCall => ({
    client: new UpstreamClient(),
    target: { pool: 'bedrock', endpoint: server.url, timeoutMs: 5000 },
    api: overrides.api ?? 'chat',
    requestId: 'req_1',
    signal: overrides.signal ?? new AbortController().signal,
    pool,
    tier: overrides.tier ?? 'flex',
    ...(overrides.tierConfig ? { tierConfig: overrides.tierConfig as TierConfig } : {}),
  });
  const complete = (body: Record<string, unknown>, overrides?: Parameters<typeof call>[0]) =>
    protocol.aggregated!.complete(call(overrides), { model: 'llama-3.1-8b', ...body });

  beforeAll(async () => {
    restore = useDummyCredentials();
    server = await startBedrockServer();
    pool = parseConfig({
      pools: { bedrock: { protocol: 'bedrock', region: 'us-east-1', endpoints: [server.url], modelIds: { 'llama-3.1-8b': MODEL_ID } } },
      models: { 'llama-3.1-8b': { pools: ['bedrock'] } },
      tiers: { flex: { route: { mode: 'bedrock', pool: 'bedrock' } } },
    }).pools.bedrock!;
  });
  afterAll(async () => {
    await clients.close();
    await server.close();
    restore();
  });
  beforeEach(() => {
    server.requests.length = 0;
  });

  it('Converse: sends the mapped request to the configured model ID and answers a chat.completion', async () => {
    server.script(converseAnswer('Hi there.'));
    const out = await complete({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: [{ type: 'text', text: 'Hello' }, { type: 'text', text: ' you' }] },
      ],
      max_tokens: 16,
      temperature: 0.2,
      top_p: 0.9,
      stop: 'END',
      seed: 7,
    });
    const req = server.requests[0]!;
    expect(req.operation).toBe('converse');
    expect(req.modelId).toBe(MODEL_ID);
    expect(req.headers.authorization).toMatch(/^AWS4-HMAC-SHA256 Credential=AKIDTESTTESTTESTTEST\/\d+\/us-east-1\/bedrock\/aws4_request/);
    expect(req.body).toEqual({
      system: [{ text: 'Be brief.' }],
      messages: [{ role: 'user', content: [{ text: 'Hello' }, { text: ' you' }] }],
      inferenceConfig: { maxTokens: 16, temperature: 0.2, topP: 0.9, stopSequences: ['END'] },
      serviceTier: { type: 'flex' },
    });
    expect(out.kind).toBe('json');
    const json = (out as { json: Record<string, any> }).json;
    expect(json).toMatchObject({
      id: 'chatcmpl-req_1',
      object: 'chat.completion',
      model: 'llama-3.1-8b',
      choices: [{ index: 0, message: { role: 'assistant', content: 'Hi there.' }, finish_reason: 'stop' }],
      usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 },
    });
  });

  it('maps the tier: its name by default, the tier override and latency-optimized performanceConfig when configured', async () => {
    await complete({ messages: [{ role: 'user', content: 'a' }] }, { tier: 'priority' });
    await complete({ messages: [{ role: 'user', content: 'b' }] }, { tier: 'default', tierConfig: { bedrock: { serviceTier: 'flex', latency: 'optimized' } } });
    expect(server.requests.map((r) => [r.body.serviceTier, r.body.performanceConfig])).toEqual([
      [{ type: 'priority' }, undefined],
      [{ type: 'flex' }, { latency: 'optimized' }],
    ]);
  });

  it('ConverseStream: decodes the event stream into chunks, finish_reason, a usage chunk, then [DONE]', async () => {
    const out = await complete({ messages: [{ role: 'user', content: 'Hi' }], stream: true, max_completion_tokens: 8 }, { tier: 'priority' });
    const payloads = await collect(out);
    expect(server.requests[0]!.operation).toBe('converse-stream');
    expect(server.requests[0]!.body).toMatchObject({ serviceTier: { type: 'priority' }, inferenceConfig: { maxTokens: 8 } });
    expect(payloads.at(-1)).toBe('[DONE]');
    const chunks = parsed(payloads);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk' && c.id === 'chatcmpl-req_1')).toBe(true);
    expect(chunks[0]!.choices[0].delta).toEqual({ role: 'assistant', content: '' });
    expect(chunks.map((c) => c.choices[0]?.delta?.content ?? '').join('')).toBe('Hello from Bedrock.');
    expect(chunks.at(-2)!.choices[0].finish_reason).toBe('stop');
    expect(chunks.at(-1)).toMatchObject({ choices: [], usage: { prompt_tokens: 11, completion_tokens: 3, total_tokens: 14 } });
  });

  it('tools: OpenAI tools, tool_choice, assistant tool_calls and tool results go as toolConfig/toolUse/toolResult', async () => {
    server.script(converseAnswer('', { stopReason: 'tool_use', toolUses: [{ toolUseId: 'tu_2', name: 'weather', input: { city: 'Oslo' } }] }));
    const out = await complete({
      messages: [
        { role: 'user', content: 'Weather in Paris and Oslo?' },
        { role: 'assistant', content: null, tool_calls: [{ id: 'tu_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }] },
        { role: 'tool', tool_call_id: 'tu_1', content: '18C' },
      ],
      tools: [{ type: 'function', function: { name: 'weather', description: 'Weather now', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }],
      tool_choice: 'required',
    });
    expect(server.requests[0]!.body).toMatchObject({
      messages: [
        { role: 'user', content: [{ text: 'Weather in Paris and Oslo?' }] },
        { role: 'assistant', content: [{ toolUse: { toolUseId: 'tu_1', name: 'weather', input: { city: 'Paris' } } }] },
        { role: 'user', content: [{ toolResult: { toolUseId: 'tu_1', content: [{ text: '18C' }] } }] },
      ],
      toolConfig: {
        tools: [{ toolSpec: { name: 'weather', description: 'Weather now', inputSchema: { json: { type: 'object', properties: { city: { type: 'string' } } } } } }],
        toolChoice: { any: {} },
      },
    });
    const json = (out as { json: Record<string, any> }).json;
    expect(json.choices[0]).toMatchObject({
      finish_reason: 'tool_calls',
      message: { content: null, tool_calls: [{ id: 'tu_2', type: 'function', function: { name: 'weather', arguments: '{"city":"Oslo"}' } }] },
    });
  });

  it('tool-use stream events become delta.tool_calls chunks and finish_reason tool_calls', async () => {
    server.script({ kind: 'events', messages: toolEvents('tu_9', 'weather', ['{"ci', 'ty":"Oslo"}']) });
    const chunks = parsed(await collect(await complete({ messages: [{ role: 'user', content: 'Oslo?' }], stream: true, tools: [{ type: 'function', function: { name: 'weather' } }] })));
    const calls = chunks.flatMap((c) => c.choices[0]?.delta?.tool_calls ?? []);
    expect(calls[0]).toEqual({ index: 0, id: 'tu_9', type: 'function', function: { name: 'weather', arguments: '' } });
    expect(calls.slice(1).map((c: any) => c.function.arguments).join('')).toBe('{"city":"Oslo"}');
    expect(calls.every((c: any) => c.index === 0)).toBe(true);
    expect(chunks.find((c) => c.choices[0]?.finish_reason)?.choices[0].finish_reason).toBe('tool_calls');
  });

  it('legacy text completions: the prompt as one user message, text_completion answers (whole and streamed)', async () => {
    server.script(converseAnswer('four'));
    const whole = await complete({ prompt: '2+2=', max_tokens: 2 }, { api: 'text' });
    expect(server.requests[0]!.body.messages).toEqual([{ role: 'user', content: [{ text: '2+2=' }] }]);
    expect((whole as { json: Record<string, any> }).json).toMatchObject({ id: 'cmpl-req_1', object: 'text_completion', choices: [{ text: 'four', finish_reason: 'stop' }] });
    const chunks = parsed(await collect(await complete({ prompt: ['2+2='], stream: true }, { api: 'text' })));
    expect(chunks.every((c) => c.object === 'text_completion')).toBe(true);
    expect(chunks.map((c) => c.choices[0]?.text ?? '').join('')).toBe('Hello from Bedrock.');
    await expect(complete({ prompt: ['a', 'b'] }, { api: 'text' })).rejects.toMatchObject({ statusCode: 400, param: 'prompt' });
  });

  it.each([
    ['ThrottlingException', 429, 429, true],
    ['ModelNotReadyException', 429, 429, true],
    ['ServiceUnavailableException', 503, 503, true],
    ['ModelTimeoutException', 408, 504, true],
    ['InternalServerException', 500, 502, true],
    ['AccessDeniedException', 403, 502, false],
    ['ResourceNotFoundException', 404, 502, false],
  ])('maps %s (HTTP %i) to an UpstreamError %i (retryable: %s)', async (type, status, expected, retryable) => {
    server.script({ kind: 'error', status, type, message: `${type} from test` });
    const err = await complete({ messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).statusCode).toBe(expected);
    expect((err as UpstreamError).retryable).toBe(retryable);
    expect((err as UpstreamError).message).toContain(`${type} from test`);
  });

  it('maps a ValidationException to the client\'s 400', async () => {
    server.script({ kind: 'error', status: 400, type: 'ValidationException', message: 'maxTokens too large' });
    const err = await complete({ messages: [{ role: 'user', content: 'x' }], stream: true }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).message).toContain('maxTokens too large');
  });

  it('an exception event mid-stream ends the batches with the mapped error, after the chunks already relayed', async () => {
    server.script({
      kind: 'events',
      messages: [{ event: 'messageStart', body: { role: 'assistant' } }, { event: 'contentBlockDelta', body: { contentBlockIndex: 0, delta: { text: 'par' } } }, { exception: 'throttlingException', message: 'slow down' }],
    });
    const out = await complete({ messages: [{ role: 'user', content: 'x' }], stream: true });
    const seen: string[] = [];
    const err = await (async () => {
      if (out.kind !== 'stream') throw new Error('expected a stream');
      for (let next = await out.batches.next(); !next.done; next = await out.batches.next()) seen.push(...next.value);
    })().catch((e: unknown) => e);
    expect(parsed(seen).map((c) => c.choices[0]?.delta?.content).join('')).toBe('par');
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).statusCode).toBe(429);
  });

  it('a stream that ends before messageStop is an error, not a silent cut', async () => {
    server.script({ kind: 'events', messages: textEvents(['cut']).slice(0, 2) });
    const err = await collect(await complete({ messages: [{ role: 'user', content: 'x' }], stream: true })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).retryable).toBe(true);
  });

  it.each([
    ['the call is aborted (client gone)', true],
    ['the consumer returns early without an abort', false],
  ])('the Bedrock stream is closed when %s', async (_case, abort) => {
    const before = server.cancelledStreams();
    const controller = new AbortController();
    server.script({ kind: 'events', messages: textEvents(Array.from({ length: 200 }, (_, i) => `t${i} `)), delayMs: 5 });
    const out = await complete({ messages: [{ role: 'user', content: 'x' }], stream: true }, { signal: controller.signal });
    if (out.kind !== 'stream') throw new Error('expected a stream');
    expect((await out.batches.next()).done).toBe(false);
    if (abort) controller.abort(new Error('client went away'));
    await out.batches.return?.();
    await expect.poll(() => server.cancelledStreams(), { timeout: 3000 }).toBe(before + 1);
  });

  it('an unreachable endpoint is a retryable 502', async () => {
    const closed = await startBedrockServer();
    const url = closed.url;
    await closed.close();
    const out = protocol.aggregated!.complete({ ...call(), target: { pool: 'bedrock', endpoint: url, timeoutMs: 2000 } }, { model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'x' }] });
    await expect(out).rejects.toMatchObject({ statusCode: 502, retryable: true });
  });

  it('reuses one client per region and endpoint', async () => {
    const key = { region: 'us-east-1', endpoint: server.url, timeoutMs: 5000 };
    expect(await clients.get(key)).toBe(await clients.get({ ...key }));
    expect(await clients.get(key)).not.toBe(await clients.get({ ...key, region: 'us-west-2' }));
  });
});
