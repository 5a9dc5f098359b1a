import { describe, expect, it } from 'vitest';
import type { GenerationBody } from '../../lambda/core/request-schema.ts';
import {
  applyCompletionLimit,
  COMPLETION_OVERHEAD_TOKENS,
  estimatePromptTokens,
  MEDIA_PART_TOKENS,
  MESSAGE_OVERHEAD_TOKENS,
  promptTokenBound,
  REQUEST_OVERHEAD_TOKENS,
  TOOL_CALL_OVERHEAD_TOKENS,
  TOOL_OVERHEAD_TOKENS,
  TOOLS_PREAMBLE_TOKENS,
  tokenBounds,
  utf8Bytes,
} from '../../lambda/core/token-estimate.ts';

const chat = (messages: unknown[], extra: Record<string, unknown> = {}): GenerationBody => ({ model: 'm', messages, ...extra });
const text = (prompt: unknown, extra: Record<string, unknown> = {}): GenerationBody => ({ model: 'm', prompt, ...extra });
/** The bound of one message whose strings are `bytes` bytes long. */
const oneMessage = (bytes: number): number => REQUEST_OVERHEAD_TOKENS + MESSAGE_OVERHEAD_TOKENS + bytes;

describe('utf8Bytes', () => {
  it('counts UTF-8 bytes: 1 for ASCII, 2 for accented Latin, 3 for CJK, 4 for an emoji, 3 for a lone surrogate (as U+FFFD)', () => {
    const cases: Array<[string, number]> = [['', 0], ['hello', 5], ['héllo', 6], ['日本語', 9], ['👋🏽 hi', 11], ['\uD800x', 4], ['ß€𝄞', 2 + 3 + 4]];
    for (const [s, bytes] of cases) expect(utf8Bytes(s)).toBe(bytes);
  });
});

describe('promptTokenBound (chat)', () => {
  it('counts every byte of the role and the text, plus the request and message overheads', () => {
    expect(promptTokenBound('chat', chat([{ role: 'user', content: 'hi' }]))).toBe(oneMessage(4 + 2));
    const two = chat([{ role: 'system', content: 'Be brief.' }, { role: 'user', content: 'hi', name: 'ann' }]);
    expect(promptTokenBound('chat', two)).toBe(REQUEST_OVERHEAD_TOKENS + 2 * MESSAGE_OVERHEAD_TOKENS + 6 + 9 + 4 + 2 + 3);
  });

  it('counts multi-byte text at its UTF-8 length, which the characters / 4 estimate undercounts many times over', () => {
    const cjk = '日本語のテキスト'.repeat(10); // 80 characters, 240 bytes
    const body = chat([{ role: 'user', content: cjk }]);
    expect(promptTokenBound('chat', body)).toBe(oneMessage(4 + 240));
    expect(estimatePromptTokens('chat', body)).toBe(20);
    const emoji = chat([{ role: 'user', content: '👋🏽'.repeat(5) }]); // 20 characters (UTF-16 units), 40 bytes
    expect(promptTokenBound('chat', emoji)).toBe(oneMessage(4 + 40));
  });

  it('counts text parts by their text, and each image or audio part at the media bound, not its URL bytes', () => {
    const url = `data:image/png;base64,${'A'.repeat(10_000)}`;
    const body = chat([
      {
        role: 'user',
        content: [
          { type: 'text', text: 'What is this?' },
          { type: 'image_url', image_url: { url } },
          { type: 'image_url', image_url: { url: 'https://example.com/cat.png', detail: 'high' } },
          { type: 'input_audio', input_audio: { data: 'AAAA', format: 'wav' } },
        ],
      },
    ]);
    // "user" + "text" (the part's type) + "What is this?" + three media parts.
    expect(promptTokenBound('chat', body)).toBe(oneMessage(4 + 4 + 13) + 3 * MEDIA_PART_TOKENS);
  });

  it('counts tool definitions as their schema printed with indent=4, plus the tool preamble and per-tool overhead', () => {
    const tools = [
      { type: 'function', function: { name: 'get_weather', description: 'Weather in a city', parameters: { type: 'object', properties: { city: { type: 'string' } }, required: ['city'] } } },
      { type: 'function', function: { name: 'get_time', parameters: { type: 'object', properties: {} } } },
    ];
    const base = promptTokenBound('chat', chat([{ role: 'user', content: 'hi' }]));
    const withTools = promptTokenBound('chat', chat([{ role: 'user', content: 'hi' }], { tools }));
    const indented = Buffer.byteLength(JSON.stringify(tools, null, 4));
    expect(withTools - base).toBe(TOOLS_PREAMBLE_TOKENS + 2 * TOOL_OVERHEAD_TOKENS + indented);
    // The indented form is longer than the compact one and than Python's ", " / ": " separators.
    expect(indented).toBeGreaterThan(JSON.stringify(tools).replaceAll(',', ', ').replaceAll(':', ': ').length);
  });

  it('counts tool calls (name, arguments as re-printed by a template) and tool results', () => {
    const args = '{"city":"Zürich","days":[1,2,3]}';
    const call = { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: args } };
    const body = chat([
      { role: 'user', content: 'Weather?' },
      { role: 'assistant', content: null, tool_calls: [call] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temp": 21}' },
    ]);
    const argsBound = Math.max(Buffer.byteLength(JSON.stringify(args)), Buffer.byteLength(JSON.stringify(JSON.parse(args), null, 4)));
    expect(argsBound).toBeGreaterThan(Buffer.byteLength(args));
    const expected =
      REQUEST_OVERHEAD_TOKENS +
      3 * MESSAGE_OVERHEAD_TOKENS +
      (4 + 8) + // user, "Weather?"
      (9 + TOOL_CALL_OVERHEAD_TOKENS + 6 + 8 + 11 + argsBound) + // assistant; id, type, name, arguments
      (4 + 6 + 12); // tool, tool_call_id, result
    expect(promptTokenBound('chat', body)).toBe(expected);
  });

  it('counts arguments sent as an object as their indented JSON', () => {
    const args = { city: 'Zürich', days: [1, 2] };
    const call = { id: 'c', type: 'function', function: { name: 'f', arguments: args } };
    const body = chat([{ role: 'assistant', tool_calls: [call] }]);
    expect(promptTokenBound('chat', body)).toBe(oneMessage(9 + TOOL_CALL_OVERHEAD_TOKENS + 1 + 8 + 1 + Buffer.byteLength(JSON.stringify(args, null, 4))));
  });

  it('counts arguments that are not JSON as the escaped string', () => {
    const call = { id: 'c', type: 'function', function: { name: 'f', arguments: 'not "json"' } };
    const body = chat([{ role: 'assistant', tool_calls: [call] }]);
    expect(promptTokenBound('chat', body)).toBe(oneMessage(9 + TOOL_CALL_OVERHEAD_TOKENS + 1 + 8 + 1 + Buffer.byteLength(JSON.stringify('not "json"'))));
  });

  it('counts SGLang input_ids one token per id, and documents and chat_template_kwargs strings as text', () => {
    const base = promptTokenBound('chat', chat([{ role: 'user', content: 'hi' }]));
    expect(promptTokenBound('chat', chat([{ role: 'user', content: 'hi' }], { input_ids: [1, 2, 3, 4] })) - base).toBe(4);
    const docs = chat([{ role: 'user', content: 'hi' }], { documents: [{ title: 'A', text: 'bcd' }], chat_template_kwargs: { enable_thinking: true } });
    expect(promptTokenBound('chat', docs) - base).toBe(1 + 3 + 4);
  });
});

