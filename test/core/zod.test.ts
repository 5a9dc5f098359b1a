import { describe, expect, it } from 'vitest';
import * as z from 'zod/mini';
import * as core from 'zod/v4/core';
import { compiledLooseObject } from '../../lambda/core/zod.ts';

const shape = () => ({
  model: z.string().check(z.minLength(1)),
  stream: z.optional(z.boolean()),
  max_tokens: z.nullish(z.int().check(z.positive())),
  messages: z.array(z.looseObject({ role: z.string() })).check(z.minLength(1)),
});

describe('compiledLooseObject', () => {
  const compiled = compiledLooseObject(shape());
  const walked = z.looseObject(shape());

  it('is parsed by zod core\'s compiling object parser', () => {
    expect(compiled._zod.traits.has('$ZodObjectJIT')).toBe(true);
    expect(walked._zod.traits.has('$ZodObjectJIT')).toBe(false);
    expect(compiled instanceof core.$ZodObject).toBe(true);
    expect(Object.keys(compiled.shape)).toEqual(Object.keys(walked.shape));
  });

  const outcome = (r: { success: boolean; data?: unknown; error?: { issues: unknown[] } }) => ({ success: r.success, data: r.data, issues: r.error?.issues });
  it.each([
    ['a valid body, unknown keys kept', { model: 'm', messages: [{ role: 'user', extra: 1 }], tools: [{ type: 'function' }], seed: 7 }],
    ['optional fields given', { model: 'm', stream: true, max_tokens: 8, messages: [{ role: 'user' }] }],
    ['an empty model and no messages', { model: '', messages: [] }],
    ['wrong types', { model: 3, stream: 'yes', max_tokens: -1, messages: [{ role: 1 }] }],
    ['a missing field', { messages: [{ role: 'user' }] }],
    ['not an object', ['model']],
  ])('answers exactly as z.looseObject for %s', (_name, input) => {
    const a = outcome(compiled.safeParse(input));
    expect(a).toEqual(outcome(walked.safeParse(input)));
    expect(a.success ? a.data : a.issues).toBeDefined();
  });
});
