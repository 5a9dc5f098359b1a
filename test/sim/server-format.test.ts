import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { startSimulator } from '../../sim/index.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { chatBody, post, sseEvents } from './helpers.ts';
import type { Chunk } from './helpers.ts';

let sim: SimulatorHandle;
beforeAll(async () => {
  sim = await startSimulator({ profile: 'cerebras-decode', speedup: 1000, seed: 11 });
});
afterAll(async () => {
  await sim.close();
});

describe('chat completions', () => {
  it('streams chunks vLLM-style: role first, finish reason last, usage chunk, [DONE]', async () => {
    const res = await post(`${sim.url}/v1/chat/completions`, chatBody({ stream: true, stream_options: { include_usage: true }, max_tokens: 5 }), { 'x-request-id': 'req-1' });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    expect(res.headers.get('x-request-id')).toBe('req-1');
    const text = await res.text();
    expect(text.endsWith('data: [DONE]\n\n')).toBe(true);
    const events = sseEvents(text);
    expect(events.at(-1)).toBe('[DONE]');
    const chunks = events.slice(0, -1) as Chunk[];
    expect(chunks[0]?.choices[0]?.delta?.role).toBe('assistant');
    const content = chunks.slice(1, -1);
    expect(content).toHaveLength(5);
    for (const c of chunks) {
      expect(c.object).toBe('chat.completion.chunk');
      expect(c.id).toBe('chatcmpl-req-1');
      expect(c.model).toBe('llama-3.1-8b');
      expect(typeof c.created).toBe('number');
    }
    expect(content.slice(0, -1).every((c) => c.choices[0]?.finish_reason === null && c.usage === null)).toBe(true);
    expect(content.at(-1)?.choices[0]?.finish_reason).toBe('length');
    const usage = chunks.at(-1);
    expect(usage?.choices).toEqual([]);
    expect(usage?.usage).toEqual({ prompt_tokens: 7, completion_tokens: 5, total_tokens: 12 });
  });

  it('streams without usage fields when include_usage is not asked', async () => {
    const res = await post(`${sim.url}/v1/chat/completions`, chatBody({ stream: true, max_tokens: 3 }));
    const chunks = sseEvents(await res.text()).slice(0, -1) as Chunk[];
    expect(chunks).toHaveLength(4);
    expect(chunks.every((c) => !('usage' in c))).toBe(true);
    expect(res.headers.get('x-request-id')).toMatch(/^sim-[0-9a-f]+$/);
  });

  it('answers non-stream with a chat.completion, default length 16, finish "stop"', async () => {
    const res = await post(`${sim.url}/v1/chat/completions`, chatBody({ model: 'any-model-name' }));
    const body = (await res.json()) as Record<string, any>;
    expect(body['object']).toBe('chat.completion');
    expect(body['model']).toBe('any-model-name');
    expect(body['choices'][0]).toMatchObject({ index: 0, logprobs: null, finish_reason: 'stop', message: { role: 'assistant' } });
    expect(typeof body['choices'][0].message.content).toBe('string');
    expect(body['usage']).toEqual({ prompt_tokens: 7, completion_tokens: 16, total_tokens: 23 });
  });

  it('max_completion_tokens wins over max_tokens', async () => {
    const res = await post(`${sim.url}/v1/chat/completions`, chatBody({ max_tokens: 9, max_completion_tokens: 2 }));
    expect(((await res.json()) as any).usage.completion_tokens).toBe(2);
  });

  it('rejects a malformed body with an OpenAI error', async () => {
    const res = await post(`${sim.url}/v1/chat/completions`, { model: 'x', messages: [] });
    expect(res.status).toBe(400);
    expect(((await res.json()) as any).error.type).toBe('invalid_request_error');
    const bad = await post(`${sim.url}/v1/chat/completions`, chatBody({ max_tokens: 0 }));
    expect(bad.status).toBe(400);
  });

  it('streams a forced tool call as delta.tool_calls with finish_reason "tool_calls"', async () => {
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object', properties: { city: { type: 'string' }, days: { type: 'integer' } } } } }];
    const res = await post(`${sim.url}/v1/chat/completions`, chatBody({ stream: true, tools, tool_choice: 'required' }));
    const chunks = sseEvents(await res.text()).slice(0, -1) as Chunk[];
    const calls = chunks.slice(1).map((c) => c.choices[0]?.delta?.tool_calls?.[0]);
    expect(calls[0]).toMatchObject({ index: 0, type: 'function', function: { name: 'get_weather' } });
    expect(calls[0]?.id).toMatch(/^chatcmpl-tool-/);
    expect(calls.every((c) => c?.index === 0)).toBe(true);
    const args = JSON.parse(calls.map((c) => c?.function.arguments ?? '').join('')) as Record<string, unknown>;
    expect(Object.keys(args).sort()).toEqual(['city', 'days']);
    expect(typeof args['days']).toBe('number');
    expect(chunks.at(-1)?.choices[0]?.finish_reason).toBe('tool_calls');
  });

  it('answers a named tool call non-stream, and text when tool_choice is auto', async () => {
    const tools = [{ type: 'function', function: { name: 'a' } }, { type: 'function', function: { name: 'b' } }];
    const named = (await (await post(`${sim.url}/v1/chat/completions`, chatBody({ tools, tool_choice: { type: 'function', function: { name: 'b' } } }))).json()) as any;
    expect(named.choices[0].finish_reason).toBe('tool_calls');
    expect(named.choices[0].message).toMatchObject({ role: 'assistant', content: null, tool_calls: [{ type: 'function', function: { name: 'b', arguments: '{}' } }] });
    const auto = (await (await post(`${sim.url}/v1/chat/completions`, chatBody({ tools, tool_choice: 'auto' }))).json()) as any;
    expect(auto.choices[0].finish_reason).toBe('stop');
  });

  it('is consumable by the official openai client, tool calls included', async () => {
    const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'sk-sim' });
    const stream = await client.chat.completions.create({
      model: 'llama-3.1-8b', messages: [{ role: 'user', content: 'hi' }], stream: true, max_tokens: 4,
      tools: [{ type: 'function', function: { name: 'lookup', parameters: { type: 'object', properties: { q: { type: 'string' } } } } }],
      tool_choice: { type: 'function', function: { name: 'lookup' } },
    });
    let args = '';
    let finish: string | null = null;
    for await (const chunk of stream) {
      args += chunk.choices[0]?.delta.tool_calls?.[0]?.function?.arguments ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('tool_calls');
    expect(JSON.parse(args)).toHaveProperty('q');
  });
});

