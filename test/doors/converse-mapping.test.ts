/**
 * The Converse door's pure mappings: Converse bodies → the chat body of the plan, chat answers →
 * Converse responses, relayed SSE → event-stream frames (decoded here with the same codec the SDK
 * uses), and gateway errors → Bedrock exceptions.
 */
import { EventStreamCodec } from '@smithy/eventstream-codec';
import { describe, expect, it } from 'vitest';
import { InsufficientQuotaError, InvalidRequestError, RateLimitError, RequestTimeoutError, RequestTooLargeError, UpstreamError } from '../../lambda/core/errors.ts';
import { converseErrorResponse, converseException, streamException } from '../../lambda/doors/converse-errors.ts';
import { askedServiceTier, parseConverseBody, toChatBody } from '../../lambda/doors/converse-request.ts';
import { toConverseResponse } from '../../lambda/doors/converse-response.ts';
import { ConverseEventWriter } from '../../lambda/doors/converse-stream.ts';

const codec = new EventStreamCodec(
  (b) => new TextDecoder().decode(b),
  (t) => new TextEncoder().encode(t),
);

/** Splits event-stream bytes into messages: [headers by name, JSON payload]. */
function decode(bytes: Uint8Array): Array<{ type: string; kind: string; body: Record<string, unknown> }> {
  const out: Array<{ type: string; kind: string; body: Record<string, unknown> }> = [];
  let at = 0;
  while (at < bytes.length) {
    const length = new DataView(bytes.buffer, bytes.byteOffset + at, 4).getUint32(0);
    const message = codec.decode(bytes.subarray(at, at + length));
    const h = message.headers;
    out.push({
      kind: String(h[':message-type']!.value),
      type: String((h[':event-type'] ?? h[':exception-type'])!.value),
      body: JSON.parse(new TextDecoder().decode(message.body)) as Record<string, unknown>,
    });
    at += length;
  }
  return out;
}

const sse = (...chunks: unknown[]) => chunks.map((c) => `data: ${typeof c === 'string' ? c : JSON.stringify(c)}\n\n`).join('');

describe('Converse request → chat body', () => {
  it('maps system, inference settings, images, tool uses and results, tools and the tool choice', () => {
    const body = parseConverseBody(
      JSON.stringify({
        system: [{ text: 'Be brief.' }, { text: 'Be kind.' }],
        messages: [
          { role: 'user', content: [{ text: 'What is this?' }, { image: { format: 'png', source: { bytes: 'iVBORw0KGgo=' } } }] },
          { role: 'assistant', content: [{ text: 'Checking.' }, { toolUse: { toolUseId: 't1', name: 'look', input: { q: 1 } } }] },
          { role: 'user', content: [{ toolResult: { toolUseId: 't1', content: [{ text: 'a ' }, { json: { b: 2 } }] } }, { text: 'and?' }] },
        ],
        inferenceConfig: { maxTokens: 9, temperature: 0.5, topP: 0.8, stopSequences: ['END'] },
        toolConfig: { tools: [{ toolSpec: { name: 'look', inputSchema: { json: { type: 'object' } } } }], toolChoice: { any: {} } },
        additionalModelRequestFields: { top_k: 5, model: 'other', stream: true },
      }),
    );
    expect(toChatBody('m', body, false)).toEqual({
      top_k: 5,
      model: 'm',
      messages: [
        { role: 'system', content: 'Be brief.\nBe kind.' },
        { role: 'user', content: [{ type: 'text', text: 'What is this?' }, { type: 'image_url', image_url: { url: 'data:image/png;base64,iVBORw0KGgo=' } }] },
        { role: 'assistant', content: 'Checking.', tool_calls: [{ id: 't1', type: 'function', function: { name: 'look', arguments: '{"q":1}' } }] },
        { role: 'tool', tool_call_id: 't1', content: 'a {"b":2}' },
        { role: 'user', content: 'and?' },
      ],
      max_tokens: 9,
      temperature: 0.5,
      top_p: 0.8,
      stop: ['END'],
      tools: [{ type: 'function', function: { name: 'look', parameters: { type: 'object' } } }],
      tool_choice: 'required',
    });
  });

  it('a stream asks for its usage; serviceTier wins over the latency setting, which alone asks for priority', () => {
    const body = parseConverseBody('{"messages":[{"role":"user","content":[{"text":"hi"}]}],"performanceConfig":{"latency":"optimized"}}');
    expect(toChatBody('m', body, true)).toMatchObject({ stream: true, stream_options: { include_usage: true }, service_tier: 'priority' });
    expect(askedServiceTier({ serviceTier: { type: 'flex' }, performanceConfig: { latency: 'optimized' } })).toBe('flex');
    expect(askedServiceTier({})).toBeUndefined();
    expect(() => askedServiceTier({ serviceTier: { type: 'reserved' } })).toThrow(InvalidRequestError);
  });

  it('refuses bad bodies naming the Converse field', () => {
    expect(() => parseConverseBody('{')).toThrow(/not valid JSON/);
    expect(() => parseConverseBody('{"messages":[]}')).toThrow(/'messages'/);
    expect(() => parseConverseBody('{"messages":[{"role":"system","content":[{"text":"x"}]}]}')).toThrow(/'messages.0.role'/);
    expect(() => parseConverseBody('{"messages":[{"role":"user","content":[{"text":"x"}]}],"serviceTier":{"type":"gold"}}')).toThrow(/priority, default, flex, reserved/);
    const doc = parseConverseBody('{"messages":[{"role":"user","content":[{"document":{"name":"d"}}]}]}');
    expect(() => toChatBody('m', doc, false)).toThrow(/'document' at 'messages.0.content.0'/);
  });
});

