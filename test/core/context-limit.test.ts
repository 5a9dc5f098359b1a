/** The per-model size bound: completion limit against the context, prompt bound against maxPromptBytes. */
import { describe, expect, it } from 'vitest';
import { BYTES_PER_CONTEXT_TOKEN, checkContextLimit } from '../../lambda/core/context-limit.ts';
import { InvalidRequestError } from '../../lambda/core/errors.ts';

const bounds = (prompt: number, completion: number) => ({ prompt, completion, total: prompt + completion });

describe('checkContextLimit', () => {
  it('lets a request within both bounds through', () => {
    expect(() => checkContextLimit('m', { contextTokens: 8192 }, bounds(8192 * BYTES_PER_CONTEXT_TOKEN, 8192))).not.toThrow();
  });

  it('refuses a completion limit above the context, naming max_tokens', () => {
    const err = (() => {
      try {
        checkContextLimit('m', { contextTokens: 8192 }, bounds(10, 8193));
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).toJSON().error).toMatchObject({ param: 'max_tokens', code: 'context_length_exceeded' });
    expect((err as Error).message).toContain('maximum context length is 8192 tokens');
  });

  it('refuses a prompt over 8 bytes a context token by default, or over maxPromptBytes when set', () => {
    expect(() => checkContextLimit('m', { contextTokens: 100 }, bounds(801, 1))).toThrow(/over the 800 accepted for a context of 100 tokens/);
    expect(() => checkContextLimit('m', { contextTokens: 100, maxPromptBytes: 2000 }, bounds(1500, 1))).not.toThrow();
    expect(() => checkContextLimit('m', { contextTokens: 100, maxPromptBytes: 2000 }, bounds(2001, 1))).toThrow(InvalidRequestError);
  });
});
