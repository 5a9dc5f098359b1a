import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { request } from 'undici';
import type { RecordedCall } from '../../bench/fake-vllm.ts';
import { benchRequestBody } from '../../bench/load-generator.ts';
import { ProcessGroup } from '../../bench/processes.ts';
import type { Service } from '../../bench/processes.ts';

const READY = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
const procs = new ProcessGroup();
let prefill: Service;
let decode: Service;
let agg: Service;
let relay: Service;

const fake = (name: string) => procs.spawnService({ name, args: ['--import', 'tsx', 'bench/fake-vllm.ts', '--port', '0', '--record'], ready: READY });
const recorded = async (s: Service): Promise<RecordedCall[]> => (await request(`${s.url}/_bench/requests`)).body.json() as Promise<RecordedCall[]>;

async function post(route: string, headers: Record<string, string> = {}): Promise<{ status: number; requestId: string | undefined; text: string }> {
  const res = await request(`${relay.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-relay-route': route, ...headers },
    body: JSON.stringify(benchRequestBody('priority')),
  });
  return { status: res.statusCode, requestId: res.headers['x-request-id'] as string | undefined, text: await res.body.text() };
}

beforeAll(async () => {
  [prefill, decode, agg] = await Promise.all([fake('prefill'), fake('decode'), fake('agg')]);
  relay = await procs.spawnService({
    name: 'relay',
    args: ['--import', 'tsx', 'bench/minimal-relay.ts', '--port', '0', '--prefill', prefill.url, '--decode', decode.url, '--agg', agg.url],
    ready: READY,
  });
});

afterAll(() => procs.stopAll());

describe('minimal relay', () => {
  it('runs prefill then decode with the same X-Request-Id and hands kv_transfer_params over unchanged', async () => {
    const res = await post('disagg', { 'x-request-id': 'relay-test-1' });
    expect(res.status).toBe(200);
    expect(res.requestId).toBe('relay-test-1');
    expect(res.text).toContain('data: [DONE]');
    expect(res.text.match(/^data: \{/gm)).toHaveLength(9); // 8 tokens + the usage chunk

    const [pre] = (await recorded(prefill)).filter((c) => c.requestId === 'relay-test-1');
    const [dec] = (await recorded(decode)).filter((c) => c.requestId === 'relay-test-1');
    expect(pre).toMatchObject({ kind: 'prefill', stream: false, maxTokens: 1, hasStreamOptions: false });
    expect(pre?.kvTransferParams).toEqual({ do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null });
    expect(dec).toMatchObject({ kind: 'decode', stream: true, maxTokens: 8, hasStreamOptions: true });
    expect(dec?.seq).toBeGreaterThan(0);
    expect(dec?.kvTransferParams).toMatchObject({ do_remote_prefill: true, remote_request_id: 'relay-test-1', remote_engine_id: `fake-engine-${new URL(prefill.url).port}` });
    expect((await recorded(agg)).some((c) => c.requestId === 'relay-test-1')).toBe(false);
  });

  it('generates one X-Request-Id and uses it on both calls when the client sends none', async () => {
    const before = { pre: (await recorded(prefill)).length, dec: (await recorded(decode)).length };
    const res = await post('disagg');
    expect(res.status).toBe(200);
    const pre = (await recorded(prefill)).slice(before.pre);
    const dec = (await recorded(decode)).slice(before.dec);
    expect(pre).toHaveLength(1);
    expect(dec).toHaveLength(1);
    expect(pre[0]?.requestId).toBeTruthy();
    expect(dec[0]?.requestId).toBe(pre[0]?.requestId);
    expect(res.requestId).toBe(pre[0]?.requestId);
  });

  it('passes an aggregated request through to the aggregated backend only', async () => {
    const before = { pre: (await recorded(prefill)).length, agg: (await recorded(agg)).length };
    const res = await post('agg', { 'x-request-id': 'relay-test-agg' });
    expect(res.status).toBe(200);
    expect(res.text).toContain('data: [DONE]');
    const calls = (await recorded(agg)).slice(before.agg);
    expect(calls).toMatchObject([{ kind: 'plain', requestId: 'relay-test-agg', stream: true, maxTokens: 8 }]);
    expect((await recorded(prefill)).length).toBe(before.pre);
  });
});
