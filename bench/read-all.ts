/** The bench relays' body reader: every chunk of a request or an upstream answer, joined. */
import type { Readable } from 'node:stream';

/** Resolves with the whole body once the stream ends; rejects on its error. */
export function readAll(stream: Readable): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (c: Buffer) => parts.push(c));
    stream.once('end', () => resolve(Buffer.concat(parts)));
    stream.once('error', reject);
  });
}
