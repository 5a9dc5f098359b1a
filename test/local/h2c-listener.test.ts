/**
 * One cleartext port for HTTP/1.1 and HTTP/2 (local/h2c-listener.ts, through local/http-adapter.ts's
 * `listen`): a `fetch` client and a prior-knowledge HTTP/2 client reach the same handler, an HTTP/2
 * stream is flushed write by write, and closing the server ends connections of both kinds.
 */
import { connect } from 'node:http2';
import { connect as connectTcp } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dualProtocolServer, isHttp2Preface, HTTP2_PREFACE } from '../../local/h2c-listener.ts';
import type { RunningServer } from '../../local/http-adapter.ts';
import { listen } from '../../local/http-adapter.ts';

describe('h2c and HTTP/1.1 on one port', () => {
  let server: RunningServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('tells the HTTP/2 preface from an HTTP/1.1 request line, waiting while too few bytes have come', () => {
    expect(isHttp2Preface(HTTP2_PREFACE)).toBe(true);
    expect(isHttp2Preface(HTTP2_PREFACE.subarray(0, 5))).toBeUndefined();
    expect(isHttp2Preface(Buffer.from('POST /v1/chat/completions HTTP/1.1\r\n'))).toBe(false);
    expect(isHttp2Preface(Buffer.from('PRI * HTTP/1.1'))).toBe(false);
  });

  it('serves both protocols on one port with one handler, an HTTP/2 response flushed per write', async () => {
    server = await listen(async (req, res) => {
      let body = '';
      for await (const chunk of req) body += String(chunk);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.write(`HTTP/${req.httpVersion} ${req.method} ${req.url} ${body}|`);
      await new Promise((resolve) => setTimeout(resolve, 30));
      res.end('end');
    });
    const h1 = await fetch(`${server.url}/one`, { method: 'POST', body: 'a' });
    expect(await h1.text()).toBe('HTTP/1.1 POST /one a|end');

    const session = connect(server.url);
    const stream = session.request({ ':method': 'POST', ':path': '/two' });
    stream.end('b');
    const chunks: string[] = [];
    stream.on('data', (chunk: Buffer) => chunks.push(chunk.toString('utf8')));
    const status = await new Promise<number>((resolve) => stream.on('response', (headers) => resolve(Number(headers[':status']))));
    await new Promise((resolve) => stream.on('end', resolve));
    session.close();
    expect(status).toBe(200);
    expect(chunks).toEqual(['HTTP/2.0 POST /two b|', 'end']);
  });

  it('an HTTP/2 stream the client resets, or whose connection closes, reads as abandoned: not finished, destroyed', async () => {
    const seen: Array<{ finished: boolean; destroyed: boolean }> = [];
    server = await listen(async (_req, res) => {
      res.writeHead(200);
      res.write('first');
      res.on('close', () => seen.push({ finished: res.writableFinished, destroyed: (res as unknown as { destroyed: boolean }).destroyed }));
    });
    for (const leave of ['reset', 'socket'] as const) {
      const tcp = connectTcp(server.port, '127.0.0.1');
      const session = connect(server.url, { createConnection: () => tcp });
      const stream = session.request({ ':path': '/' });
      await new Promise((resolve) => stream.once('data', resolve));
      if (leave === 'reset') stream.close();
      else tcp.destroy();
      const deadline = Date.now() + 2000;
      while (seen.length < (leave === 'reset' ? 1 : 2) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 10));
      session.destroy();
    }
    expect(seen).toEqual([
      { finished: false, destroyed: true },
      { finished: false, destroyed: true },
    ]);
  });

  it('closes a connection that has not told its protocol within the headers timeout (silent, or the preface cut short), and on drain', async () => {
    const h1 = createServer({ headersTimeout: 300, requestTimeout: 600 }, (_req, res) => void res.end('ok'));
    const dual = dualProtocolServer(h1);
    await new Promise<void>((resolve) => dual.net.listen(0, '127.0.0.1', resolve));
    const { port } = dual.net.address() as AddressInfo;
    const open = (first?: Buffer) =>
      new Promise<number>((resolve, reject) => {
        const started = Date.now();
        const socket = connectTcp(port, '127.0.0.1', () => first && socket.write(first));
        socket.on('error', reject);
        socket.on('close', () => resolve(Date.now() - started));
        socket.resume();
      });
    try {
      const [silent, cut] = await Promise.all([open(), open(HTTP2_PREFACE.subarray(0, 3))]);
      for (const ms of [silent, cut]) {
        expect(ms).toBeGreaterThanOrEqual(250);
        expect(ms).toBeLessThan(3000);
      }
      // Draining closes a connection that has sent nothing yet, without waiting for the timeout.
      const waiting = open();
      await new Promise((resolve) => setTimeout(resolve, 50));
      dual.closeIdleSessions();
      expect(await waiting).toBeLessThan(250);
    } finally {
      dual.destroyConnections();
      await new Promise((resolve) => dual.net.close(resolve));
    }
  });

  it('close() ends open HTTP/2 sessions and idle HTTP/1.1 connections at once', async () => {
    server = await listen(async (_req, res) => void res.end('ok'));
    const session = connect(server.url);
    const stream = session.request({ ':path': '/' });
    stream.resume();
    await new Promise((resolve) => stream.on('end', resolve));
    await fetch(server.url).then((r) => r.text());
    const closed = new Promise((resolve) => session.on('close', resolve));
    const started = Date.now();
    await server.close();
    server = undefined;
    await closed;
    expect(Date.now() - started).toBeLessThan(1000);
  });
});
