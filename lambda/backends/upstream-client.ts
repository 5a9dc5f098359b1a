/**
 * HTTP client towards backend servers: one undici Agent (a keep-alive connection pool per origin)
 * shared by every pool, so no request pays a TCP handshake. Maps transport failures and upstream
 * statuses to typed gateway errors in one place.
 */
import { Agent, errors as undiciErrors } from 'undici';
import type { Dispatcher } from 'undici';
import { InvalidRequestError, UpstreamError } from '../core/errors.ts';

/** A successful (2xx) upstream answer whose body has not been read yet. */
export interface UpstreamReply {
  readonly status: number;
  readonly body: Dispatcher.ResponseData['body'];
}

/** Options of {@link UpstreamClient}. */
export interface UpstreamClientOptions {
  /** Maximum connections per origin. @default 256 */
  readonly connections?: number;
  /** Keep-alive idle timeout in milliseconds. @default 30_000 */
  readonly keepAliveTimeoutMs?: number;
}

/** What one upstream call needs. */
export interface UpstreamCall {
  /** Endpoint base URL, e.g. `http://127.0.0.1:8201`. */
  readonly endpoint: string;
  readonly path: string;
  readonly body: unknown;
  readonly requestId: string;
  readonly signal: AbortSignal;
  readonly timeoutMs: number;
  /** Pool name, for error messages and logs. */
  readonly pool: string;
}

const MAX_ERROR_BODY = 2048;

/** Keep-alive HTTP client for backend calls. */
export class UpstreamClient {
  private readonly agent: Agent;

  constructor(options: UpstreamClientOptions = {}) {
    this.agent = new Agent({
      connections: options.connections ?? 256,
      keepAliveTimeout: options.keepAliveTimeoutMs ?? 30_000,
      pipelining: 1,
    });
  }

  /**
   * POSTs JSON and resolves once the upstream answered 2xx with headers; the body is left to
   * the caller (streamed or read whole). Non-2xx answers and transport failures throw typed errors.
   */
  async post(call: UpstreamCall): Promise<UpstreamReply> {
    const url = new URL(call.path, call.endpoint);
    let reply: Dispatcher.ResponseData;
    try {
      reply = await this.agent.request({
        origin: url.origin,
        path: url.pathname,
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-request-id': call.requestId },
        body: JSON.stringify(call.body),
        signal: call.signal,
        headersTimeout: call.timeoutMs,
        bodyTimeout: call.timeoutMs,
      });
    } catch (err) {
      throw transportError(err, call);
    }
    if (reply.statusCode >= 200 && reply.statusCode < 300) return { status: reply.statusCode, body: reply.body };
    const text = await readBounded(reply.body);
    throw statusError(reply.statusCode, text, call.pool);
  }

  /** Closes every pooled connection. */
  async close(): Promise<void> {
    await this.agent.close();
  }
}

/** Maps a transport-level failure (refused, reset, timeout, abort) to a gateway error. */
export function transportError(err: unknown, call: Pick<UpstreamCall, 'pool' | 'signal'>): Error {
  if (call.signal.aborted) return call.signal.reason instanceof Error ? call.signal.reason : new Error('aborted');
  if (err instanceof undiciErrors.HeadersTimeoutError || err instanceof undiciErrors.BodyTimeoutError) {
    return new UpstreamError(`The ${call.pool} backend timed out.`, 504, true, call.pool);
  }
  const code = (err as { code?: string }).code ?? 'unknown';
  return new UpstreamError(`The ${call.pool} backend is unreachable (${code}).`, 502, true, call.pool);
}

/**
 * Maps a non-2xx upstream status: a client error the backend found in the request (400/413/422)
 * is the client's to see; throttling, timeouts and 5xx are transient; anything else means the
 * pool is misconfigured.
 */
export function statusError(status: number, text: string, pool: string): Error {
  const detail = upstreamMessage(text);
  if (status === 400 || status === 413 || status === 422) {
    return new InvalidRequestError(detail ?? `The backend rejected the request (HTTP ${status}).`);
  }
  const message = `The ${pool} backend failed (HTTP ${status})${detail ? `: ${detail}` : '.'}`;
  if (status === 408 || status === 504) return new UpstreamError(message, 504, true, pool, status);
  if (status === 429 || status === 503) return new UpstreamError(message, 503, true, pool, status);
  if (status >= 500) return new UpstreamError(message, 502, true, pool, status);
  return new UpstreamError(message, 502, false, pool, status);
}

function upstreamMessage(text: string): string | undefined {
  try {
    const parsed = JSON.parse(text) as { error?: { message?: unknown } | string; message?: unknown };
    const msg = typeof parsed.error === 'object' ? parsed.error?.message : (parsed.error ?? parsed.message);
    return typeof msg === 'string' ? msg.slice(0, 500) : undefined;
  } catch {
    return text ? text.slice(0, 200) : undefined;
  }
}

async function readBounded(body: Dispatcher.ResponseData['body']): Promise<string> {
  let text = '';
  try {
    for await (const chunk of body) {
      text += chunk.toString();
      if (text.length > MAX_ERROR_BODY) break;
    }
  } catch {
    // the error body is best effort; the status is what matters
  }
  body.destroy();
  return text.slice(0, MAX_ERROR_BODY);
}
