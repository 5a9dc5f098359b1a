/**
 * SGLang PD against recording fakes: both calls carry the same bootstrap fields and are in flight
 * at once; a prefill failure cancels decode; a transient failure is retried once with a fresh room
 * (on a fresh pair when the pool directory provides one).
 */
import type { ServerResponse } from 'node:http';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { PoolDirectory } from '../../lambda/backends/pool-directory.ts';
import { DEFAULT_BOOTSTRAP_PORT, bootstrapRoom, sglangDecode, sglangPrefill } from '../../lambda/backends/sglang.ts';
import { UpstreamClient } from '../../lambda/backends/upstream-client.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { UpstreamError } from '../../lambda/core/errors.ts';
import type { Recorded, RecordingBackend, Responder } from './recording-backend.ts';
import { json, sse, startRecordingBackend } from './recording-backend.ts';
import type { BackendCall, UpstreamCompletion } from '../../lambda/core/backend-ports.ts';

const BODY = { model: 'llama', messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, service_tier: 'priority' };
const CHUNK = { choices: [{ index: 0, delta: { content: 'tok' } }] };

/** Resolves when `n` requests reached a backend. */
function arrivals() {
  const waiters: Array<() => void> = [];
  let count = 0;
  return {
    arrived: () => {
      count += 1;
      waiters.splice(0).forEach((w) => w());
    },
    wait: (n = 1, ms = 2000) =>
      new Promise<boolean>((resolve) => {
        const check = () => (count >= n ? resolve(true) : waiters.push(check));
        check();
        setTimeout(() => resolve(false), ms).unref();
      }),
  };
}

/** Answers with `then` only once the other side's request arrived (else 500: not concurrent). */
function afterOther(mine: ReturnType<typeof arrivals>, other: ReturnType<typeof arrivals>, then: Responder): Responder {
  return (req, res) => {
    mine.arrived();
    void other.wait().then((ok) => (ok ? then(req, res) : json(500, { error: 'not concurrent' })(req, res)));
  };
}

async function drain(c: UpstreamCompletion): Promise<string[]> {
  if (c.kind === 'json') return [];
  const out: string[] = [];
  for (let n = await c.batches.next(); !n.done; n = await c.batches.next()) out.push(...n.value);
  return out;
}

/**
 * Writes the headers (and one chunk when `chunk`), then holds the stream open, as a decode server
 * waiting for its KV does; records when the client goes away.
 */
function holdingStream(closed: { value: boolean }, chunk = true): Responder {
  return (_req, res: ServerResponse) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    res.flushHeaders();
    if (chunk) res.write(`data: ${JSON.stringify(CHUNK)}\n\n`);
    res.on('close', () => (closed.value = !res.writableFinished));
  };
}

