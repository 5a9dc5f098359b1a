import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { readBody } from '../../lambda/core/read-body.ts';

describe('readBody', () => {
  it('reads every chunk as UTF-8 text, a character split across chunks included', async () => {
    const euro = Buffer.from('€', 'utf8');
    const body = Readable.from([Buffer.from('{"a":"'), euro.subarray(0, 1), euro.subarray(1), Buffer.from('"}')]);
    await expect(readBody(body)).resolves.toBe('{"a":"€"}');
  });

  it('reads a body of exactly the limit', async () => {
    await expect(readBody(Readable.from([Buffer.from('12345')]), 5)).resolves.toBe('12345');
  });

  it('answers undefined as soon as the limit is passed, and still reads the rest', async () => {
    const body = new PassThrough();
    const read = readBody(body, 4);
    body.write(Buffer.from('123'));
    body.write(Buffer.from('45'));
    await expect(read).resolves.toBeUndefined();
    expect(body.writableEnded).toBe(false);
    body.end(Buffer.from('6789'));
    await new Promise((resolve) => body.on('end', resolve));
    expect(body.readableEnded).toBe(true);
  });

  it('rejects when the stream fails', async () => {
    const body = new PassThrough();
    const read = readBody(body);
    body.destroy(new Error('reset'));
    await expect(read).rejects.toThrow('reset');
  });
});
