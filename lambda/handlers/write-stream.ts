/**
 * Writing a response body with back-pressure, the one writer of the Lambda response stream and the
 * local Node adapter: waits for `drain` when the stream's buffer is full, or for `close` when the
 * client went away (a `drain` that never comes must not hang the relay).
 */
import type { Writable } from 'node:stream';

/**
 * Writes a whole body and ends the stream: a string in one write, chunks (text or bytes) as they are produced.
 * Always `write` then `end()`, never `end(chunk)`: the Lambda runtime sends the
 * `HttpResponseStream` prelude (status and headers) from its hook on the first `write`, which
 * `end(chunk)` bypasses. Stops pulling, and so cancels the upstream, once the stream is destroyed
 * (the client went away).
 *
 * @example
 * await writeBody(awslambda.HttpResponseStream.from(responseStream, { statusCode, headers }), body);
 */
export async function writeBody(stream: Writable, body: string | AsyncIterable<string | Uint8Array>): Promise<void> {
  if (typeof body === 'string') {
    await writeWithBackpressure(stream, body);
  } else {
    for await (const chunk of body) {
      if (stream.destroyed) break;
      await writeWithBackpressure(stream, chunk);
    }
  }
  await endStream(stream);
}

/** Writes `chunk` (text, or bytes), resolving when the stream can take more (or has closed). */
export function writeWithBackpressure(stream: Writable, chunk: string | Uint8Array): Promise<void> {
  return stream.write(chunk) ? Promise.resolve() : drained(stream);
}

/** Resolves on the stream's next `drain`, or when it closes (at once when it is already destroyed). */
export function drained(stream: Pick<Writable, 'on' | 'off' | 'destroyed'>): Promise<void> {
  return stream.destroyed ? Promise.resolve() : eventOrClose(stream, 'drain');
}

/**
 * Ends a stream and resolves once it has finished, or closed without finishing (the client went
 * away): `end(callback)` on a destroyed stream never calls the callback, which would leave the
 * handler (and its deadline timer) pending for good.
 *
 * @example
 * await endStream(responseStream);
 */
export function endStream(stream: Writable): Promise<void> {
  if (stream.destroyed || stream.writableFinished) return Promise.resolve();
  const ended = eventOrClose(stream, 'finish');
  stream.end();
  return ended;
}

/** Resolves on the stream's next `event`, or on its `close`, whichever comes first. */
function eventOrClose(stream: Pick<Writable, 'on' | 'off'>, event: 'drain' | 'finish'): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      stream.off(event, done);
      stream.off('close', done);
      resolve();
    };
    stream.on(event, done);
    stream.on('close', done);
  });
}
