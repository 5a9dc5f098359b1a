/**
 * OpenAI-compatible aggregated backend and upstream error mapping, against recording fakes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runAggregated } from '../../lambda/backends/openai.ts';
import { UpstreamClient } from '../../lambda/backends/upstream-client.ts';
import { InvalidRequestError, UpstreamError } from '../../lambda/core/errors.ts';
import type { RecordingBackend } from './recording-backend.ts';
import { json, startRecordingBackend } from './recording-backend.ts';
import type { UpstreamTransport } from '../../lambda/core/backend-ports.ts';

const TRANSPORTS: Array<[string, () => UpstreamTransport]> = [
  ['node:http transport (Lambda)', () => new UpstreamClient()],
];

describe.each(TRANSPORTS)('openai backend over the %s', (_name, makeTransport) => {
  let backend: RecordingBackend;
  const client = makeTransport();
  const call = (endpoint: string) => ({
    client,
    target: { pool: 'gpu', endpoint, timeoutMs: 2000, upstreamModels: { public: 'org/upstream-name' } },
    api: 'chat' as const,
    requestId: 'req_1',
    signal: new AbortController().signal,
  });

  beforeAll(async () => {
    backend = await startRecordingBackend(json(200, { id: 'a', object: 'chat.completion', choices: [] }));
  });
  afterAll(async () => {
    await client.close();
    await backend.close();
  });

  it('passes every field it does not use through untouched and renames the model when configured', async () => {
    const body = {
      model: 'public',
      messages: [{ role: 'user', content: [{ type: 'text', text: 'hi' }] }],
      tools: [{ type: 'function', function: { name: 'f', parameters: {} } }],
      tool_choice: 'auto',
      response_format: { type: 'json_object' },
      seed: 42,
      logprobs: true,
      top_logprobs: 2,
      stop: ['\n'],
      vendor_extension: { x: 1 },
      service_tier: 'default',
    };
    const out = await runAggregated(call(backend.url), body);
    expect(out.kind).toBe('json');
    const { service_tier: _tier, ...rest } = body;
    expect(backend.requests.at(-1)!.body).toEqual({ ...rest, model: 'org/upstream-name' });
  });

  it('maps upstream 5xx to a retryable 502 upstream_error', async () => {
    backend.respond(json(500, { error: { message: 'CUDA out of memory' } }));
    const err = await runAggregated(call(backend.url), { model: 'm', messages: [] }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).statusCode).toBe(502);
    expect((err as UpstreamError).retryable).toBe(true);
    expect((err as UpstreamError).toJSON().error.type).toBe('upstream_error');
  });

  it('maps upstream 429/503 to 503 and keeps them retryable', async () => {
    backend.respond(json(429, { error: { message: 'busy' } }));
    const err = (await runAggregated(call(backend.url), { model: 'm' }).catch((e: unknown) => e)) as UpstreamError;
    expect([err.statusCode, err.retryable, err.upstreamStatus]).toEqual([503, true, 429]);
  });

  it("passes the backend's own 400 to the client as invalid_request_error", async () => {
    backend.respond(json(400, { error: { message: "This model's maximum context length is 8192 tokens." } }));
    const err = await runAggregated(call(backend.url), { model: 'm' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidRequestError);
    expect((err as InvalidRequestError).message).toContain('maximum context length');
  });

  it('maps a backend that stays silent past the pool timeout to a retryable 504', async () => {
    backend.respond(() => undefined);
    const silent = { ...call(backend.url), target: { ...call(backend.url).target, timeoutMs: 200 } };
    const err = (await runAggregated(silent, { model: 'm' }).catch((e: unknown) => e)) as UpstreamError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect([err.statusCode, err.retryable, err.toJSON().error.code]).toEqual([504, true, 'upstream_timeout']);
  });

  it('maps a refused connection to a retryable 502', async () => {
    const err = (await runAggregated(call('http://127.0.0.1:1'), { model: 'm' }).catch((e: unknown) => e)) as UpstreamError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect([err.statusCode, err.retryable]).toEqual([502, true]);
  });
});
