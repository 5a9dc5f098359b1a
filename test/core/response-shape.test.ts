import { describe, expect, it } from 'vitest';
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
