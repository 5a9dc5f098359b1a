/**
 * The Bedrock mapping as pure functions over plain data: OpenAI messages and tools → Converse,
 * tier → serviceTier/performanceConfig, Converse answers and stream events → OpenAI objects,
 * Bedrock errors → gateway errors.
 */
import { describe, expect, it } from 'vitest';
import { bedrockError } from '../../lambda/backends/bedrock-errors.ts';
import { bedrockModelId, tierFields, toConverseInput, toConverseMessages, toToolConfig } from '../../lambda/backends/bedrock-messages.ts';
import { completionIdentity, finishReason, toOpenAICompletion } from '../../lambda/backends/bedrock-response.ts';
import { ConverseChunker } from '../../lambda/backends/bedrock-stream.ts';
import { InvalidRequestError, UpstreamError } from '../../lambda/core/errors.ts';

const tools = [{ type: 'function', function: { name: 'f', parameters: { type: 'object', properties: {} } } }];

describe('OpenAI → Converse', () => {
  it('system and developer messages become system blocks; consecutive turns of one role merge', () => {
    const { system, messages } = toConverseMessages([
      { role: 'system', content: 'S1' },
      { role: 'developer', content: [{ type: 'text', text: 'S2' }] },
      { role: 'user', content: 'a' },
      { role: 'user', content: [{ type: 'text', text: 'b' }, { type: 'text', text: '' }] },
      { role: 'assistant', content: 'c' },
    ]);
    expect(system).toEqual([{ text: 'S1' }, { text: 'S2' }]);
    expect(messages).toEqual([
      { role: 'user', content: [{ text: 'a' }, { text: 'b' }] },
      { role: 'assistant', content: [{ text: 'c' }] },
    ]);
  });

  it('several tool results answering one turn go in one user message', () => {
    const { messages } = toConverseMessages([
      { role: 'user', content: 'q' },
      { role: 'assistant', content: null, tool_calls: [
        { id: 't1', type: 'function', function: { name: 'f', arguments: '{"x":1}' } },
        { id: 't2', type: 'function', function: { name: 'f', arguments: '' } },
      ] },
      { role: 'tool', tool_call_id: 't1', content: 'r1' },
      { role: 'tool', tool_call_id: 't2', content: [{ type: 'text', text: 'r2' }] },
    ]);
    expect(messages[1]).toEqual({ role: 'assistant', content: [
      { toolUse: { toolUseId: 't1', name: 'f', input: { x: 1 } } },
      { toolUse: { toolUseId: 't2', name: 'f', input: {} } },
    ] });
    expect(messages[2]).toEqual({ role: 'user', content: [
      { toolResult: { toolUseId: 't1', content: [{ text: 'r1' }] } },
      { toolResult: { toolUseId: 't2', content: [{ text: 'r2' }] } },
    ] });
  });

  it.each([
    [[{ role: 'user', content: [{ type: 'image_url', image_url: { url: 'x' } }] }], 'messages.0.content.0'],
    [[{ role: 'function', content: 'x', name: 'f' }], 'messages.0.role'],
    [[{ role: 'tool', content: 'x' }], 'messages.0.tool_call_id'],
    [[{ role: 'user', content: 'q' }, { role: 'assistant', tool_calls: [{ id: 't', function: { name: 'f', arguments: '{' } }] }], 'messages.1.tool_calls.0.function.arguments'],
    [[{ role: 'system', content: 'only a system prompt' }], 'messages'],
  ])('rejects what Converse cannot carry with a 400 naming the field (%#)', (input, param) => {
    const err = (() => {
      try {
        toConverseMessages(input);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).param).toBe(param);
  });

  it('tool_choice: auto, required, a named function; none drops the tools unless the history has tool blocks', () => {
    expect(toToolConfig(tools, 'auto', [])?.toolChoice).toEqual({ auto: {} });
    expect(toToolConfig(tools, 'required', [])?.toolChoice).toEqual({ any: {} });
    expect(toToolConfig(tools, { type: 'function', function: { name: 'f' } }, [])?.toolChoice).toEqual({ tool: { name: 'f' } });
    expect(toToolConfig(tools, undefined, [])).toEqual({ tools: [{ toolSpec: { name: 'f', inputSchema: { json: tools[0]!.function.parameters } } }] });
    expect(toToolConfig(tools, 'none', [])).toBeUndefined();
    const history = [{ role: 'assistant' as const, content: [{ toolUse: { toolUseId: 't', name: 'f', input: {} } }] }];
    expect(toToolConfig(tools, 'none', history)).toEqual({ tools: expect.any(Array) });
    expect(toToolConfig(undefined, 'auto', [])).toBeUndefined();
    expect(() => toToolConfig(tools, 'sometimes', [])).toThrow(InvalidRequestError);
    expect(() => toToolConfig([{ type: 'code_interpreter' }], undefined, [])).toThrow(/function tools/);
  });

  it('a tool without parameters gets an empty object schema', () => {
    expect(toToolConfig([{ type: 'function', function: { name: 'g' } }], undefined, [])?.tools?.[0]).toEqual({
      toolSpec: { name: 'g', inputSchema: { json: { type: 'object', properties: {} } } },
    });
  });

  it('inferenceConfig: max_completion_tokens wins over max_tokens; stop arrays pass; nothing unset is sent', () => {
    const body = { model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 5, max_completion_tokens: 9, stop: ['a', 'b'], temperature: 0 };
    expect(toConverseInput(body, { api: 'chat' }).inferenceConfig).toEqual({ maxTokens: 9, temperature: 0, stopSequences: ['a', 'b'] });
    expect(toConverseInput({ model: 'm', messages: [{ role: 'user', content: 'x' }] }, { api: 'chat' })).toEqual({
      modelId: 'm',
      messages: [{ role: 'user', content: [{ text: 'x' }] }],
    });
    expect(() => toConverseInput({ ...body, stop: [1] }, { api: 'chat' })).toThrow(InvalidRequestError);
  });

  it('model IDs: modelIds, then upstreamModels, then the public name', () => {
    expect(bedrockModelId('m', { modelIds: { m: 'a.b-v1:0' }, upstreamModels: { m: 'x' } })).toBe('a.b-v1:0');
    expect(bedrockModelId('m', { upstreamModels: { m: 'us.a.b-v1:0' } })).toBe('us.a.b-v1:0');
    expect(bedrockModelId('m', undefined)).toBe('m');
  });

  it('tier: the served tier\'s name, or the tier\'s override, and performanceConfig only when latency is set', () => {
    expect(tierFields('priority', undefined)).toEqual({ serviceTier: { type: 'priority' } });
    expect(tierFields('default', { bedrock: {} })).toEqual({ serviceTier: { type: 'default' } });
    expect(tierFields('priority', { bedrock: { serviceTier: 'reserved', latency: 'optimized' } })).toEqual({
      serviceTier: { type: 'reserved' },
      performanceConfig: { latency: 'optimized' },
    });
    expect(tierFields(undefined, undefined)).toEqual({});
  });
});

describe('Converse → OpenAI', () => {
  const identity = completionIdentity('chat', 'req_x', 'm', 1_700_000_000_000);

  it('stop reasons map to finish_reason', () => {
    expect(['end_turn', 'stop_sequence', 'max_tokens', 'model_context_window_exceeded', 'tool_use', 'guardrail_intervened', 'content_filtered', 'new_reason'].map(finishReason)).toEqual([
      'stop', 'stop', 'length', 'length', 'tool_calls', 'content_filter', 'content_filter', 'stop',
    ]);
  });

  it('an answer with text and tool uses', () => {
    const out = toOpenAICompletion(
      { output: { message: { content: [{ text: 'ok' }, { toolUse: { toolUseId: 't', name: 'f', input: { a: 1 } } }] } }, stopReason: 'tool_use', usage: { inputTokens: 2, outputTokens: 3, totalTokens: 5 } },
      'chat',
      identity,
    );
    expect(out).toEqual({
      id: 'chatcmpl-req_x',
      created: 1_700_000_000,
      model: 'm',
      object: 'chat.completion',
      choices: [{ index: 0, logprobs: null, finish_reason: 'tool_calls', message: { role: 'assistant', content: 'ok', tool_calls: [{ id: 't', type: 'function', function: { name: 'f', arguments: '{"a":1}' } }] } }],
      usage: { prompt_tokens: 2, completion_tokens: 3, total_tokens: 5 },
    });
  });

  it('stream events: text after a tool block keeps tool indexes per tool, exception members throw mapped errors', () => {
    const chunker = new ConverseChunker({ api: 'chat', identity, pool: 'bedrock' });
    const payloads = [
      { contentBlockStart: { contentBlockIndex: 0, start: { toolUse: { toolUseId: 'a', name: 'f' } } } },
      { contentBlockDelta: { contentBlockIndex: 0, delta: { toolUse: { input: '{}' } } } },
      { contentBlockStart: { contentBlockIndex: 1, start: { toolUse: { toolUseId: 'b', name: 'g' } } } },
      { contentBlockDelta: { contentBlockIndex: 1, delta: { toolUse: { input: '{"x":2}' } } } },
      { contentBlockDelta: { contentBlockIndex: 2, delta: { reasoningContent: { text: 'hidden' } } } },
      { messageStop: { stopReason: 'tool_use' } },
    ].flatMap((e) => chunker.event(e as never)).map((p) => JSON.parse(p) as { choices: Array<{ delta: { tool_calls?: Array<{ index: number }> }; finish_reason: string | null }> });
    expect(payloads.map((p) => p.choices[0]!.delta.tool_calls?.[0]?.index)).toEqual([0, 0, 1, 1, undefined]);
    expect(payloads.at(-1)!.choices[0]!.finish_reason).toBe('tool_calls');
    expect(chunker.stopped).toBe(true);
    expect(() => chunker.event({ throttlingException: { message: 'slow' } } as never)).toThrow(UpstreamError);
    expect(() => chunker.event({ validationException: { message: 'bad' } } as never)).toThrow(InvalidRequestError);
  });
});

describe('Bedrock errors', () => {
  const named = (name: string, extra: Record<string, unknown> = {}) => Object.assign(new Error(`${name} says no`), { name, ...extra });

  it.each([
    ['ThrottlingException', 429, true],
    ['throttlingException', 429, true],
    ['ServiceQuotaExceededException', 429, true],
    ['ModelNotReadyException', 429, true],
    ['ModelTimeoutException', 504, true],
    ['ServiceUnavailableException', 503, true],
    ['InternalServerException', 502, true],
    ['ModelStreamErrorException', 502, true],
    ['ModelErrorException', 502, false],
    ['AccessDeniedException', 502, false],
    ['ResourceNotFoundException', 502, false],
    ['CredentialsProviderError', 502, false],
    ['TimeoutError', 504, true],
  ])('%s → %i (retryable %s)', (name, status, retryable) => {
    const err = bedrockError(named(name), 'bedrock');
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).statusCode).toBe(status);
    expect((err as UpstreamError).retryable).toBe(retryable);
    expect((err as UpstreamError).pool).toBe('bedrock');
  });

  it('validation is the client\'s 400; an unmodelled 4xx is a misconfigured pool; an abort rethrows its reason', () => {
    expect(bedrockError(named('ValidationException'), 'bedrock')).toBeInstanceOf(InvalidRequestError);
    expect(bedrockError(named('UnrecognizedClientException', { $metadata: { httpStatusCode: 403 } }), 'bedrock')).toMatchObject({ statusCode: 502, retryable: false });
    expect(bedrockError(named('Weird', { $metadata: { httpStatusCode: 500 } }), 'bedrock')).toMatchObject({ statusCode: 502, retryable: true });
    const controller = new AbortController();
    const reason = new Error('client went away');
    controller.abort(reason);
    expect(bedrockError(named('AbortError'), 'bedrock', controller.signal)).toBe(reason);
  });
});
