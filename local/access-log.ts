/**
 * The local runtimes' access log: one readable line per request once its response has ended
 * (streams included), for a person watching `npm start`. Deployed, API Gateway keeps its own
 * access log; this one exists only on a laptop. Never logs headers or bodies (keys stay out).
 */
import type { IncomingMessage, Server, ServerResponse } from 'node:http';

/** What one access-log line says. */
export interface AccessEntry {
  /** When the request arrived (epoch ms). */
  readonly at: number;
  readonly method: string;
  /** The path, without the query string. */
  readonly path: string;
  readonly status: number;
  /** From arrival to the response's end (or to the client going away). */
  readonly ms: number;
  /** The `x-request-id` the gateway answered with, when it did. */
  readonly requestId: string | undefined;
  /** The client went away before the response ended. */
  readonly clientClosed: boolean;
}

/**
 * Calls `onEntry` once per request `server` answers, when its response ends or its client goes
 * away. It runs before the server's own request handler and only observes: that handler is untouched.
 *
 * @example
 * observeRequests(running.server, (entry) => process.stdout.write(`${formatAccessLine(entry)}\n`));
 */
export function observeRequests(server: Server, onEntry: (entry: AccessEntry) => void): void {
  server.prependListener('request', (req: IncomingMessage, res: ServerResponse) => {
    const at = Date.now();
    const started = performance.now();
    // Headers given to writeHead() directly are not kept where getHeader() reads: note the id there.
    let requestId: unknown;
    const writeHead = res.writeHead;
    res.writeHead = function (this: ServerResponse, ...args: Parameters<typeof writeHead>) {
      const headers = (args as unknown[]).find((a) => typeof a === 'object' && a !== null && !Array.isArray(a)) as Record<string, unknown> | undefined;
      requestId = headers?.['x-request-id'];
      return writeHead.apply(this, args);
    } as typeof writeHead;
    res.once('close', () => {
      requestId ??= res.getHeader('x-request-id');
      onEntry({
        at,
        method: req.method ?? 'GET',
        path: (req.url ?? '/').split('?')[0]!,
        status: res.statusCode,
        ms: performance.now() - started,
        requestId: typeof requestId === 'string' ? requestId : undefined,
        clientClosed: !res.writableFinished,
      });
    });
  });
}

/**
 * One access-log line: time of arrival (UTC), method, path, status, duration, request id.
 *
 * @example
 * formatAccessLine({ at: Date.UTC(2026, 0, 2, 3, 4, 5), method: 'POST', path: '/v1/chat/completions', status: 200, ms: 41.6, requestId: 'req_1', clientClosed: false });
 * // '03:04:05 POST /v1/chat/completions 200 42 ms req_1'
 */
export function formatAccessLine(entry: AccessEntry): string {
  const time = new Date(entry.at).toISOString().slice(11, 19);
  const parts = [time, entry.method, entry.path, String(entry.status), `${Math.round(entry.ms)} ms`];
  if (entry.requestId) parts.push(entry.requestId);
  if (entry.clientClosed) parts.push('(client went away)');
  return parts.join(' ');
}
