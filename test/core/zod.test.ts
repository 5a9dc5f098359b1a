import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import * as core from 'zod/v4/core';
import { chatCompletionSchema, completionSchema } from '../../lambda/core/request-schema.ts';
import { compiledLooseObject } from '../../lambda/core/zod.ts';

const shape = () => ({
  model: z.string().check(z.minLength(1)),
  stream: z.optional(z.boolean()),
  max_tokens: z.nullish(z.int().check(z.positive())),
  messages: z.array(z.looseObject({ role: z.string() })).check(z.minLength(1)),
});

type Result = { success: boolean; data?: unknown; error?: { issues: unknown[] } };
const outcome = (r: Result) => ({ success: r.success, data: r.data, issues: r.error?.issues });
/** zod's walk over the shape, on the same schema: what the compiled parser falls back to without `new Function`. */
const WALK = { jitless: true } as const;

describe('compiledLooseObject', () => {
  const compiled = compiledLooseObject(shape());
  const walked = z.looseObject(shape());

  it('is a zod/mini object parsed by zod core\'s compiling object parser', () => {
    expect(compiled._zod.traits.has('$ZodObjectJIT')).toBe(true);
    expect(walked._zod.traits.has('$ZodObjectJIT')).toBe(false);
    expect(compiled instanceof z.ZodMiniObject).toBe(true);
    expect(compiled instanceof core.$ZodObject).toBe(true);
    expect(Object.keys(compiled.shape)).toEqual(Object.keys(walked.shape));
  });

  it.each([
    ['a valid body, unknown keys kept', true, { model: 'm', messages: [{ role: 'user', extra: 1 }], tools: [{ type: 'function' }], seed: 7 }],
    ['optional fields given', true, { model: 'm', stream: true, max_tokens: 8, messages: [{ role: 'user' }] }],
    ['an empty model and no messages', false, { model: '', messages: [] }],
    ['wrong types', false, { model: 3, stream: 'yes', max_tokens: -1, messages: [{ role: 1 }] }],
    ['a missing field', false, { messages: [{ role: 'user' }] }],
    ['not an object', false, ['model']],
  ])('answers exactly as z.looseObject, compiled or walked, for %s', (_name, valid, input) => {
    const expected = outcome(walked.safeParse(input));
    expect(expected.success).toBe(valid);
    expect(outcome(compiled.safeParse(input))).toEqual(expected);
    expect(outcome(compiled.safeParse(input, WALK))).toEqual(expected);
  });
});

describe('the request schemas, compiled', () => {
  it.each([
    ['a chat body with tools and extensions', chatCompletionSchema, true, { model: 'm', messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }], tools: [], service_tier: 'fast', stream: true, stream_options: { include_usage: true, x: 1 } }],
    ['an unknown service tier', chatCompletionSchema, false, { model: 'm', messages: [{ role: 'user', content: 'hi' }], service_tier: 'turbo' }],
    ['kv_transfer_params from a client', chatCompletionSchema, false, { model: 'm', messages: [{ role: 'user', content: 'hi' }], kv_transfer_params: {} }],
    ['a message without a role', chatCompletionSchema, false, { model: 'm', messages: [{ content: 'hi' }] }],
    ['a text completion with a prompt list', completionSchema, true, { model: 'm', prompt: ['a', 'b'], max_tokens: 4 }],
    ['a text completion with n=2', completionSchema, false, { model: 'm', prompt: 'a', n: 2 }],
  ])('answer as zod\'s walk does for %s', (_name, schema, valid, input) => {
    const walkedResult = outcome(schema.safeParse(input, WALK));
    expect(walkedResult.success).toBe(valid);
    expect(outcome(schema.safeParse(input))).toEqual(walkedResult);
  });
});
