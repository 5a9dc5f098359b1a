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

/** Starts a recording backend answering with `responder`, on `port` (default: any free port). */
export async function startRecordingBackend(responder: Responder, port = 0): Promise<RecordingBackend> {
  const requests: Recorded[] = [];
  let current = responder;
  const server = createServer(async (req, res) => {
    let text = '';
    for await (const chunk of req) text += chunk;
    const recorded = { path: req.url ?? '/', headers: req.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
    requests.push(recorded);
    current(recorded, res);
  });
  await new Promise<void>((resolve) => server.listen(port, '127.0.0.1', resolve));
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

/**
 * An OpenAI-compatible engine (chat completions streamed or not, a vLLM prefill's
 * `kv_transfer_params`, `/health`, vLLM `/metrics`) that answers only requests carrying
 * `expected()` in `header`, and refuses the others with a 401 that echoes the value sent, as some
 * servers do.
 */
export function guardedEngine(header: string, expected: () => string): Responder {
  return (req, res) => {
    const sent = req.headers[header];
    if (sent !== expected()) {
      res.writeHead(401, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `Invalid API key: ${String(sent)}`, type: 'invalid_request_error' } }));
      return;
    }
    if (req.path === '/health') return void res.writeHead(200).end();
    if (req.path === '/metrics') return void res.writeHead(200, { 'content-type': 'text/plain' }).end('vllm:num_requests_running 0\nvllm:num_requests_waiting 0\n');
    const body = req.body;
    const usage = { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 };
    const base = { id: 'cmpl-1', created: 1, model: String(body.model) };
    if (body.stream === true) {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const chunk = (c: unknown) => res.write(`data: ${JSON.stringify({ ...base, object: 'chat.completion.chunk', ...(c as object) })}\n\n`);
      chunk({ choices: [{ index: 0, delta: { role: 'assistant', content: 'ok' }, finish_reason: null }] });
      chunk({ choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
      chunk({ choices: [], usage });
      res.end('data: [DONE]\n\n');
      return;
    }
    const prefill = (body.kv_transfer_params as { do_remote_decode?: boolean } | undefined)?.do_remote_decode === true;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        ...base,
        object: 'chat.completion',
        choices: [{ index: 0, message: { role: 'assistant', content: 'ok' }, finish_reason: 'stop' }],
        usage,
        ...(prefill ? { kv_transfer_params: { remote_engine_id: 'e1', remote_block_ids: [1], remote_host: '127.0.0.1', remote_port: 1 } } : {}),
      }),
    );
  };
}
