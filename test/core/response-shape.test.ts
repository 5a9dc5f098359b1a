import { describe, expect, it, vi } from 'vitest';
import { StreamShaper, shapeCompletion } from '../../lambda/core/response-shape.ts';

const chunk = (content: string) => JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'upstream/name', choices: [{ index: 0, delta: { content } }] });

describe('response shaping', () => {
  it('stamps the public model and the tier served, and drops kv params from a completion', () => {
    const out = shapeCompletion({ model: 'upstream/name', kv_transfer_params: { a: 1 }, service_tier: null }, 'llama', 'priority');
    expect(out).toEqual({ model: 'llama', service_tier: 'priority' });
  });

  it('stamps every chunk, counts generated chunks, and keeps [DONE]', () => {
    const shaper = new StreamShaper({ model: 'llama', tierServed: 'default', includeUsage: true });
    const text = shaper.shape([chunk('a'), chunk('b'), JSON.stringify({ choices: [], usage: { prompt_tokens: 3, completion_tokens: 2 } }), '[DONE]']);
    const events = text.trim().split('\n\n');
    expect(events).toHaveLength(4);
    for (const e of events.slice(0, 3)) expect(JSON.parse(e.slice(6))).toMatchObject({ service_tier: 'default', model: 'llama' });
    expect(events[3]).toBe('data: [DONE]');
    expect(shaper.generatedChunks).toBe(2);
    expect(shaper.usage).toEqual({ promptTokens: 3, completionTokens: 2 });
  });

  it('reads usage but hides the usage chunk from a client that did not ask for it', () => {
    const shaper = new StreamShaper({ model: 'm', tierServed: 'priority', includeUsage: false });
    const text = shaper.shape([JSON.stringify({ choices: [{ index: 0, delta: { content: 'x' } }], usage: null }), JSON.stringify({ choices: [], usage: { prompt_tokens: 1, completion_tokens: 1 } })]);
    expect(text.trim().split('\n\n')).toHaveLength(1);
    expect(text).not.toContain('usage');
    expect(shaper.usage).toEqual({ promptTokens: 1, completionTokens: 1 });
  });

  it('passes an upstream error event through and remembers it', () => {
    const shaper = new StreamShaper({ model: 'm', tierServed: 'priority', includeUsage: false });
    const text = shaper.shape([JSON.stringify({ error: { message: 'boom' } })]);
    expect(text).toContain('boom');
    expect(shaper.upstreamError).not.toBeNull();
  });
});

describe('stream shaping fast path', () => {
  const upstream = [
    { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'llama', choices: [{ index: 0, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }], usage: null },
    { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'llama', choices: [{ index: 0, delta: { content: 'say "error": no' }, logprobs: null, finish_reason: null }], usage: null },
    { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'llama', choices: [{ index: 0, delta: { tool_calls: [{ index: 0, function: { arguments: '{"usage":{}}' } }] }, finish_reason: null }], usage: null },
    { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'upstream/other', choices: [{ index: 0, delta: { content: 'x' } }] },
    { id: 'c', object: 'text_completion', created: 1, model: 'llama', choices: [{ index: 0, text: 'abc', finish_reason: 'length' }] },
    { usage: null, id: 'c', object: 'chat.completion.chunk', created: 1, model: 'llama', choices: [{ index: 0, delta: { content: 'usage first' } }] },
    { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'llama', choices: [{ index: 0, delta: { content: 'n' } }], vendor: { model: 'inner' } },
    { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'llama', service_tier: 'default', kv_transfer_params: { a: 1 }, choices: [{ index: 0, delta: { content: 'k' } }] },
    { id: 'c', object: 'chat.completion.chunk', created: 1, model: 'llama', choices: [], usage: { prompt_tokens: 2, completion_tokens: 3 } },
  ];

  it('produces exactly what the JSON round trip produces, and the same tallies', () => {
    for (const includeUsage of [true, false]) {
      const shaper = new StreamShaper({ model: 'llama', tierServed: 'priority', includeUsage });
      const text = shaper.shape(upstream.map((c) => JSON.stringify(c)));
      const events = text.trim().split('\n\n').map((e) => JSON.parse(e.slice(6)));
      const expected = upstream
        .filter((c) => includeUsage || c.choices.length > 0)
        .map((c) => {
          const out: Record<string, unknown> = { ...c, model: 'llama', service_tier: 'priority' };
          if (!includeUsage) delete out.usage;
          delete out.kv_transfer_params;
          return out;
        });
      expect(events).toEqual(expected);
      expect(shaper.generatedChunks).toBe(7);
      expect(shaper.usage).toEqual({ promptTokens: 2, completionTokens: 3 });
    }
  });

  it('rewrites a plain token chunk without parsing it', () => {
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const shaper = new StreamShaper({ model: 'llama', tierServed: 'priority', includeUsage: false });
      const text = shaper.shape([JSON.stringify(upstream[1]), JSON.stringify(upstream[4])]);
      expect(parse).not.toHaveBeenCalled();
      expect(text).toBe(
        `data: ${JSON.stringify({ ...upstream[1], usage: undefined, service_tier: 'priority' })}\n\ndata: ${JSON.stringify({ ...upstream[4], service_tier: 'priority' })}\n\n`,
      );
    } finally {
      parse.mockRestore();
    }
  });
});

