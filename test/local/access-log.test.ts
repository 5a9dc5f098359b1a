/**
 * The local access log: one entry per request on a real server, the request id the response was
 * given (through writeHead or setHeader), a client that went away, and the line it prints.
 */
import { createServer, type Server } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { formatAccessLine, observeRequests, type AccessEntry } from '../../local/access-log.ts';

let server: Server | undefined;
afterEach(async () => {
  server?.closeAllConnections();
  await new Promise((resolve) => server?.close(resolve) ?? resolve(undefined));
  server = undefined;
});

async function serve(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; entries: AccessEntry[]; next: () => Promise<AccessEntry> }> {
  server = createServer(handler);
  const entries: AccessEntry[] = [];
  const waiting: Array<(e: AccessEntry) => void> = [];
  let taken = 0;
  observeRequests(server, (entry) => {
    entries.push(entry);
    waiting.shift()?.(entry);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as AddressInfo;
  // The entries in order: the next one not yet taken, now or when it comes.
  const next = () => new Promise<AccessEntry>((resolve) => {
    const index = taken++;
    if (index < entries.length) resolve(entries[index]!);
    else waiting.push(resolve);
  });
  return { url: `http://127.0.0.1:${port}`, entries, next };
}

describe('observeRequests', () => {
  it('gives one entry per request once its response ended, with the id it was answered with', async () => {
    const { url, entries, next } = await serve((req, res) => {
      if (req.url?.startsWith('/set')) {
        res.setHeader('x-request-id', 'req_set');
        res.statusCode = 404;
        res.end('{}');
      } else res.writeHead(200, { 'content-type': 'text/plain', 'x-request-id': 'req_head' }).end('ok');
    });
    expect((await fetch(`${url}/v1/models?x=1`)).status).toBe(200);
    const first = await next();
    expect(first).toMatchObject({ method: 'GET', path: '/v1/models', status: 200, requestId: 'req_head', clientClosed: false });
    expect(first.ms).toBeGreaterThanOrEqual(0);
    expect((await fetch(`${url}/set`, { method: 'POST', body: 'x' })).status).toBe(404);
    await expect(next()).resolves.toMatchObject({ method: 'POST', path: '/set', status: 404, requestId: 'req_set' });
    expect(entries).toHaveLength(2);
  });

  it('marks a response its client left before it ended', async () => {
    const { url, next } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: 1\n\n'); // and never ends
    });
    const controller = new AbortController();
    const res = await fetch(`${url}/v1/chat/completions`, { signal: controller.signal });
    await res.body!.getReader().read();
    controller.abort();
    await expect(next()).resolves.toMatchObject({ path: '/v1/chat/completions', status: 200, clientClosed: true });
  });
});

describe('formatAccessLine', () => {
  it('is one readable line: UTC time, method, path, status, duration, request id', () => {
    const entry: AccessEntry = { at: Date.UTC(2026, 0, 2, 3, 4, 5), method: 'POST', path: '/v1/chat/completions', status: 200, ms: 41.6, requestId: 'req_1', clientClosed: false };
    expect(formatAccessLine(entry)).toBe('03:04:05 POST /v1/chat/completions 200 42 ms req_1');
    expect(formatAccessLine({ ...entry, requestId: undefined, clientClosed: true, status: 401 })).toBe('03:04:05 POST /v1/chat/completions 401 42 ms (client went away)');
  });
});
