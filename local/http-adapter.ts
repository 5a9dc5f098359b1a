/**
 * The Node HTTP adapter: serves the gateway core on a local port, HTTP/1.1 and cleartext HTTP/2
 * on the same port (local/h2c-listener.ts). Translates `node:http` requests
 * to {@link GatewayRequest}s, writes responses (streams chunk by chunk, honouring back-pressure, as the Lambda handler does),
 * and aborts the request's signal when the client goes away so upstream calls are cancelled.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dualProtocolServer } from './h2c-listener.ts';
import { MAX_BODY_BYTES, PAYLOAD_TOO_LARGE_BODY } from '../lambda/core/body-limit.ts';
import type { Gateway } from '../lambda/core/gateway.ts';
import { readBody } from '../lambda/core/read-body.ts';
import type { GatewayRequest, GatewayResponse } from '../lambda/core/http-types.ts';
import { writeBody } from '../lambda/handlers/write-stream.ts';

/** A running HTTP server. */
export interface RunningServer {
  readonly url: string;
  readonly port: number;
  /** The HTTP/1.1 server; HTTP/2 requests on the same port are emitted on it too (its `request` listeners see both). */
  readonly server: Server;
  /** Stops taking connections and closes the idle ones; requests in flight go on. */
  stopAccepting(): void;
  close(): Promise<void>;
}

/**
 * Request headers as single string values. Node already joins repeated request headers into one
 * string, except `set-cookie` (always an array): only a request carrying one needs a copy.
 */
export function flatHeaders(req: IncomingMessage): Record<string, string | undefined> {
  const headers = req.headers;
  if (headers['set-cookie'] === undefined) return headers as Record<string, string | undefined>;
  const out: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(headers)) out[name] = Array.isArray(value) ? value.join(', ') : value;
  return out;
}

/**
 * Writes a gateway response to a Node response, streaming an iterable body as it is produced,
 * with the writer the Lambda handler uses (lambda/handlers/write-stream.ts). Stops pulling (and
 * so cancels the upstream) when the client disconnects.
 */
export async function writeResponse(res: ServerResponse, response: GatewayResponse): Promise<void> {
  res.writeHead(response.status, response.headers);
  // A whole body leaves with the head and the end in one write (no Lambda prelude to wait for here).
  if (typeof response.body === 'string') res.end(response.body);
  else await writeBody(res, response.body);
}

/** A `node:http` request listener over the gateway. */
export function nodeHandler(gateway: Gateway) {
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const controller = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) controller.abort(new Error('client disconnected'));
    });
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined) {
      // `connection` is an HTTP/1.1 header: HTTP/2 refuses it (the stream ends on its own).
      res.writeHead(413, { 'content-type': 'application/json', ...(req.httpVersionMajor === 2 ? {} : { connection: 'close' }) }).end(PAYLOAD_TOO_LARGE_BODY);
      return;
    }
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const request: GatewayRequest = {
      method: req.method ?? 'GET',
      path: q === -1 ? url : url.slice(0, q),
      headers: flatHeaders(req),
      body,
      signal: controller.signal,
    };
    await writeResponse(res, await gateway(request));
  };
}

/**
 * Starts an HTTP server on `host:port` (port 0: ephemeral) whose requests, HTTP/1.1 or cleartext
 * HTTP/2 (prior knowledge), go to `listener`.
 */
export async function listen(
  listener: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  port = 0,
  host = '127.0.0.1',
): Promise<RunningServer> {
  const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
    listener(req, res).catch(() => {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end();
    });
  });
  const dual = dualProtocolServer(server);
  await new Promise<void>((resolve, reject) => {
    dual.net.once('error', reject);
    dual.net.listen(port, host, () => resolve());
  });
  // The HTTP/1.1 server tracks its connections (for closeIdleConnections/closeAllConnections, and
  // its header timeouts) from its 'listening' event; the socket server listens in its place.
  server.emit('listening');
  const actual = (dual.net.address() as AddressInfo).port;
  return {
    url: `http://${host}:${actual}`,
    port: actual,
    server,
    stopAccepting: () => {
      dual.net.close();
      server.close();
      dual.closeIdleSessions();
    },
    close: () =>
      new Promise<void>((resolve) => {
        dual.net.close(() => resolve());
        server.closeAllConnections();
        server.close();
        dual.destroyConnections();
      }),
  };
}

/** Serves the gateway over HTTP. */
export function serveGateway(gateway: Gateway, port = 0, host = '127.0.0.1'): Promise<RunningServer> {
  return listen(nodeHandler(gateway), port, host);
}