describe('legacy completions', () => {
  it('answers text_completion non-stream and streamed', async () => {
    const plain = (await (await post(`${sim.url}/v1/completions`, { model: 'm', prompt: 'abcdefgh', max_tokens: 3 })).json()) as any;
    expect(plain.object).toBe('text_completion');
    expect(plain.choices[0]).toMatchObject({ index: 0, logprobs: null, finish_reason: 'length' });
    expect(plain.usage).toEqual({ prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 });
    const res = await post(`${sim.url}/v1/completions`, { model: 'm', prompt: 'abcdefgh', max_tokens: 3, stream: true, stream_options: { include_usage: true } });
    const events = sseEvents(await res.text());
    const chunks = events.slice(0, -1) as Chunk[];
    expect(chunks).toHaveLength(4);
    expect(chunks.slice(0, 3).map((c) => c.choices[0]?.text).join('')).toBe(plain.choices[0].text);
    expect(chunks.every((c) => c.object === 'text_completion')).toBe(true);
    expect(chunks[3]?.usage?.total_tokens).toBe(5);
  });

  it('is consumable by the official openai client', async () => {
    const client = new OpenAI({ baseURL: `${sim.url}/v1`, apiKey: 'sk-sim' });
    const out = await client.completions.create({ model: 'm', prompt: 'hello', max_tokens: 6 });
    expect(out.usage?.completion_tokens).toBe(6);
  });
});

describe('models, health, determinism', () => {
  it('lists models in the OpenAI shape and answers health', async () => {
    const models = (await (await fetch(`${sim.url}/v1/models`)).json()) as any;
    expect(models.object).toBe('list');
    expect(models.data[0]).toMatchObject({ id: 'llama-3.1-8b', object: 'model' });
    const health = await fetch(`${sim.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
  });

  it('gives the same text for the same seed and request, other text for another seed', async () => {
    const other = await startSimulator({ profile: 'gpu-aggregated', speedup: 1000, seed: 11 });
    const third = await startSimulator({ profile: 'cerebras-decode', speedup: 1000, seed: 12 });
    try {
      const ask = async (s: SimulatorHandle): Promise<string> =>
        ((await (await post(`${s.url}/v1/chat/completions`, chatBody({ max_tokens: 12 }))).json()) as any).choices[0].message.content;
      const a = await ask(sim);
      expect(await ask(sim)).toBe(a);
      expect(await ask(other)).toBe(a);
      expect(await ask(third)).not.toBe(a);
    } finally {
      await other.close();
      await third.close();
    }
  });

  it('records what it received, x-request-id and body included', async () => {
    await post(`${sim.url}/v1/chat/completions`, chatBody({ max_tokens: 1, marker: 'rec-test' }), { 'x-request-id': 'rec-1', authorization: 'Bearer secret' });
    const stats = sim.stats();
    const last = stats.recent.at(-1);
    expect(last?.path).toBe('/v1/chat/completions');
    expect(last?.headers['x-request-id']).toBe('rec-1');
    expect(last?.headers['authorization']).toBe('<redacted>');
    expect((last?.body as Record<string, unknown>)['marker']).toBe('rec-test');
    const overHttp = (await (await fetch(`${sim.url}/sim/stats`)).json()) as any;
    expect(overHttp.calls).toBe(stats.calls);
  });
});
