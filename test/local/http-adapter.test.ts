/**
 * The Node adapter's writes (the Lambda handler's writer, lambda/handlers/write-stream.ts): a
 * string body in one `end` with its length, a stream's chunks as they come, nothing lost, and the
 * upstream released when the client goes away.
 */
import { ServerResponse, request } from 'node:http';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { GatewayResponse } from '../../lambda/core/http-types.ts';
import type { RunningServer } from '../../local/http-adapter.ts';
import { serveGateway } from '../../local/http-adapter.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** POSTs and records each body chunk with the time it arrived. */
function post(url: string): Promise<Array<{ text: string; at: number }>> {
  return new Promise((resolve, reject) => {
    const start = Date.now();
    const req = request(`${url}/x`, { method: 'POST' }, (res) => {
      const seen: Array<{ text: string; at: number }> = [];
      res.setEncoding('utf8');
      res.on('data', (text: string) => seen.push({ text, at: Date.now() - start }));
      res.on('end', () => resolve(seen));
    });
    req.on('error', reject);
    req.end('{}');
  });
}

let server: RunningServer | undefined;
afterEach(async () => {
  vi.restoreAllMocks();
  await server?.close();
  server = undefined;
});

function serve(body: () => AsyncIterable<string>): Promise<RunningServer> {
  return serveGateway(async (): Promise<GatewayResponse> => ({ status: 200, headers: { 'content-type': 'text/event-stream' }, body: body() }));
}

describe('streamed writes of the Node adapter', () => {
  it('sends a string body in one end; a stream chunk by chunk, in order', async () => {
    const writes = vi.spyOn(ServerResponse.prototype, 'write');
    const ends = vi.spyOn(ServerResponse.prototype, 'end');
    server = await serveGateway(async (): Promise<GatewayResponse> => ({ status: 200, headers: { 'content-type': 'application/json' }, body: '{"ok":true}' }));
    const text = await new Promise<string>((resolve, reject) => {
      const req = request(`${server!.url}/x`, { method: 'POST' }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (body += chunk));
        res.on('end', () => resolve(body));
      });
      req.on('error', reject);
      req.end('{}');
    });
    expect(text).toBe('{"ok":true}');
    expect(writes).not.toHaveBeenCalled();
    expect(ends.mock.calls.map((c) => c[0])).toContain('{"ok":true}');
    await server.close();
    server = await serve(async function* () {
      yield 'data: 1\n\n';
      yield 'data: 2\n\n';
      yield 'data: [DONE]\n\n';
    });
    const seen = await post(server.url);
    expect(seen.map((s) => s.text).join('')).toBe('data: 1\n\ndata: 2\n\ndata: [DONE]\n\n');
  });

  it('writes each chunk as soon as it is produced, and keeps the last one', async () => {
    server = await serve(async function* () {
      yield 'data: 1\n\n';
      await sleep(80);
      yield 'data: 2\n\n';
      await sleep(80);
      yield 'data: [DONE]\n\n';
    });
    const seen = await post(server.url);
    expect(seen.map((s) => s.text).join('')).toBe('data: 1\n\ndata: 2\n\ndata: [DONE]\n\n');
    // The first chunk arrived well before the second was produced, 80 ms later.
    const first = seen[0]!;
    expect(first.text).toBe('data: 1\n\n');
    expect(seen.at(-1)!.at - first.at).toBeGreaterThanOrEqual(120);
  });

  it('stops pulling when the client goes away', async () => {
    let pulled = 0;
    let returned = false;
    server = await serve(() => ({
      [Symbol.asyncIterator]: () => ({
        next: async () => {
          pulled += 1;
          await sleep(10);
          return { done: false, value: `data: ${pulled}\n\n` };
        },
        return: async () => {
          returned = true;
          return { done: true, value: undefined };
        },
      }),
    }));
    await new Promise<void>((resolve) => {
      const req = request(`${server!.url}/x`, { method: 'POST' }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.end('{}');
    });
    await sleep(100);
    expect(returned).toBe(true);
    const after = pulled;
    await sleep(60);
    expect(pulled).toBe(after);
  });
});
