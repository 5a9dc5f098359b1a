import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../lambda/core/errors.ts';
import { MAX_JSON_DEPTH } from '../../lambda/core/json-depth.ts';
import { chatCompletionSchema, completionSchema, parseGenerationBody } from '../../lambda/core/request-schema.ts';

const bad = (kind: 'chat' | 'text', raw: string): InvalidRequestError => {
  try {
    parseGenerationBody(kind, raw);
  } catch (err) {
    if (err instanceof InvalidRequestError) return err;
    throw err;
  }
  throw new Error('expected a validation error');
};

describe('request validation', () => {
  it('accepts a chat body and keeps unknown fields', () => {
    const body = parseGenerationBody('chat', JSON.stringify({ model: 'm', messages: [{ role: 'user', content: 'x' }], tools: [1], x_vendor: { a: 1 } }));
    expect(body.tools).toEqual([1]);
    expect(body.x_vendor).toEqual({ a: 1 });
  });

  it('names the offending param', () => {
    expect(bad('chat', '{"messages":[{"role":"user","content":"x"}]}').param).toBe('model');
    expect(bad('chat', '{"model":"m","messages":"hi"}').param).toBe('messages');
    expect(bad('chat', '{"model":"m","messages":[{"content":"x"}]}').param).toBe('messages.0.role');
    expect(bad('chat', '{"model":"m","messages":[{"role":"user","content":"x"}],"stream":"yes"}').param).toBe('stream');
    expect(bad('chat', '{"model":"m","messages":[{"role":"user","content":"x"}],"max_tokens":0}').param).toBe('max_tokens');
    expect(bad('chat', '{"model":"m","messages":[{"role":"user","content":"x"}],"n":3}').param).toBe('n');
    expect(bad('text', '{"model":"m"}').param).toBe('prompt');
  });

  it('rejects an unknown service_tier with a message listing the accepted values', () => {
    const err = bad('chat', '{"model":"m","messages":[{"role":"user","content":"x"}],"service_tier":"gold"}');
    expect(err.param).toBe('service_tier');
    expect(err.statusCode).toBe(400);
    expect(err.message).toContain('priority');
  });

  it('refuses client-supplied kv_transfer_params (the gateway owns the hand-off)', () => {
    expect(bad('chat', '{"model":"m","messages":[{"role":"user","content":"x"}],"kv_transfer_params":{}}').param).toBe('kv_transfer_params');
  });

  it('rejects non-JSON and non-object bodies without a param', () => {
    expect(bad('chat', '{oops').param).toBeNull();
    expect(bad('chat', '[1,2]').message).toContain('JSON object');
  });
});

describe('nesting depth', () => {
  const deep = (n: number) => '['.repeat(n) + ']'.repeat(n);
  const chat = (extra: string) => `{"model":"m","messages":[{"role":"user","content":[{"type":"text","text":"x"${extra}}]}]}`;

  it.each([
    ['an unknown field', `{"model":"m","messages":[{"role":"user","content":"x"}],"x":${deep(100_000)}}`],
    ['tools', `{"model":"m","messages":[{"role":"user","content":"x"}],"tools":${deep(100_000)}}`],
    ['a content part', `{"model":"m","messages":[{"role":"user","content":[${deep(100_000)}]}]}`],
    ["a content part's extra key", chat(`,"extra":${deep(5_000)}`)],
    ['an unterminated body', `{"model":"m","x":${'['.repeat(100_000)}`],
  ])('refuses 100,000 / 5,000 levels in %s with a 400 naming the limit', (_, raw) => {
    const err = bad('chat', raw);
    expect(err.statusCode).toBe(400);
    expect(err.toJSON().error).toEqual({ message: expect.stringContaining(String(MAX_JSON_DEPTH)), type: 'invalid_request_error', param: null, code: null });
    expect(err.message).toMatch(/nested too deeply/);
  });

  it('accepts a body exactly at the limit', () => {
    // The root object, `messages`, the message, `content`, the part: 5 levels before "extra".
    expect(parseGenerationBody('chat', chat(`,"extra":${deep(MAX_JSON_DEPTH - 5)}`)).messages).toHaveLength(1);
    expect(bad('chat', chat(`,"extra":${deep(MAX_JSON_DEPTH - 4)}`)).message).toMatch(/nested too deeply/);
  });
});

describe('the request schemas', () => {
  it.each([
    ['a chat body with tools and extensions', chatCompletionSchema, true, { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools: [], service_tier: 'fast', stream: true, stream_options: { include_usage: true, x: 1 } }],
    ['an unknown service tier', chatCompletionSchema, false, { model: 'm', messages: [{ role: 'user', content: 'hi' }], service_tier: 'turbo' }],
    ['kv_transfer_params from a client', chatCompletionSchema, false, { model: 'm', messages: [{ role: 'user', content: 'hi' }], kv_transfer_params: {} }],
    ['a message without a role', chatCompletionSchema, false, { model: 'm', messages: [{ content: 'hi' }] }],
    ['a text completion with a prompt list', completionSchema, true, { model: 'm', prompt: ['a', 'b'], max_tokens: 4 }],
    ['a text completion with n=2', completionSchema, false, { model: 'm', prompt: 'a', n: 2 }],
  ])('validates %s', (_name, schema, valid, input) => {
    const result = schema.safeParse(input);
    expect(result.success).toBe(valid);
    if (valid) expect(result.data).toEqual(input);
  });
});
