/**
 * Writing a streamed body with back-pressure, shared by the Lambda response stream and the local
 * Node adapter: waits for `drain` when the stream's buffer is full, or for `close` when the
 * client went away (a `drain` that never comes must not hang the relay).
 */
import type { Writable } from 'node:stream';

/** Writes `chunk`, resolving when the stream can take more (or has closed). */
export function writeWithBackpressure(stream: Writable, chunk: string): Promise<void> {
  return stream.write(chunk) ? Promise.resolve() : drained(stream);
}

/** Resolves on the stream's next `drain`, or when it closes. */
export function drained(stream: Pick<Writable, 'on' | 'off'>): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('close', done);
      resolve();
    };
    stream.on('drain', done);
    stream.on('close', done);
  });
}
