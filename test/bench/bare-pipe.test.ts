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
let pipe: Service;

const fake = (name: string) => procs.spawnService({ name, args: ['--import', 'tsx', 'bench/fake-vllm.ts', '--port', '0', '--record'], ready: READY });
const recorded = async (s: Service): Promise<RecordedCall[]> => (await request(`${s.url}/_bench/requests`)).body.json() as Promise<RecordedCall[]>;

async function post(route: string, requestId: string): Promise<{ status: number; contentType: unknown; text: string }> {
  const res = await request(`${pipe.url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-relay-route': route, 'x-request-id': requestId },
    body: JSON.stringify(benchRequestBody('priority')),
  });
  return { status: res.statusCode, contentType: res.headers['content-type'], text: await res.body.text() };
}

beforeAll(async () => {
  [prefill, decode, agg] = await Promise.all([fake('prefill'), fake('decode'), fake('agg')]);
  pipe = await procs.spawnService({
    name: 'bare-pipe',
    args: ['--import', 'tsx', 'bench/bare-pipe.ts', '--port', '0', '--prefill', prefill.url, '--decode', decode.url, '--agg', agg.url],
    ready: READY,
  });
});

afterAll(() => procs.stopAll());

describe('bare pipe', () => {
  it('runs prefill then decode with the same X-Request-Id, hands kv_transfer_params over unchanged and pipes the decode stream back', async () => {
    const res = await post('disagg', 'pipe-test-1');
    expect(res.status).toBe(200);
    expect(res.contentType).toBe('text/event-stream');
    expect(res.text).toContain('data: [DONE]');
    expect(res.text.match(/^data: \{/gm)).toHaveLength(9); // 8 tokens + the usage chunk

    const [pre] = (await recorded(prefill)).filter((c) => c.requestId === 'pipe-test-1');
    const [dec] = (await recorded(decode)).filter((c) => c.requestId === 'pipe-test-1');
    expect(pre).toMatchObject({ kind: 'prefill', stream: false, maxTokens: 1, hasStreamOptions: false });
    expect(pre?.kvTransferParams).toEqual({ do_remote_decode: true, do_remote_prefill: false, remote_engine_id: null, remote_block_ids: null, remote_host: null, remote_port: null });
    expect(dec).toMatchObject({ kind: 'decode', stream: true, maxTokens: 8, hasStreamOptions: true });
    expect(dec?.kvTransferParams).toMatchObject({ do_remote_prefill: true, remote_request_id: 'pipe-test-1', remote_engine_id: `fake-engine-${new URL(prefill.url).port}` });
    expect((await recorded(agg)).some((c) => c.requestId === 'pipe-test-1')).toBe(false);
  });

  it('passes an aggregated request through to the aggregated backend only, over kept-alive connections', async () => {
    const before = { pre: (await recorded(prefill)).length, agg: (await recorded(agg)).length };
    for (const id of ['pipe-agg-1', 'pipe-agg-2']) {
      const res = await post('agg', id);
      expect(res.status).toBe(200);
      expect(res.text).toContain('data: [DONE]');
    }
    const calls = (await recorded(agg)).slice(before.agg);
    expect(calls).toMatchObject([{ kind: 'plain', requestId: 'pipe-agg-1', stream: true, maxTokens: 8 }, { kind: 'plain', requestId: 'pipe-agg-2', stream: true }]);
    expect((await recorded(prefill)).length).toBe(before.pre);
  });
});
