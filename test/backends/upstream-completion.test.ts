/**
 * SSE batching of an upstream body: events split anywhere (inside a multi-byte character, inside
 * a line) come out whole, one batch per network chunk that completed events, and a stream that
 * ends without `[DONE]` is an upstream error. A JSON answer whose body goes silent past the
 * timeout is a timeout (504), one that breaks or is not JSON a 502.
 */
import { describe, expect, it } from 'vitest';
import { readJson, sseBatches } from '../../lambda/backends/upstream-completion.ts';
import { UpstreamError } from '../../lambda/core/errors.ts';
import type { UpstreamBody } from '../../lambda/core/backend-ports.ts';

function bodyOf(chunks: Buffer[]): UpstreamBody & { cancelled: boolean } {
  const body = {
    cancelled: false,
    async *[Symbol.asyncIterator]() {
      for (const c of chunks) yield c;
    },
    text: async () => Buffer.concat(chunks).toString('utf8'),
    cancel: () => {
      body.cancelled = true;
    },
  };
  return body;
}

async function collect(chunks: Buffer[]): Promise<string[][]> {
  const out: string[][] = [];
  for await (const batch of sseBatches({ status: 200, body: bodyOf(chunks) }, 'decode', new AbortController().signal)) out.push(batch);
  return out;
}

describe('sseBatches', () => {
  it('keeps multi-byte characters split across chunks whole', async () => {
    const text = 'data: {"content":"café 🚀"}\n\ndata: [DONE]\n\n';
    const bytes = Buffer.from(text, 'utf8');
    const e = bytes.indexOf(Buffer.from('é')) + 1; // inside é
    const r = bytes.indexOf(Buffer.from('🚀')) + 2; // inside the rocket
    const batches = await collect([bytes.subarray(0, e), bytes.subarray(e, r), bytes.subarray(r)]);
    expect(batches.flat()).toEqual(['{"content":"café 🚀"}', '[DONE]']);
  });

  it('yields one batch per chunk that completed events, none for a chunk that completed nothing', async () => {
    const batches = await collect([
      Buffer.from('data: {"a":1}\n\ndata: {"b":'),
      Buffer.from('2}'),
      Buffer.from('\n\ndata: [DONE]\n\n'),
    ]);
    expect(batches).toEqual([['{"a":1}'], ['{"b":2}', '[DONE]']]);
  });

  it('throws a retryable upstream error when the stream ends without [DONE]', async () => {
    const err = await collect([Buffer.from('data: {"a":1}\n\n')]).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).retryable).toBe(true);
  });
});

describe('readJson', () => {
  const failing = (err: Error): UpstreamBody => ({
    async *[Symbol.asyncIterator]() {
      yield* [];
      throw err;
    },
    text: () => Promise.reject(err),
    cancel: () => undefined,
  });

  it('a body that went silent past the timeout is a retryable 504; one that broke is a retryable 502', async () => {
    const timedOut = Object.assign(new Error('Body Timeout Error'), { code: 'UND_ERR_BODY_TIMEOUT' });
    const silent = await readJson({ status: 200, body: failing(timedOut) }, 'gpu').catch((e: unknown) => e);
    expect(silent).toBeInstanceOf(UpstreamError);
    expect(silent).toMatchObject({ statusCode: 504, retryable: true, code: 'upstream_timeout', pool: 'gpu' });
    const broken = await readJson({ status: 200, body: failing(Object.assign(new Error('aborted'), { code: 'ECONNRESET' })) }, 'gpu').catch((e: unknown) => e);
    expect(broken).toMatchObject({ statusCode: 502, retryable: true, code: 'upstream_error' });
  });

  it('a body that is not a JSON object is a 502 not worth retrying', async () => {
    const text = (t: string): UpstreamBody => ({ [Symbol.asyncIterator]: async function* () {}, text: async () => t, cancel: () => undefined });
    await expect(readJson({ status: 200, body: text('{"id": 1') }, 'gpu')).rejects.toMatchObject({ statusCode: 502, retryable: false });
  });
});
