import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { performance } from 'node:perf_hooks';
import { startSimulator } from '../../sim/index.ts';
import type { KvTransferParams, SimulatorHandle } from '../../sim/index.ts';
import { post } from './helpers.ts';

const PREFILL_REQUEST = { do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null };
// 16,000 characters ≈ 4,000 prompt tokens: recompute on cerebras-decode costs 2,000 ms simulated,
// a remote-KV transfer ≈ 43 ms.
const LONG_PROMPT = 'x'.repeat(16_000);

let prefill: SimulatorHandle;
let decode: SimulatorHandle;
beforeAll(async () => {
  prefill = await startSimulator({ profile: 'trainium-prefill', speedup: 1000, seed: 3 });
  decode = await startSimulator({ profile: 'cerebras-decode', speedup: 5, seed: 3 });
});
afterAll(async () => {
  await prefill.close();
  await decode.close();
});

async function runPrefill(path: string, body: Record<string, unknown>, requestId: string): Promise<Record<string, any>> {
  const res = await post(`${prefill.url}${path}`, { ...body, stream: false, max_tokens: 1, kv_transfer_params: PREFILL_REQUEST }, { 'x-request-id': requestId });
  expect(res.status).toBe(200);
  expect(res.headers.get('x-request-id')).toBe(requestId);
  return (await res.json()) as Record<string, any>;
}

describe('vLLM NIXL prefill', () => {
  it('answers one token plus top-level kv_transfer_params', async () => {
    const answer = await runPrefill('/v1/chat/completions', { model: 'm', messages: [{ role: 'user', content: 'y'.repeat(130) }] }, 'pd-1');
    expect(answer['usage']).toEqual({ prompt_tokens: 33, completion_tokens: 1, total_tokens: 34 });
    const kv = answer['kv_transfer_params'] as KvTransferParams;
    expect(kv).toMatchObject({ do_remote_prefill: true, do_remote_decode: false, remote_request_id: 'pd-1', remote_host: '127.0.0.1', remote_port: prefill.port, tp_size: 1 });
    expect(kv.remote_block_ids).toHaveLength(3); // ceil(33 / 16)
    expect(kv.remote_engine_id).toMatch(/^sim-trainium-prefill-/);
    const again = await runPrefill('/v1/completions', { model: 'm', prompt: 'z'.repeat(64) }, 'pd-2');
    const kv2 = again['kv_transfer_params'] as KvTransferParams;
    expect(kv2.remote_engine_id).toBe(kv.remote_engine_id); // stable per server
    expect(kv2.remote_block_ids).toHaveLength(1);
    expect(kv2.remote_block_ids?.[0]).not.toBe(kv.remote_block_ids?.[0]);
    expect(again['object']).toBe('text_completion');
    expect(prefill.stats().byKind.prefill).toBeGreaterThanOrEqual(2);
  });

  it('decode with remote KV skips the prefill: counted as decode-remote, much faster than recompute', async () => {
    const body = { model: 'm', messages: [{ role: 'user', content: LONG_PROMPT }], max_tokens: 2 };
    const answer = await runPrefill('/v1/chat/completions', body, 'pd-3');
    await (await post(`${decode.url}/v1/completions`, { model: 'm', prompt: 'warm-up', max_tokens: 1 })).json();
    const before = decode.stats().byKind;

    let t0 = performance.now();
    const remote = await post(`${decode.url}/v1/chat/completions`, { ...body, kv_transfer_params: answer['kv_transfer_params'] }, { 'x-request-id': 'pd-3' });
    expect(remote.status).toBe(200);
    await remote.json();
    const remoteMs = performance.now() - t0;

    t0 = performance.now();
    const recompute = await post(`${decode.url}/v1/chat/completions`, body, { 'x-request-id': 'pd-4' });
    await recompute.json();
    const recomputeMs = performance.now() - t0;

    const after = decode.stats().byKind;
    expect(after['decode-remote'] - before['decode-remote']).toBe(1);
    expect(after['decode-recompute'] - before['decode-recompute']).toBe(1);
    // The model's simulated TTFT: 4,000 tokens × 128 KiB over 12.5 GB/s + 1 ms set-up + 2 ms
    // overhead, against 4,000 / 2,000 tok/s of recompute + 2 ms.
    const received = decode.stats().recent.find((r) => r.headers['x-request-id'] === 'pd-3');
    const recomputed = decode.stats().recent.find((r) => r.headers['x-request-id'] === 'pd-4');
    expect((received?.body as Record<string, unknown>)['kv_transfer_params']).toEqual(answer['kv_transfer_params']);
    expect(received?.timing?.prefillMs).toBe(0);
    expect(received?.timing?.totalMs).toBeCloseTo(1 + (4000 * 131072) / 12.5e6 + 2, 6);
    expect(recomputed?.timing).toMatchObject({ prefillMs: 2000, kvTransferMs: 0, totalMs: 2002 });
    // Wall time, coarse (the machine is shared): at speedup 5, ≈ 9 ms against ≈ 400 ms.
    expect(recomputeMs).toBeGreaterThan(350);
    expect(recomputeMs).toBeGreaterThan(2 * remoteMs);
  });

  it('accepts push mode (no remote_block_ids) as a remote-KV decode', async () => {
    const before = decode.stats().byKind['decode-remote'];
    const res = await post(`${decode.url}/v1/completions`, {
      model: 'm', prompt: 'p', max_tokens: 2, stream: true,
      kv_transfer_params: { do_remote_prefill: true, do_remote_decode: false, remote_engine_id: 'e', remote_request_id: 'r', remote_host: '127.0.0.1', remote_port: 1, tp_size: 1 },
    });
    expect(res.status).toBe(200);
    expect((await res.text()).endsWith('data: [DONE]\n\n')).toBe(true);
    expect(decode.stats().byKind['decode-remote']).toBe(before + 1);
  });

  it('omitKvParams drops kv_transfer_params from the listed prefill calls only', async () => {
    const sim = await startSimulator({ profile: 'trainium-prefill', speedup: 1000, faults: { omitKvParams: [2] } });
    try {
      const ask = async (): Promise<Record<string, unknown>> =>
        (await (await post(`${sim.url}/v1/completions`, { model: 'm', prompt: 'q', max_tokens: 1, kv_transfer_params: PREFILL_REQUEST })).json()) as Record<string, unknown>;
      expect(await ask()).toHaveProperty('kv_transfer_params');
      const second = await ask();
      expect(second).not.toHaveProperty('kv_transfer_params');
      expect(second['usage']).toMatchObject({ completion_tokens: 1 });
      expect(await ask()).toHaveProperty('kv_transfer_params');
      sim.setFaults({ omitKvParams: true });
      expect(await ask()).not.toHaveProperty('kv_transfer_params');
      expect(sim.stats().kvParamsOmitted).toBe(2);
    } finally {
      await sim.close();
    }
  });
});
