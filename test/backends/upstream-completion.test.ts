/**
 * SSE batching of an upstream body: events split anywhere (inside a multi-byte character, inside
 * a line) come out whole, one batch per network chunk that completed events, and a stream that
 * ends without `[DONE]` is an upstream error.
 */
import { describe, expect, it } from 'vitest';
import type { UpstreamBody } from '../../lambda/backends/upstream-client.ts';
import { sseBatches } from '../../lambda/backends/upstream-completion.ts';
import { UpstreamError } from '../../lambda/core/errors.ts';

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