describe('running usage (continuous_usage_stats)', () => {
  /** A vLLM chunk with running usage (vLLM's key order). */
  const running = (content: string, completion: number, finish: string | null = null) =>
    JSON.stringify({
      id: 'c',
      object: 'chat.completion.chunk',
      created: 1,
      model: 'llama',
      choices: [{ index: 0, delta: { content }, logprobs: null, finish_reason: finish }],
      usage: { prompt_tokens: 9, total_tokens: 9 + completion, completion_tokens: completion },
    });
  const final = JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'llama', choices: [], usage: { prompt_tokens: 9, total_tokens: 14, completion_tokens: 5 } });
  // A chunk may carry several tokens (vLLM's stream interval, speculative decoding): the counts, not the chunks, are what the engine used.
  const stream = [running('', 0), running('a', 1), running(' b c d', 4), running(' e', 5, 'length'), final, '[DONE]'];
  const events = (text: string) =>
    text
      .trim()
      .split('\n\n')
      .map((e) => e.slice(6))
      .filter((e) => e !== '[DONE]')
      .map((e) => JSON.parse(e) as Record<string, unknown>);

  it('keeps the latest running usage as the stream goes (what an abandoned stream is metered at), without parsing the chunks', () => {
    const parse = vi.spyOn(JSON, 'parse');
    try {
      const shaper = new StreamShaper({ model: 'llama', tierServed: 'priority', includeUsage: false });
      shaper.shape(stream.slice(0, 3));
      expect(parse).not.toHaveBeenCalled();
      expect(shaper.usage).toEqual({ promptTokens: 9, completionTokens: 4 });
      expect(shaper.generatedChunks).toBe(2);
    } finally {
      parse.mockRestore();
    }
  });

  it('hides it from a client that did not ask for usage: no usage field, no usage chunk', () => {
    const shaper = new StreamShaper({ model: 'llama', tierServed: 'priority', includeUsage: false });
    const text = shaper.shape(stream);
    expect(text).not.toContain('usage');
    const out = events(text);
    expect(out).toHaveLength(4);
    expect(out.map((e) => (e.choices as Array<{ delta: { content: string } }>)[0]!.delta.content).join('')).toBe('a b c d e');
    expect(shaper.usage).toEqual({ promptTokens: 9, completionTokens: 5 });
  });

  it('shows a client that asked for include_usage only usage:null on its chunks, the running figures on the finishing chunk, and the usage chunk', () => {
    const shaper = new StreamShaper({ model: 'llama', tierServed: 'priority', includeUsage: true });
    const out = events(shaper.shape(stream));
    expect(out.map((e) => e.usage)).toEqual([null, null, null, { prompt_tokens: 9, total_tokens: 14, completion_tokens: 5 }, { prompt_tokens: 9, total_tokens: 14, completion_tokens: 5 }]);
    for (const e of out) expect(e).toMatchObject({ model: 'llama', service_tier: 'priority' });
  });

  it('passes the running usage through to a client that asked for continuous_usage_stats', () => {
    const shaper = new StreamShaper({ model: 'llama', tierServed: 'priority', includeUsage: true, continuousUsage: true });
    const out = events(shaper.shape(stream));
    expect(out.map((e) => (e.usage as { completion_tokens: number }).completion_tokens)).toEqual([0, 1, 4, 5, 5]);
  });

  it('the slow path (a chunk that needs parsing) treats running usage the same way', () => {
    // `kv_transfer_params` sends a chunk through the JSON round trip.
    const slow = (completion: number) =>
      JSON.stringify({ id: 'c', object: 'chat.completion.chunk', model: 'other', kv_transfer_params: null, choices: [{ index: 0, delta: { content: 'x' }, finish_reason: null }], usage: { prompt_tokens: 3, completion_tokens: completion, prompt_tokens_details: { cached_tokens: 0 } } });
    for (const [options, expected] of [
      [{ includeUsage: false }, undefined],
      [{ includeUsage: true }, null],
      [{ includeUsage: true, continuousUsage: true }, { prompt_tokens: 3, completion_tokens: 2, prompt_tokens_details: { cached_tokens: 0 } }],
    ] as const) {
      const shaper = new StreamShaper({ model: 'llama', tierServed: 'flex', ...options });
      const out = events(shaper.shape([slow(1), slow(2)]));
      expect(out[1]!.usage).toEqual(expected);
      expect(shaper.usage).toEqual({ promptTokens: 3, completionTokens: 2 });
    }
  });
});
