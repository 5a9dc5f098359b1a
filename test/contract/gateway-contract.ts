/**
 * The gateway contract: one suite of client-visible behaviour, run against every adapter (the
 * local Node HTTP server and the Lambda streaming handler behind an API Gateway emulator), with
 * the official `openai` client as the caller and simulators on loopback ports as the backends.
 */
import OpenAI from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { SplitserveConfig } from '../../lambda/core/config.ts';
import type { Backends } from './harness.ts';
import { ACME_KEY, BASIC_KEY, MODEL, contractConfig, eventually, startBackends } from './harness.ts';

/** A running gateway under test. */
export interface GatewayUnderTest {
  readonly url: string;
  close(): Promise<void>;
}

type Chunk = OpenAI.Chat.Completions.ChatCompletionChunk;

/** Registers the contract suite for one adapter. */
export function describeGatewayContract(adapter: string, start: (config: SplitserveConfig) => Promise<GatewayUnderTest>): void {
  describe(`gateway contract (${adapter})`, () => {
    let backends: Backends;
    let gateway: GatewayUnderTest;
    let acme: OpenAI;
    let basic: OpenAI;

    beforeAll(async () => {
      backends = await startBackends();
      gateway = await start(contractConfig(backends));
      acme = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: ACME_KEY, maxRetries: 0 });
      basic = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: BASIC_KEY, maxRetries: 0 });
    });
    afterAll(async () => {
      await gateway?.close();
      await backends?.close();
    });
    afterEach(() => {
      for (const sim of [backends.prefill, backends.decode, backends.gpu]) sim.setFaults({});
    });

    const lastBody = (sim: Backends['prefill']) => sim.stats().recent.at(-1)?.body as Record<string, unknown>;
    const collect = async (stream: AsyncIterable<Chunk>) => {
      const chunks: Chunk[] = [];
      for await (const chunk of stream) chunks.push(chunk);
      return chunks;
    };

    it('answers /health without a key, with an x-request-id', async () => {
      const res = await fetch(`${gateway.url}/health`);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
      expect(res.headers.get('x-request-id')).toMatch(/^req_[0-9a-f]{32}$/);
    });

    it('lists the configured models', async () => {
      const models = await acme.models.list();
      expect(models.data.map((m) => m.id)).toEqual([MODEL]);
    });

    it('streams a fast-tier completion over prefill → decode, echoing service_tier in every chunk', async () => {
      const prefillCalls = backends.prefill.stats().calls;
      const stream = await acme.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'Explain disaggregated inference in one line.' }],
        stream: true,
        max_tokens: 6,
        service_tier: 'priority',
        stream_options: { include_usage: true },
      });
      const chunks = await collect(stream);
      expect(chunks.length).toBeGreaterThan(2);
      for (const chunk of chunks) expect(chunk.service_tier).toBe('priority');
      const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
      expect(text.trim().length).toBeGreaterThan(0);
      const last = chunks.at(-1)!;
      expect(last.choices).toEqual([]);
      expect(last.usage?.completion_tokens).toBe(6);
      expect(backends.prefill.stats().calls).toBe(prefillCalls + 1);
      const prefillBody = lastBody(backends.prefill);
      expect(prefillBody.max_tokens).toBe(1);
      expect(prefillBody.stream).toBe(false);
      const decodeBody = lastBody(backends.decode);
      expect((decodeBody.kv_transfer_params as Record<string, unknown>).do_remote_prefill).toBe(true);
      expect(decodeBody.max_tokens).toBe(6);
      expect(decodeBody.service_tier).toBeUndefined();
    });

    it('hides the usage chunk from a client that did not ask for it', async () => {
      const chunks = await collect(
        await acme.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 3, service_tier: 'fast' as never }),
      );
      expect(chunks.every((c) => c.choices.length > 0 && c.usage === undefined)).toBe(true);
      expect(chunks.every((c) => c.service_tier === 'priority')).toBe(true);
    });

    it('returns a non-streamed completion with the tier served and usage', async () => {
      const res = await acme.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hello' }], max_tokens: 4, service_tier: 'priority' });
      expect(res.object).toBe('chat.completion');
      expect(res.service_tier).toBe('priority');
      expect(res.model).toBe(MODEL);
      expect(res.usage?.completion_tokens).toBe(4);
      expect(res.choices[0]?.message.content?.length).toBeGreaterThan(0);
      expect((res as unknown as Record<string, unknown>).kv_transfer_params).toBeUndefined();
    });

    it('serves legacy /v1/completions on the same plan, streamed and not', async () => {
      const whole = await acme.completions.create({ model: MODEL, prompt: 'Once upon a time', max_tokens: 3, service_tier: 'priority' } as never);
      expect((whole as unknown as { service_tier: string }).service_tier).toBe('priority');
      expect(whole.choices[0]?.text.length).toBeGreaterThan(0);
      expect(lastBody(backends.prefill).prompt).toBe('Once upon a time');
      const stream = await acme.completions.create({ model: MODEL, prompt: 'Once', max_tokens: 3, stream: true, service_tier: 'priority' } as never);
      let text = '';
      for await (const chunk of stream as unknown as AsyncIterable<OpenAI.Completions.Completion & { service_tier: string }>) {
        expect(chunk.service_tier).toBe('priority');
        text += chunk.choices[0]?.text ?? '';
      }
      expect(text.length).toBeGreaterThan(0);
    });

    it('serves a tenant at its best entitled tier when it asks for one it does not have', async () => {
      const res = await basic.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, service_tier: 'priority' });
      expect(res.service_tier).toBe('default');
      const auto = await acme.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
      expect(auto.service_tier).toBe('default');
    });

    it('passes tools through and streams tool-call deltas unchanged', async () => {
      const tools = [{ type: 'function' as const, function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } } }];
      const chunks = await collect(
        await acme.chat.completions.create({
          model: MODEL,
          messages: [{ role: 'user', content: 'weather in Paris?' }],
          tools,
          tool_choice: 'required',
          seed: 7,
          response_format: { type: 'text' },
          stream: true,
          service_tier: 'priority',
        }),
      );
      const calls = chunks.flatMap((c) => c.choices[0]?.delta.tool_calls ?? []);
      expect(calls.length).toBeGreaterThan(0);
      expect(calls[0]?.function?.name).toBe('get_weather');
      expect(chunks.some((c) => c.choices[0]?.finish_reason === 'tool_calls')).toBe(true);
      const sent = lastBody(backends.decode);
      expect(sent.tools).toEqual(tools);
      expect(sent.tool_choice).toBe('required');
      expect(sent.seed).toBe(7);
      expect(sent.response_format).toEqual({ type: 'text' });
    });

    it('echoes the client x-request-id, and generates one otherwise', async () => {
      const res = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${ACME_KEY}`, 'x-request-id': 'client-abc.1' } });
      expect(res.headers.get('x-request-id')).toBe('client-abc.1');
      const other = await fetch(`${gateway.url}/v1/models`, { headers: { authorization: `Bearer ${ACME_KEY}` } });
      expect(other.headers.get('x-request-id')).toMatch(/^req_/);
    });

    it('rejects a missing or unknown key with 401 invalid_api_key', async () => {
      const res = await fetch(`${gateway.url}/v1/chat/completions`, { method: 'POST', body: '{}' });
      expect(res.status).toBe(401);
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe('invalid_api_key');
      const stranger = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'sk-ss-not-a-real-key-000000000000', maxRetries: 0 });
      const err = await stranger.models.list().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
      expect((err as InstanceType<typeof OpenAI.AuthenticationError>).code).toBe('invalid_api_key');
      expect(JSON.stringify((err as { error: unknown }).error)).not.toContain('sk-ss-not-a-real-key');
    });

    it('rejects an unknown service_tier with 400 naming the param', async () => {
      const err = await acme.chat.completions
        .create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], service_tier: 'gold' as never })
        .catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.BadRequestError);
      const bad = err as InstanceType<typeof OpenAI.BadRequestError>;
      expect(bad.param).toBe('service_tier');
      expect(bad.type).toBe('invalid_request_error');
    });

    it('rejects invalid bodies with 400 and the offending param', async () => {
      const noMessages = await acme.chat.completions.create({ model: MODEL, messages: [] }).catch((e: unknown) => e);
      expect((noMessages as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('messages');
      const badMax = await acme.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x' }], max_tokens: -3 }).catch((e: unknown) => e);
      expect((badMax as InstanceType<typeof OpenAI.BadRequestError>).param).toBe('max_tokens');
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ACME_KEY}`, 'content-type': 'application/json' },
        body: '{not json',
      });
      expect(res.status).toBe(400);
      const body = (await res.json()) as { error: { type: string; message: string } };
      expect(body.error.type).toBe('invalid_request_error');
    });

    it('answers an unknown model with 404 model_not_found', async () => {
      const err = await acme.chat.completions.create({ model: 'gpt-9', messages: [{ role: 'user', content: 'x' }] }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.NotFoundError);
      expect((err as InstanceType<typeof OpenAI.NotFoundError>).code).toBe('model_not_found');
    });

    it('falls back to the default tier when prefill keeps failing, and says so', async () => {
      backends.prefill.setFaults({ errorRate: 1, errorStatus: 503 });
      const res = await acme.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, service_tier: 'priority' });
      expect(res.service_tier).toBe('default');
      const chunks = await collect(
        await acme.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, service_tier: 'priority', stream: true }),
      );
      expect(chunks.length).toBeGreaterThan(0);
      expect(chunks.every((c) => c.service_tier === 'default')).toBe(true);
    });

    it('retries a transient prefill failure on the same tier', async () => {
      const next = backends.prefill.stats().calls + 1;
      backends.prefill.setFaults({ failNth: [next], errorStatus: 503 });
      const res = await acme.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2, service_tier: 'priority', stream: true });
      const chunks = await collect(res);
      expect(chunks.every((c) => c.service_tier === 'priority')).toBe(true);
      expect(backends.prefill.stats().calls).toBe(next + 1);
    });

    it('answers 5xx with the OpenAI error shape when every route is down', async () => {
      backends.prefill.setFaults({ errorRate: 1, errorStatus: 500 });
      backends.gpu.setFaults({ errorRate: 1, errorStatus: 500 });
      const err = await acme.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], service_tier: 'priority' }).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(OpenAI.InternalServerError);
      const e = err as InstanceType<typeof OpenAI.InternalServerError>;
      expect(e.status).toBe(502);
      expect(e.type).toBe('upstream_error');
      const streamed = await acme.chat.completions
        .create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], service_tier: 'priority', stream: true })
        .catch((x: unknown) => x);
      expect(streamed).toBeInstanceOf(OpenAI.InternalServerError);
    });

    it('turns a decode failure after the first byte into an error event, not a silent cut', async () => {
      backends.decode.setFaults({ dropAfterTokens: 2 });
      const stream = await acme.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'hi' }],
        max_tokens: 20,
        service_tier: 'priority',
        stream: true,
      });
      const seen: Chunk[] = [];
      const err = await (async () => {
        for await (const chunk of stream) seen.push(chunk);
      })().catch((e: unknown) => e);
      expect(seen.length).toBeGreaterThan(0);
      expect(err).toBeInstanceOf(OpenAI.APIError);
      expect(String((err as Error).message)).toMatch(/dropped the stream|ended the stream/);
    });

    it('cancels the upstream decode when the client disconnects mid-stream', async () => {
      const aborted = backends.decode.stats().aborted;
      const stream = await acme.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'write a long story' }],
        max_tokens: 4000,
        service_tier: 'priority',
        stream: true,
      });
      let received = 0;
      for await (const _chunk of stream) {
        received += 1;
        if (received === 3) break;
      }
      await eventually(() => backends.decode.stats().aborted > aborted);
      expect(backends.decode.stats().active).toBe(0);
    });

    it('cancels the upstream prefill when the client gives up before the first token', async () => {
      const { aborted, calls } = backends.prefill.stats();
      backends.prefill.setFaults({ stallMs: 5000 });
      const controller = new AbortController();
      const pending = acme.chat.completions
        .create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true, service_tier: 'priority' }, { signal: controller.signal })
        .catch((e: unknown) => e);
      await eventually(() => backends.prefill.stats().calls > calls);
      controller.abort();
      expect(await pending).toBeInstanceOf(OpenAI.APIUserAbortError);
      await eventually(() => backends.prefill.stats().aborted > aborted);
    });

    it('refuses a body over the size limit with 413, without reading it all into memory', async () => {
      const res = await fetch(`${gateway.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ACME_KEY}`, 'content-type': 'application/json' },
        body: 'x'.repeat(17 * 1024 * 1024),
      }).catch((e: unknown) => e);
      // The server may close the connection before the upload ends; then fetch fails instead.
      if (res instanceof Response) expect(res.status).toBe(413);
      else expect(String((res as Error).cause ?? res)).toMatch(/ECONNRESET|EPIPE|other side closed|SocketError/);
    });

    it('answers an unknown route with an OpenAI-shaped 404 unknown_url (from the core, or the API gateway responses)', async () => {
      const res = await fetch(`${gateway.url}/v1/embeddings`, { method: 'POST', headers: { authorization: `Bearer ${ACME_KEY}` }, body: '{}' });
      expect(res.status).toBe(404);
      expect(await res.json()).toEqual({ error: { message: 'Invalid URL (POST /v1/embeddings)', type: 'invalid_request_error', param: null, code: 'unknown_url' } });
    });
  });
}
