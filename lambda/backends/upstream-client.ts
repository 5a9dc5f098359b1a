/**
 * HTTP transport towards backend servers. {@link UpstreamTransport} is what the backends call;
 * {@link UpstreamClient} implements it on `node:http` with keep-alive agents (a connection pool per
 * origin, no TCP handshake per request, and no HTTP library in the Lambda bundles): the one
 * transport, in Lambda and in the local servers (an undici transport measured no faster, side by
 * side). Transport failures and upstream statuses map to typed gateway errors here, once.
 */
// Called through the module objects, not named imports: tracing (lambda/handlers/tracing.ts)
// instruments `http.request`/`https.request` on those objects.
import http from 'node:http';
import type { IncomingMessage, RequestOptions } from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import { InvalidRequestError, UpstreamError } from '../core/errors.ts';
import { readBody } from '../core/read-body.ts';
import type { UpstreamBody, UpstreamCall, UpstreamReply, UpstreamTransport } from '../core/backend-ports.ts';

/** A `node:http` response as an {@link UpstreamBody}. */
export function nodeReplyBody(res: Readable): UpstreamBody {
  return {
    [Symbol.asyncIterator]: () => res[Symbol.asyncIterator](),
    text: () => readBody(res),
    cancel: () => {
      if (!res.destroyed) res.destroy();
    },
  };
}

/** Options of {@link UpstreamClient}. */
export interface UpstreamClientOptions {
  /** Maximum connections per origin. @default 256 */
  readonly connections?: number;
}

/** Bytes of a non-2xx answer's body kept for the error message. */
export const MAX_ERROR_BODY = 2048;

/** Raised when a connection stays silent longer than the call's timeout. */
export class UpstreamTimeout extends Error {
  readonly code = 'UPSTREAM_TIMEOUT';
}

interface Origin {
  readonly https: boolean;
  readonly hostname: string;
  readonly port: number;
}

/** Keep-alive `node:http` transport for backend calls. */
export class UpstreamClient implements UpstreamTransport {
  private readonly httpAgent: http.Agent;
  private readonly httpsAgent: https.Agent;
  private readonly origins = new Map<string, Origin>();

  constructor(options: UpstreamClientOptions = {}) {
    const agentOptions = { keepAlive: true, maxSockets: options.connections ?? 256, scheduling: 'lifo' as const };
    this.httpAgent = new http.Agent(agentOptions);
    this.httpsAgent = new https.Agent(agentOptions);
  }

  private origin(endpoint: string): Origin {
    let origin = this.origins.get(endpoint);
    if (!origin) {
      const url = new URL(endpoint);
      const https = url.protocol === 'https:';
      origin = { https, hostname: url.hostname.replace(/^\[|\]$/g, ''), port: Number(url.port) || (https ? 443 : 80) };
      this.origins.set(endpoint, origin);
    }
    return origin;
  }

  /**
   * POSTs JSON and resolves once the upstream answered 2xx with headers; the body is left to
   * the caller (streamed or read whole). Non-2xx answers and transport failures throw typed errors.
   */
  post(call: UpstreamCall): Promise<UpstreamReply> {
    const origin = this.origin(call.endpoint);
    const payload = JSON.stringify(call.body);
    const options: RequestOptions = {
      agent: origin.https ? this.httpsAgent : this.httpAgent,
      hostname: origin.hostname,
      port: origin.port,
      path: call.path,
      method: 'POST',
      // Built here from scratch: nothing of the client's request (its Authorization above all) reaches a backend.
      headers: { ...call.headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload), 'x-request-id': call.requestId },
      signal: call.signal,
      timeout: call.timeoutMs,
    };
    return new Promise<UpstreamReply>((resolve, reject) => {
      const req = origin.https ? https.request(options) : http.request(options);
      let reply: IncomingMessage | undefined;
      req.on('timeout', () => {
        // Silence mid-body too: the body reader then fails with the timeout, not a reset.
        const timeout = new UpstreamTimeout('upstream timed out');
        reply?.destroy(timeout);
        req.destroy(timeout);
      });
      req.on('error', (err) => reject(transportError(err, call)));
      req.on('response', (res) => {
        reply = res;
        const status = res.statusCode ?? 502;
        if (status >= 200 && status < 300) resolve({ status, body: nodeReplyBody(res) });
        else readBounded(res).then((text) => reject(statusError(status, text, call.pool)));
      });
      req.end(payload);
    });
  }

  /** Closes every pooled connection. */
  async close(): Promise<void> {
    this.httpAgent.destroy();
    this.httpsAgent.destroy();
  }
}

/** Maps a transport-level failure (refused, reset, timeout, abort) to a gateway error. */
export function transportError(err: unknown, call: Pick<UpstreamCall, 'pool' | 'signal'>): Error {
  if (call.signal.aborted) return call.signal.reason instanceof Error ? call.signal.reason : new Error('aborted');
  const code = (err as { code?: string }).code ?? 'unknown';
  if (err instanceof UpstreamTimeout || code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
    return new UpstreamError(`The ${call.pool} backend timed out.`, 504, true, call.pool);
  }
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

/** Reads at most a few KB of an error body (for its message), then drops the rest. */
export async function readBounded(body: Readable): Promise<string> {
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
