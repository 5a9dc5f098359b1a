/**
 * The upstream transport (node:http, in Lambda and local servers alike) against a real
 * loopback server: bodies stream chunk by chunk, a slow reader loses nothing, cancelling or
 * aborting closes the upstream connection, and error bodies are bounded.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { UpstreamClient } from '../../lambda/backends/upstream-client.ts';
import { UpstreamError } from '../../lambda/core/errors.ts';
import type { UpstreamCall, UpstreamTransport } from '../../lambda/core/backend-ports.ts';

const TRANSPORTS: Array<[string, () => UpstreamTransport]> = [
  ['node:http', () => new UpstreamClient()],
];

type Route = (req: IncomingMessage, res: ServerResponse) => void;

/** A server whose answer per path is set by each test; it records connections that closed. */
async function startServer(routes: Record<string, Route>): Promise<{ url: string; closed: string[]; server: Server }> {
  const closed: string[] = [];
  const server = createServer((req, res) => {
    const path = req.url ?? '/';
    res.on('close', () => {
      if (!res.writableFinished) closed.push(path);
    });
    req.resume();
    req.on('end', () => routes[path]?.(req, res));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, closed, server };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(check: () => boolean, ms = 2000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await sleep(5);
  }
}

describe.each(TRANSPORTS)('the %s upstream transport', (_name, makeTransport) => {
  const transport = makeTransport();
  let server: Awaited<ReturnType<typeof startServer>>;
  const call = (path: string, signal = new AbortController().signal): UpstreamCall => ({
    endpoint: server.url,
    path,
    body: { model: 'm' },
    requestId: 'r1',
    signal,
    timeoutMs: 2000,
    pool: 'gpu',
  });

  beforeAll(async () => {
    server = await startServer({
      // Three chunks 30 ms apart: the first must reach the reader before the last is written.
      '/drip': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        let n = 0;
        const timer = setInterval(() => {
          n += 1;
          if (n < 3) res.write(`chunk ${n};`);
          else {
            clearInterval(timer);
            res.end('chunk 3;');
          }
        }, 30);
      },
      // Many chunks at once: a reader slower than the writer must still get every byte in order.
      '/flood': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/plain' });
        let i = 0;
        const write = () => {
          while (i < 2000) {
            const line = `line ${i++}\n`;
            if (!res.write(line)) return void res.once('drain', write);
          }
          res.end();
        };
        write();
      },
      // Never ends: only a cancel or an abort finishes it.
      '/endless': (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('first;');
      },
      '/big-error': (_req, res) => {
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { message: 'x'.repeat(100_000) } }));
      },
      '/silent': () => undefined,
    });
  });
  afterAll(async () => {
    await transport.close();
    server.server.closeAllConnections();
    await new Promise((r) => server.server.close(r));
  });

  it('hands over each chunk as it arrives', async () => {
    const reply = await transport.post(call('/drip'));
    const seen: Array<{ text: string; at: number }> = [];
    const start = Date.now();
    for await (const chunk of reply.body) seen.push({ text: Buffer.from(chunk).toString('utf8'), at: Date.now() - start });
    expect(seen.map((s) => s.text).join('')).toBe('chunk 1;chunk 2;chunk 3;');
    expect(seen.length).toBeGreaterThanOrEqual(3);
    // The first chunk was read well before the server wrote the last one (~60 ms later).
    expect(seen.at(-1)!.at - seen[0]!.at).toBeGreaterThanOrEqual(40);
  });

  it('loses nothing when the reader is slower than the backend', async () => {
    const reply = await transport.post(call('/flood'));
    let text = '';
    let reads = 0;
    for await (const chunk of reply.body) {
      text += Buffer.from(chunk).toString('utf8');
      if (++reads % 8 === 0) await sleep(1);
    }
    const lines = text.trimEnd().split('\n');
    expect(lines).toHaveLength(2000);
    expect(lines.every((line, i) => line === `line ${i}`)).toBe(true);
  });

  it('reads a whole body as text', async () => {
    const reply = await transport.post(call('/drip'));
    expect(await reply.body.text()).toBe('chunk 1;chunk 2;chunk 3;');
  });

  it('closes the upstream connection when the reader cancels', async () => {
    const reply = await transport.post(call('/endless'));
    const first = await reply.body[Symbol.asyncIterator]().next();
    expect(Buffer.from(first.value as Uint8Array).toString('utf8')).toBe('first;');
    const before = server.closed.length;
    reply.body.cancel();
    reply.body.cancel();
    await until(() => server.closed.length > before);
    expect(server.closed.at(-1)).toBe('/endless');
  });

  it('closes the upstream connection when the call is aborted mid-body, and the reader sees the reason', async () => {
    const controller = new AbortController();
    const reply = await transport.post(call('/endless', controller.signal));
    const reader = reply.body[Symbol.asyncIterator]();
    await reader.next();
    const before = server.closed.length;
    const pending = reader.next();
    controller.abort(new Error('client went away'));
    await expect(pending).rejects.toThrow();
    await until(() => server.closed.length > before);
    expect(server.closed.at(-1)).toBe('/endless');
  });

  it('rejects with the abort reason when aborted before the answer', async () => {
    const controller = new AbortController();
    const pending = transport.post(call('/silent', controller.signal));
    await sleep(20);
    controller.abort(new Error('client went away'));
    await expect(pending).rejects.toThrow('client went away');
  });

  it('maps a non-2xx answer with a large body to an upstream error with a bounded message', async () => {
    const err = (await transport.post(call('/big-error')).catch((e: unknown) => e)) as UpstreamError;
    expect(err).toBeInstanceOf(UpstreamError);
    expect([err.statusCode, err.upstreamStatus]).toEqual([502, 500]);
    expect(err.message.length).toBeLessThan(3000);
  });
});
