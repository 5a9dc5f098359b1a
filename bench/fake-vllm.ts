/**
 * A tiny fake vLLM OpenAI server, run as its own process (the bench's default backend): an 8-token
 * streamed reply, written chunk by chunk with no artificial delay; a prefill call
 * (`kv_transfer_params.do_remote_decode`) answers a 1-token completion carrying
 * `kv_transfer_params` for decode. It answers what the gateway, the bare pipe and vLLM's
 * `toy_proxy_server.py` send (the toy proxy's prefill body also carries null `remote_*` fields,
 * and its decode body `min_tokens: null`; both are ignored here, as by vLLM).
 *
 * Usage: `node --import tsx bench/fake-vllm.ts [--port 0] [--record]`; prints
 * `fake-vllm listening on http://127.0.0.1:<port>`. With `--record`, every call is kept and served
 * at `GET /_bench/requests` (for tests; off in benchmarks so memory stays flat).
 */
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { parseArgs } from 'node:util';
import { exitWhenParentGone } from './processes.ts';

/** One call as the fake saw it (recorded with `--record`). */
export interface RecordedCall {
  readonly seq: number;
  readonly path: string;
  readonly requestId: string | undefined;
  readonly kind: 'prefill' | 'decode' | 'plain';
  readonly stream: boolean;
  readonly maxTokens: unknown;
  readonly kvTransferParams: unknown;
  readonly hasStreamOptions: boolean;
}

const TOKENS = [' Hello', ' from', ' the', ' fake', ' vLLM', ' backend', ' at', ' speed'] as const;

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, record: { type: 'boolean', default: false } },
  strict: true,
});
const record = values.record === true;
const calls: RecordedCall[] = [];
let seq = 0;
let engineId = 'fake-engine';

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function readBody(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on('data', (c: Buffer) => parts.push(c));
    req.on('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    req.on('error', reject);
  });
}

function streamReply(res: ServerResponse, id: string, model: string, chat: boolean, maxTokens: number, usage: boolean): void {
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
  const created = Math.floor(Date.now() / 1000);
  const n = Math.max(1, Math.min(maxTokens, TOKENS.length));
  for (let i = 0; i < n; i++) {
    const finish = i === n - 1 ? 'length' : null;
    const choice = chat
      ? { index: 0, delta: i === 0 ? { role: 'assistant', content: TOKENS[i] } : { content: TOKENS[i] }, logprobs: null, finish_reason: finish }
      : { index: 0, text: TOKENS[i], logprobs: null, finish_reason: finish };
    const chunk = { id, object: chat ? 'chat.completion.chunk' : 'text_completion', created, model, choices: [choice] };
    res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }
  if (usage) {
    const chunk = { id, object: chat ? 'chat.completion.chunk' : 'text_completion', created, model, choices: [], usage: { prompt_tokens: 12, completion_tokens: n, total_tokens: 12 + n } };
    res.write(`data: ${JSON.stringify(chunk)}\n\n`);
  }
  res.end('data: [DONE]\n\n');
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = (req.url ?? '/').split('?')[0] ?? '/';
  if (req.method === 'GET' && (path === '/health' || path === '/v1/models')) {
    sendJson(res, 200, path === '/health' ? { status: 'ok' } : { object: 'list', data: [{ id: 'llama-3.1-8b', object: 'model' }] });
    return;
  }
  if (req.method === 'GET' && path === '/_bench/requests') {
    sendJson(res, 200, calls);
    return;
  }
  const chat = path === '/v1/chat/completions';
  if (req.method !== 'POST' || (!chat && path !== '/v1/completions')) {
    sendJson(res, 404, { error: { message: `no route ${req.method} ${path}`, type: 'invalid_request_error', param: null, code: null } });
    return;
  }
  let body: Record<string, unknown>;
  try {
    body = JSON.parse(await readBody(req)) as Record<string, unknown>;
  } catch {
    sendJson(res, 400, { error: { message: 'body is not JSON', type: 'invalid_request_error', param: null, code: null } });
    return;
  }
  const headerId = req.headers['x-request-id'];
  const requestId = Array.isArray(headerId) ? headerId[0] : headerId;
  const kv = body['kv_transfer_params'] as Record<string, unknown> | undefined;
  const kind = kv?.['do_remote_decode'] === true ? 'prefill' : kv?.['do_remote_prefill'] === true ? 'decode' : 'plain';
  const n = ++seq;
  if (record) {
    calls.push({ seq: n, path, requestId, kind, stream: body['stream'] === true, maxTokens: body['max_tokens'], kvTransferParams: kv, hasStreamOptions: 'stream_options' in body });
  }
  const id = `${chat ? 'chatcmpl' : 'cmpl'}-${requestId ?? n}`;
  const model = typeof body['model'] === 'string' ? body['model'] : 'llama-3.1-8b';
  if (kind === 'prefill') {
    const choice = chat
      ? { index: 0, message: { role: 'assistant', content: TOKENS[0] }, logprobs: null, finish_reason: 'length' }
      : { index: 0, text: TOKENS[0], logprobs: null, finish_reason: 'length' };
    sendJson(res, 200, {
      id, object: chat ? 'chat.completion' : 'text_completion', created: Math.floor(Date.now() / 1000), model, choices: [choice],
      usage: { prompt_tokens: 12, completion_tokens: 1, total_tokens: 13 },
      kv_transfer_params: { do_remote_prefill: true, do_remote_decode: false, remote_block_ids: [n, n + 1], remote_engine_id: engineId, remote_request_id: requestId ?? `req-${n}`, remote_host: '127.0.0.1', remote_port: 5600, tp_size: 1 },
    });
    return;
  }
  const maxTokens = typeof body['max_tokens'] === 'number' ? body['max_tokens'] : TOKENS.length;
  if (body['stream'] === true) {
    const opts = body['stream_options'] as Record<string, unknown> | undefined;
    streamReply(res, id, model, chat, maxTokens, opts?.['include_usage'] === true);
    return;
  }
  const text = TOKENS.slice(0, Math.max(1, Math.min(maxTokens, TOKENS.length))).join('');
  const choice = chat ? { index: 0, message: { role: 'assistant', content: text }, logprobs: null, finish_reason: 'length' } : { index: 0, text, logprobs: null, finish_reason: 'length' };
  sendJson(res, 200, { id, object: chat ? 'chat.completion' : 'text_completion', created: Math.floor(Date.now() / 1000), model, choices: [choice], usage: { prompt_tokens: 12, completion_tokens: 8, total_tokens: 20 } });
}

const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    if (!res.headersSent) sendJson(res, 500, { error: { message: String(err), type: 'server_error', param: null, code: null } });
    else res.destroy();
  });
});
server.keepAliveTimeout = 120_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  engineId = `fake-engine-${port}`;
  process.stdout.write(`fake-vllm listening on http://127.0.0.1:${port}\n`);
});
exitWhenParentGone(() => server.close());
