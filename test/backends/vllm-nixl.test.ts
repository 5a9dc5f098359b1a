/**
 * vLLM NIXL disaggregated protocol against recording fakes: exactly what prefill and decode receive.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamClient } from '../../lambda/backends/upstream-client.ts';
import { PREFILL_KV_REQUEST, decodeKvParams, prefillBody, runDecode, runPrefill } from '../../lambda/backends/vllm-nixl.ts';
import type { RecordingBackend } from './recording-backend.ts';
import { json, sse, startRecordingBackend } from './recording-backend.ts';
import type { BackendCall } from '../../lambda/core/backend-ports.ts';

const KV_FROM_PREFILL = {
  do_remote_prefill: true,
  do_remote_decode: false,
  remote_block_ids: [1, 2, 3],
  remote_engine_id: 'engine-7',
  remote_request_id: 'req-x',
  remote_host: '10.0.0.5',
  remote_port: 5600,
  tp_size: 1,
  vendor_extra: { opaque: ['kept'] },
};

const CLIENT_BODY = {
  model: 'llama',
  messages: [{ role: 'user', content: 'hello' }],
  stream: true,
  stream_options: { include_usage: true },
  max_tokens: 50,
  max_completion_tokens: 50,
  min_tokens: 5,
  min_completion_tokens: 5,
  tools: [{ type: 'function', function: { name: 'f' } }],
  service_tier: 'priority',
};

describe('vllm-nixl backend', () => {
  let prefill: RecordingBackend;
  let decode: RecordingBackend;
  const client = new UpstreamClient();
  const call = (backend: RecordingBackend, api: 'chat' | 'text' = 'chat'): BackendCall => ({
    client,
    target: { pool: 'p', endpoint: backend.url, timeoutMs: 5000 },
    api,
    requestId: 'req_same',
    signal: new AbortController().signal,
  });

  beforeAll(async () => {
    prefill = await startRecordingBackend(json(200, { id: 'x', choices: [], usage: { prompt_tokens: 12 }, kv_transfer_params: KV_FROM_PREFILL }));
    decode = await startRecordingBackend(sse([{ choices: [{ index: 0, delta: { content: 'hi' } }] }]));
  });
  afterAll(async () => {
    await client.close();
    await prefill.close();
    await decode.close();
  });

  it('builds the prefill body: stream off, one token, streaming/min fields removed, kv request added', () => {
    const body = prefillBody(CLIENT_BODY);
    expect(body.stream).toBe(false);
    expect(body.max_tokens).toBe(1);
    expect(body.max_completion_tokens).toBe(1);
    for (const removed of ['stream_options', 'min_tokens', 'min_completion_tokens']) expect(body).not.toHaveProperty(removed);
    expect(body.kv_transfer_params).toEqual({
      do_remote_decode: true,
      do_remote_prefill: false,
      remote_engine_id: null,
      remote_block_ids: null,
      remote_host: null,
      remote_port: null,
    });
    expect(body.tools).toEqual(CLIENT_BODY.tools);
    expect(prefillBody({ model: 'm', max_tokens: 9 })).not.toHaveProperty('max_completion_tokens');
  });

  it('sends prefill then decode with the same X-Request-Id, and the kv params opaque and unchanged', async () => {
    const result = await runPrefill(call(prefill), CLIENT_BODY);
    expect(result).toEqual({ kvTransferParams: KV_FROM_PREFILL, promptTokens: 12 });
    const completion = await runDecode(call(decode), CLIENT_BODY, result.kvTransferParams, 'pull');
    expect(completion.kind).toBe('stream');
    const p = prefill.requests.at(-1)!;
    const d = decode.requests.at(-1)!;
    expect(p.path).toBe('/v1/chat/completions');
    expect(p.headers['x-request-id']).toBe('req_same');
    expect(d.headers['x-request-id']).toBe('req_same');
    expect(p.body.kv_transfer_params).toEqual(PREFILL_KV_REQUEST);
    expect(p.body).not.toHaveProperty('service_tier');
    const { service_tier: _dropped, ...forwarded } = CLIENT_BODY;
    expect(d.body).toEqual({ ...forwarded, kv_transfer_params: KV_FROM_PREFILL });
    if (completion.kind === 'stream') {
      const batches: string[][] = [];
      for (let next = await completion.batches.next(); !next.done; next = await completion.batches.next()) batches.push(next.value);
      expect(batches.flat().at(-1)).toBe('[DONE]');
    }
  });

  it('push mode sends decode the engine coordinates without block ids', () => {
    expect(decodeKvParams(KV_FROM_PREFILL, 'push')).toEqual({
      do_remote_prefill: true,
      do_remote_decode: false,
      remote_engine_id: 'engine-7',
      remote_request_id: 'req-x',
      remote_host: '10.0.0.5',
      remote_port: 5600,
      tp_size: 1,
    });
  });

  it('decode recomputes (no kv params sent) when prefill returned none', async () => {
    prefill.respond(json(200, { id: 'y', choices: [] }));
    const result = await runPrefill(call(prefill), CLIENT_BODY);
    expect(result.kvTransferParams).toBeNull();
    await runDecode(call(decode), { ...CLIENT_BODY, stream: false }, null, 'pull').catch(() => undefined);
    expect(decode.requests.at(-1)!.body).not.toHaveProperty('kv_transfer_params');
  });

  it('uses /v1/completions for legacy text completions', async () => {
    prefill.respond(json(200, { id: 'z', choices: [], kv_transfer_params: KV_FROM_PREFILL }));
    await runPrefill(call(prefill, 'text'), { model: 'llama', prompt: 'abc', max_tokens: 4 });
    expect(prefill.requests.at(-1)!.path).toBe('/v1/completions');
    expect(prefill.requests.at(-1)!.body.prompt).toBe('abc');
  });
});