describe('sglang backend', () => {
  let prefill: RecordingBackend;
  let decode: RecordingBackend;
  const client = new UpstreamClient();
  const call = (backend: RecordingBackend, pool = 'd'): BackendCall => ({
    client,
    target: { pool, endpoint: backend.url, timeoutMs: 5000 },
    api: 'chat',
    requestId: 'req_sg',
    signal: new AbortController().signal,
  });
  const params = async () => (await sglangPrefill({ ...call(prefill, 'p'), pool: parseConfig({ pools: { p: { protocol: 'sglang', endpoints: [prefill.url], bootstrapPort: 9001 } }, models: {}, tiers: {} }).pools.p })).kvTransferParams;

  beforeAll(async () => {
    prefill = await startRecordingBackend(json(200, {}));
    decode = await startRecordingBackend(json(200, {}));
  });
  afterEach(() => {
    prefill.requests.length = 0;
    decode.requests.length = 0;
  });
  afterAll(async () => {
    await client.close();
    await prefill.close();
    await decode.close();
  });

  it('rooms are random non-negative integers below 2^63', () => {
    const rooms = Array.from({ length: 50 }, () => bootstrapRoom());
    for (const r of rooms) {
      expect(Number.isInteger(r)).toBe(true);
      expect(r).toBeGreaterThanOrEqual(0);
      expect(BigInt(JSON.stringify(r))).toBeLessThan(2n ** 63n);
    }
    expect(new Set(rooms).size).toBe(50);
    expect(bootstrapRoom(new Uint8Array(8).fill(0xff))).toBeLessThan(2 ** 63);
    expect(DEFAULT_BOOTSTRAP_PORT).toBe(8998);
  });

  it('prefill makes no call and hands over host, port and room', async () => {
    const p = await params();
    expect(p).toMatchObject({ bootstrap_host: '127.0.0.1', bootstrap_port: 9001 });
    expect(typeof p!.bootstrap_room).toBe('number');
    expect(prefill.requests).toHaveLength(0);
  });

  it('sends the same body with the same room to both at once; the client reads decode', async () => {
    const p = arrivals();
    const d = arrivals();
    prefill.respond(afterOther(p, d, json(200, { id: 'prefill-answer' })));
    decode.respond(afterOther(d, p, sse([CHUNK])));
    const kv = await params();
    const completion = await sglangDecode(call(decode), { ...BODY, stream: true }, kv, call(prefill, 'p').target);
    const events = await drain(completion);
    expect(events.at(-1)).toBe('[DONE]');
    expect(events.join()).not.toContain('prefill-answer');
    const [pr] = prefill.requests as [Recorded];
    const [dr] = decode.requests as [Recorded];
    expect(pr.body).toEqual(dr.body);
    const { service_tier: _gone, ...forwarded } = BODY;
    expect(dr.body).toEqual({ ...forwarded, stream: true, ...kv });
    expect(pr.headers['x-request-id']).toBe(dr.headers['x-request-id']);
  });

  it('cancels decode when prefill fails, then retries once with a fresh room', async () => {
    const closed = { value: false };
    let attempt = 0;
    prefill.respond((req, res) => (++attempt === 1 ? setTimeout(() => json(503, { error: { message: 'busy' } })(req, res), 50) : json(200, {})(req, res)));
    decode.respond((req, res) => (decode.requests.length === 1 ? holdingStream(closed, false)(req, res) : sse([CHUNK])(req, res)));
    const completion = await sglangDecode(call(decode), { ...BODY, stream: true }, await params(), call(prefill, 'p').target);
    expect((await drain(completion)).at(-1)).toBe('[DONE]');
    await new Promise((r) => setTimeout(r, 20));
    expect(closed.value).toBe(true); // the first decode was cut when its prefill failed
    const rooms = prefill.requests.map((r) => r.body.bootstrap_room);
    expect(rooms).toHaveLength(2);
    expect(rooms[0]).not.toBe(rooms[1]);
    expect(decode.requests.map((r) => r.body.bootstrap_room)).toEqual(rooms);
  });

  it('a prefill failure after decode started streaming ends the stream with the error', async () => {
    const closed = { value: false };
    const d = arrivals();
    prefill.respond((req, res) => void d.wait().then(() => setTimeout(() => json(500, { error: { message: 'prefill died' } })(req, res), 80)));
    decode.respond((req, res) => (d.arrived(), holdingStream(closed)(req, res)));
    const completion = await sglangDecode(call(decode), { ...BODY, stream: true }, await params(), call(prefill, 'p').target);
    expect(completion.kind).toBe('stream');
    if (completion.kind !== 'stream') return;
    const first = await completion.batches.next();
    expect(first.value).toHaveLength(1); // decode's first token reached the caller
    await expect(completion.batches.next()).rejects.toThrow(/prefill died/);
    await new Promise((r) => setTimeout(r, 20));
    expect(closed.value).toBe(true);
  });

  it('after the one retry a failure is final (not retried again: the room would repeat)', async () => {
    prefill.respond(json(200, {}));
    decode.respond(json(429, { error: { message: 'slow down' } }));
    const err = await sglangDecode(call(decode), BODY, await params(), call(prefill, 'p').target).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect(err).toMatchObject({ retryable: false, upstreamStatus: 429 });
    expect(decode.requests).toHaveLength(2);
    decode.respond(json(400, { error: { message: 'bad' } }));
    await sglangDecode(call(decode), BODY, await params(), call(prefill, 'p').target).catch(() => undefined);
    expect(decode.requests).toHaveLength(3); // a client error is not retried
  });

  it('without bootstrap parameters decode runs alone and recomputes', async () => {
    decode.respond(json(200, { id: 'x', choices: [] }));
    const c = await sglangDecode(call(decode), BODY, null, null);
    expect(c.kind).toBe('json');
    expect(prefill.requests).toHaveLength(0);
    expect(decode.requests[0]!.body).not.toHaveProperty('bootstrap_room');
  });

  it('retries on a fresh pair from the pool directory, with the failed endpoint out', async () => {
    const prefill2 = await startRecordingBackend(json(200, {}));
    const decode2 = await startRecordingBackend(json(200, { id: 'from-decode-2', choices: [] }));
    try {
      prefill.respond(json(200, {}));
      decode.respond(json(503, { error: { message: 'down' } }));
      const dir = new PoolDirectory(
        parseConfig({
          pools: {
            p: { protocol: 'sglang', role: 'prefill', endpoints: [prefill.url, prefill2.url] },
            d: { protocol: 'sglang', role: 'decode', endpoints: [decode.url, decode2.url] },
          },
          models: {},
          tiers: {},
        }).pools,
      );
      const pick = dir.acquirePair('p', 'd', true);
      const decodeLease = dir.acquire('d', decode.url);
      const c = dir.pairLeases('p', 'd', decodeLease);
      const kv = (await sglangPrefill({ ...call(prefill, 'p'), target: pick.lease.target })).kvTransferParams;
      const out = await sglangDecode({ ...call(decode), target: decodeLease.target }, BODY, kv, pick.lease.target, c);
      expect(out.kind === 'json' && out.json.id).toBe('from-decode-2');
      const retried = decode2.requests[0]!.body;
      expect(retried.bootstrap_room).not.toBe(kv!.bootstrap_room);
      const allPrefill = [...prefill.requests, ...prefill2.requests].map((r) => r.body.bootstrap_room);
      expect(allPrefill).toContain(retried.bootstrap_room);
      expect(dir.inFlight('p') + dir.inFlight('d')).toBe(0);
      expect(dir.acquire('d').target.endpoint).toBe(decode2.url); // the failed one is a last resort now
    } finally {
      await prefill2.close();
      await decode2.close();
    }
  });
});
