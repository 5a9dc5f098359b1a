/**
 * A small recording fake of a vLLM / OpenAI-compatible server on a real loopback port: it records
 * every request (path, headers, parsed body) and answers from a script, so tests can assert
 * exactly what the gateway sends.
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** One recorded request. */
export interface Recorded {
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly body: Record<string, unknown>;
}

/** How the fake answers one request. */
export type Responder = (req: Recorded, res: ServerResponse) => void;

/** A running recording backend. */
export interface RecordingBackend {
  readonly url: string;
  readonly requests: Recorded[];
  respond(responder: Responder): void;
  close(): Promise<void>;
}

/** Starts a recording backend answering with `responder`. */
export async function startRecordingBackend(responder: Responder): Promise<RecordingBackend> {
  const requests: Recorded[] = [];
  let current = responder;
  const server = createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const recorded = { path: req.url ?? '/', headers: req.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    requests.push(recorded);
    current(recorded, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    respond: (r) => (current = r),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Answers JSON. */
export function json(status: number, body: unknown): Responder {
  return (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));
  };
}

/** Answers an SSE stream of `payloads` (objects are JSON-encoded), then `[DONE]`. */
export function sse(payloads: readonly unknown[]): Responder {
  return (_req, res) => {
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    for (const p of payloads) res.write(`data: ${typeof p === 'string' ? p : JSON.stringify(p)}\n\n`);
    res.end('data: [DONE]\n\n');
  };
}