describe('chat answer → Converse response', () => {
  it('maps content, tool calls, stop reasons, usage and the tier served', () => {
    const completion = {
      choices: [{ message: { content: 'Hi', tool_calls: [{ id: 'c1', function: { name: 'f', arguments: '{"a":1}' } }, { id: 'c2', function: { name: 'g', arguments: 'not json' } }] }, finish_reason: 'tool_calls' }],
      usage: { prompt_tokens: 3, completion_tokens: 2 },
      service_tier: 'default',
    };
    expect(toConverseResponse(completion, 12, true)).toEqual({
      output: { message: { role: 'assistant', content: [{ text: 'Hi' }, { toolUse: { toolUseId: 'c1', name: 'f', input: { a: 1 } } }, { toolUse: { toolUseId: 'c2', name: 'g', input: { _raw: 'not json' } } }] } },
      stopReason: 'tool_use',
      usage: { inputTokens: 3, outputTokens: 2, totalTokens: 5 },
      metrics: { latencyMs: 12 },
      serviceTier: { type: 'default' },
      performanceConfig: { latency: 'standard' },
    });
    expect(toConverseResponse({ choices: [{ message: { content: 'x' }, finish_reason: 'stop', stop_reason: 'END' }] }, 1, false).stopReason).toBe('stop_sequence');
    expect(toConverseResponse({ choices: [{ message: { content: 'x' }, finish_reason: 'length' }] }, 1, false).stopReason).toBe('max_tokens');
  });
});

