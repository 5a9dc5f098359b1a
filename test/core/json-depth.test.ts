import { describe, expect, it } from 'vitest';
import { MAX_JSON_DEPTH, jsonDepthExceeds } from '../../lambda/core/json-depth.ts';

const nested = (depth: number, open = '[', close = ']') => open.repeat(depth) + close.repeat(depth);

describe('jsonDepthExceeds', () => {
  it('counts arrays and objects alike, and is exact at the limit', () => {
    expect(jsonDepthExceeds('{"a":[[1]]}', 3)).toBe(false);
    expect(jsonDepthExceeds('{"a":[[[1]]]}', 3)).toBe(true);
    expect(jsonDepthExceeds(nested(MAX_JSON_DEPTH), MAX_JSON_DEPTH)).toBe(false);
    expect(jsonDepthExceeds(nested(MAX_JSON_DEPTH + 1), MAX_JSON_DEPTH)).toBe(true);
    expect(jsonDepthExceeds('{"a":'.repeat(MAX_JSON_DEPTH + 1) + '1' + '}'.repeat(MAX_JSON_DEPTH + 1))).toBe(true);
  });

  it('measures depth, not the number of brackets: siblings do not add up', () => {
    const wide = `[${Array.from({ length: 10_000 }, () => '[[1]]').join(',')}]`;
    expect(jsonDepthExceeds(wide, 3)).toBe(false);
    expect(jsonDepthExceeds(wide, 2)).toBe(true);
  });

  it('ignores brackets inside strings, escaped quotes included', () => {
    expect(jsonDepthExceeds(JSON.stringify({ text: nested(10_000) }), 2)).toBe(false);
    expect(jsonDepthExceeds(JSON.stringify({ text: `say \\"${'['.repeat(500)}\\" and "${'{'.repeat(500)}"` }), 1)).toBe(false);
    // A string ending in an escaped backslash closes at the next quote.
    expect(jsonDepthExceeds(`{"a":"x\\\\","b":[[[1]]]}`, 3)).toBe(true);
    expect(jsonDepthExceeds(`{"a":"x\\\\","b":[[1]]}`, 3)).toBe(false);
  });

  it('agrees with a recursive depth count on real bodies', () => {
    const depthOf = (v: unknown): number =>
      v !== null && typeof v === 'object' ? 1 + Math.max(0, ...Object.values(v as object).map(depthOf)) : 0;
    const body = {
      model: 'm',
      messages: [{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'data:,"]]]' } }] }],
      tools: [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: { a: { type: 'array', items: { type: 'object', properties: { b: { type: 'string' } } } } } } } }],
    };
    const text = JSON.stringify(body);
    const depth = depthOf(body);
    expect(depth).toBe(10);
    expect(jsonDepthExceeds(text, depth)).toBe(false);
    expect(jsonDepthExceeds(text, depth - 1)).toBe(true);
  });

  it('stops at an unterminated string (JSON.parse refuses the text afterwards)', () => {
    expect(jsonDepthExceeds('[[["abc', 2)).toBe(true);
    expect(jsonDepthExceeds('["abc[[[[[', 2)).toBe(false);
  });
});