describe('promptTokenBound (/v1/completions) and tokenBounds', () => {
  it('bounds a string prompt at a token a byte plus BOS/EOS, token ids at one each, batches summed', () => {
    expect(promptTokenBound('text', text('héllo'))).toBe(6 + COMPLETION_OVERHEAD_TOKENS);
    expect(promptTokenBound('text', text([101, 102, 103]))).toBe(3 + COMPLETION_OVERHEAD_TOKENS);
    expect(promptTokenBound('text', text(['ab', 'cde']))).toBe(5 + 2 * COMPLETION_OVERHEAD_TOKENS);
    expect(promptTokenBound('text', text([[1, 2], [3, 4, 5]]))).toBe(5 + 2 * COMPLETION_OVERHEAD_TOKENS);
    expect(promptTokenBound('text', text('def f(', { suffix: '  return 1' }))).toBe(6 + COMPLETION_OVERHEAD_TOKENS + 10);
  });

  it('multiplies the completion bound by the prompts of a batch (each prompt gets its completion)', () => {
    const single = tokenBounds('text', text('ab', { max_tokens: 10 }), 1024);
    expect(single).toEqual({ prompt: 2 + COMPLETION_OVERHEAD_TOKENS, completion: 10, total: 2 + COMPLETION_OVERHEAD_TOKENS + 10 });
    const batch = tokenBounds('text', text(['ab', 'cd', 'ef'], { max_tokens: 10 }), 1024);
    expect(batch.completion).toBe(30);
    expect(tokenBounds('text', text([[1], [2]]), 50).completion).toBe(100);
    // The prompt bound is promptTokenBound's, suffix included.
    const withSuffix = text(['def f(', 'g('], { suffix: '  return 1', max_tokens: 4 });
    expect(tokenBounds('text', withSuffix, 1024)).toEqual({ prompt: promptTokenBound('text', withSuffix), completion: 8, total: promptTokenBound('text', withSuffix) + 8 });
    expect(promptTokenBound('text', withSuffix)).toBe(8 + 2 * COMPLETION_OVERHEAD_TOKENS + 10);
  });

  it('reserves the completion limit: max_completion_tokens, else max_tokens, else the default', () => {
    const msgs = [{ role: 'user', content: 'hi' }];
    expect(tokenBounds('chat', chat(msgs, { max_completion_tokens: 7, max_tokens: 9 }), 1024).completion).toBe(7);
    expect(tokenBounds('chat', chat(msgs, { max_tokens: 9 }), 1024).completion).toBe(9);
    expect(tokenBounds('chat', chat(msgs), 1024)).toEqual({ prompt: oneMessage(6), completion: 1024, total: oneMessage(6) + 1024 });
  });
});

describe('applyCompletionLimit', () => {
  it('sends the reserved default when the client gave no limit: max_completion_tokens for chat, max_tokens for completions', () => {
    const c = applyCompletionLimit('chat', chat([{ role: 'user', content: 'hi' }]), 64);
    expect(c.max_completion_tokens).toBe(64);
    expect(c.max_tokens).toBeUndefined();
    const t = applyCompletionLimit('text', text('hi'), 64);
    expect(t.max_tokens).toBe(64);
    expect(t.max_completion_tokens).toBeUndefined();
  });

  it('leaves a client limit alone (a null limit counts as none)', () => {
    expect(applyCompletionLimit('chat', chat([], { max_tokens: 5 }), 64)).toEqual(chat([], { max_tokens: 5 }));
    expect(applyCompletionLimit('chat', chat([], { max_completion_tokens: 5 }), 64)).toEqual(chat([], { max_completion_tokens: 5 }));
    expect(applyCompletionLimit('chat', chat([], { max_tokens: null }), 64).max_completion_tokens).toBe(64);
  });
});
