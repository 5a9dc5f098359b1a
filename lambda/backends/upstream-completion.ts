/**
 * An upstream completion as the plan steps see it: a whole JSON body, or batches of SSE `data:`
 * payloads, one batch per chunk the upstream wrote (so the relay writes once per upstream write).
 */
import { StringDecoder } from 'node:string_decoder';
import { createParser } from 'eventsource-parser';
import { UpstreamError } from '../core/errors.ts';
import type { UpstreamReply } from './upstream-client.ts';

/** A completed or streaming upstream answer. */
export type UpstreamCompletion =
  | { readonly kind: 'json'; readonly json: Record<string, unknown> }
  | { readonly kind: 'stream'; readonly batches: AsyncIterator<string[]> };

/** Reads a non-streamed upstream answer as a JSON object. */
export async function readJson(reply: UpstreamReply, pool: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await reply.body.text();
  } catch {
    throw new UpstreamError(`The ${pool} backend closed the connection before its answer was complete.`, 502, true, pool);
  }
  try {
    const json: unknown = JSON.parse(text);
    if (typeof json === 'object' && json !== null && !Array.isArray(json)) return json as Record<string, unknown>;
  } catch {
    // fall through
  }
  throw new UpstreamError(`The ${pool} backend answered with a body that is not a JSON object.`, 502, false, pool);
}

/**
 * Splits an upstream SSE body into batches of `data:` payloads (without the `data: ` prefix),
 * one batch per network chunk. A connection that ends without `[DONE]` or breaks throws an
 * {@link UpstreamError} so the caller can tell the client instead of cutting silently.
 */
export async function* sseBatches(reply: UpstreamReply, pool: string, signal: AbortSignal): AsyncGenerator<string[]> {
  const decoder = new StringDecoder('utf8');
  let pending: string[] = [];
  let done = false;
  const parser = createParser({
    onEvent: (event) => {
      pending.push(event.data);
      if (event.data === '[DONE]') done = true;
    },
  });
  try {
    for await (const chunk of reply.body) {
      parser.feed(decoder.write(chunk as Buffer));
      if (pending.length > 0) {
        const batch = pending;
        pending = [];
        yield batch;
      }
    }
  } catch (err) {
    if (signal.aborted) throw signal.reason instanceof Error ? signal.reason : err;
    throw new UpstreamError(`The ${pool} backend dropped the stream.`, 502, true, pool);
  } finally {
    reply.body.cancel();
  }
  if (!done) throw new UpstreamError(`The ${pool} backend ended the stream early.`, 502, true, pool);
}

/** Turns a 2xx reply into an {@link UpstreamCompletion} of the expected kind. */
export async function toCompletion(
  reply: UpstreamReply,
  stream: boolean,
  pool: string,
  signal: AbortSignal,
): Promise<UpstreamCompletion> {
  if (!stream) return { kind: 'json', json: await readJson(reply, pool) };
  return { kind: 'stream', batches: sseBatches(reply, pool, signal) };
}
