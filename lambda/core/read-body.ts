/**
 * Reading a whole HTTP body as text: the one body reader of the gateway's runtimes (the node
 * server, the API Gateway emulator, the local Step Functions endpoint), the simulator, and the
 * upstream client's JSON answers, and the bench's pipe and relay.
 */
import type { Readable } from 'node:stream';

/**
 * Reads `body` to its end as UTF-8 text. With a `limit`, a body larger than `limit` bytes
 * resolves to undefined as soon as it is known; the rest of it is still read (and dropped) so the
 * caller can answer (a 413) on the same connection. Rejects when the stream fails.
 *
 * @example
 * const text = await readBody(req, MAX_BODY_BYTES);
 * if (text === undefined) return tooLarge(res);
 */
export function readBody(body: Readable): Promise<string>;
export function readBody(body: Readable, limit: number): Promise<string | undefined>;
export function readBody(body: Readable, limit = Number.POSITIVE_INFINITY): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    // Event listeners rather than async iteration: a body that arrives in one chunk costs no promise.
    const chunks: Buffer[] = [];
    let size = 0;
    body.on('data', (chunk: Buffer | string) => {
      const bytes = typeof chunk === 'string' ? Buffer.from(chunk, 'utf8') : chunk;
      if (size > limit) return;
      size += bytes.length;
      if (size <= limit) chunks.push(bytes);
      else {
        chunks.length = 0;
        resolve(undefined);
      }
    });
    body.on('end', () => resolve(size > limit ? undefined : chunks.length === 1 ? chunks[0]!.toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    body.on('error', reject);
  });
}