describe('relayed SSE → ConverseStream events', () => {
  it('opens a block per text run and per tool call, closes them in order, ends with messageStop and metadata', () => {
    const writer = new ConverseEventWriter({ startedAt: Date.now(), askedOptimized: false });
    const chunk = (delta: unknown, finish: string | null = null) => ({ choices: [{ index: 0, delta, finish_reason: finish }], service_tier: 'priority' });
    const bytes = [
      writer.write(sse(chunk({ role: 'assistant', content: '' }), chunk({ content: 'Let me ' }), chunk({ content: 'see.' }))),
      writer.write(sse(chunk({ tool_calls: [{ index: 0, id: 'a', function: { name: 'f', arguments: '{"x"' } }] }), chunk({ tool_calls: [{ index: 0, function: { arguments: ':1}' } }] }))),
      writer.write(sse(chunk({ tool_calls: [{ index: 1, id: 'b', function: { name: 'g', arguments: '{}' } }] }), chunk({}, 'tool_calls'))),
      writer.write(sse({ choices: [], usage: { prompt_tokens: 4, completion_tokens: 6 }, service_tier: 'priority' }, '[DONE]')),
      writer.close(),
    ];
    const events = bytes.flatMap((b) => (b.length ? decode(b) : []));
    expect(events.every((e) => e.kind === 'event')).toBe(true);
    expect(events.map((e) => e.type)).toEqual([
      'messageStart',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockStop',
      'contentBlockStart',
      'contentBlockDelta',
      'contentBlockDelta',
      'contentBlockStop',
      'contentBlockStart',
      'contentBlockDelta',
      'contentBlockStop',
      'messageStop',
      'metadata',
    ]);
    expect(events[4]!.body).toEqual({ contentBlockIndex: 1, start: { toolUse: { toolUseId: 'a', name: 'f' } } });
    expect(events[6]!.body).toEqual({ contentBlockIndex: 1, delta: { toolUse: { input: ':1}' } } });
    expect(events[8]!.body).toMatchObject({ contentBlockIndex: 2 });
    expect(events[11]!.body).toEqual({ stopReason: 'tool_use' });
    expect(events[12]!.body).toMatchObject({ usage: { inputTokens: 4, outputTokens: 6, totalTokens: 10 }, serviceTier: { type: 'priority' } });
  });

  it('sends messageStop before metadata even when the source gave no finish reason, and an exception for a source cut off before [DONE]', () => {
    const done = new ConverseEventWriter({ startedAt: Date.now(), askedOptimized: false });
    const ended = decode(done.write(sse({ choices: [{ delta: { content: 'a' } }] }, '[DONE]')));
    expect(ended.map((e) => e.type)).toEqual(['messageStart', 'contentBlockDelta', 'contentBlockStop', 'messageStop', 'metadata']);
    expect(ended[3]!.body).toEqual({ stopReason: 'end_turn' });
    expect(done.close().length).toBe(0);
    const cut = new ConverseEventWriter({ startedAt: Date.now(), askedOptimized: false });
    const partial = decode(cut.write(sse({ choices: [{ delta: { content: 'a' } }] })));
    const tail = decode(cut.close());
    expect([...partial, ...tail].map((e) => `${e.kind}:${e.type}`)).toEqual(['event:messageStart', 'event:contentBlockDelta', 'exception:internalServerException']);
    expect(cut.close().length).toBe(0);
  });

  it('ends a failed stream with the exception the failure stands for, and nothing after it', () => {
    const failure = new UpstreamError('The gpu backend throttled', 429, true);
    const writer = new ConverseEventWriter({ startedAt: Date.now(), askedOptimized: false, failure: () => failure });
    const bytes = writer.write(sse({ choices: [{ delta: { content: 'a' } }] }, { error: failure.toJSON().error }, '[DONE]'));
    const events = decode(bytes);
    expect(events.map((e) => `${e.kind}:${e.type}`)).toEqual(['event:messageStart', 'event:contentBlockDelta', 'exception:throttlingException']);
    expect(events[2]!.body).toEqual({ message: 'The gpu backend throttled' });
    expect(writer.close().length).toBe(0);
  });
});

describe('gateway errors → Bedrock exceptions', () => {
  it('maps by status and code, and answers with the status and x-amzn-errortype the SDK reads', () => {
    expect(converseException(401, 'invalid_api_key')).toBe('UnrecognizedClientException');
    expect(converseException(429, 'rate_limit_exceeded')).toBe('ThrottlingException');
    expect(converseException(429, 'insufficient_quota')).toBe('ServiceQuotaExceededException');
    expect(converseException(413, 'request_too_large')).toBe('ValidationException');
    expect(converseException(504, 'upstream_timeout')).toBe('ModelTimeoutException');
    expect(converseException(502, 'upstream_error')).toBe('InternalServerException');
    const quota = new RequestTooLargeError('too large', 'tokens');
    expect(converseException(quota.statusCode, quota.code, quota.headers)).toBe('ServiceQuotaExceededException');
    const limited = converseErrorResponse(new RateLimitError('slow down', 2500), { 'x-request-id': 'r1' }, 'r1');
    expect(limited.status).toBe(429);
    expect(limited.headers).toMatchObject({ 'retry-after': '3', 'x-amzn-errortype': 'ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/', 'x-amzn-requestid': 'r1' });
    expect(JSON.parse(limited.body as string)).toEqual({ message: 'slow down' });
    expect(converseErrorResponse(new InsufficientQuotaError(), {}, 'r2').status).toBe(400);
  });

  it('types a stream failure from the error, or from the event body when the error is not known', () => {
    expect(streamException({ message: 'x', type: 'timeout', param: null, code: 'request_timeout' })).toBe('modelStreamErrorException');
    expect(streamException({ message: 'x', type: 'server_error', param: null, code: 'server_shutting_down' })).toBe('serviceUnavailableException');
    expect(streamException({ message: 'x', type: 'upstream_error', param: null, code: 'upstream_error' })).toBe('internalServerException');
    expect(streamException({ message: 'x', type: 'timeout', param: null, code: 'x' }, new RequestTimeoutError())).toBe('modelStreamErrorException');
  });
});
