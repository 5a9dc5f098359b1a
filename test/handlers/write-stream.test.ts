/** Ending and draining a response stream whose client may have gone away. */
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { drained, endStream } from '../../lambda/handlers/write-stream.ts';

describe('endStream', () => {
  it('resolves once a live stream has finished', async () => {
    const stream = new PassThrough();
    stream.resume();
    stream.write('x');
    await endStream(stream);
    expect(stream.writableFinished).toBe(true);
  });

  it('resolves at once for a destroyed stream, whose end(callback) would never call back', async () => {
    const stream = new PassThrough();
    stream.destroy();
    await expect(Promise.race([endStream(stream).then(() => 'ended'), new Promise((r) => setTimeout(() => r('hung'), 200))])).resolves.toBe('ended');
  });
});

describe('drained', () => {
  it('resolves at once for a destroyed stream (its close has already been emitted)', async () => {
    const stream = new PassThrough({ highWaterMark: 1 });
    stream.write('xxxx');
    stream.destroy();
    await new Promise((r) => setImmediate(r));
    await expect(Promise.race([drained(stream).then(() => 'drained'), new Promise((r) => setTimeout(() => r('hung'), 200))])).resolves.toBe('drained');
  });
});
