/**
 * A minimal pass-through relay (node:http in front, undici keep-alive pools behind; no auth, no
 * validation, no metering): the overload bench's FIFO relay (bench/overload/run.ts). The main
 * bench's anchor is bench/bare-pipe.ts (node:http on both sides, `pipeline()`).
 *
 * - `x-relay-route: agg` (default): the body goes unchanged to the aggregated backend and the
 *   answer streams back as it arrives.
 * - `x-relay-route: disagg`: vLLM NIXL: prefill call (stream:false, max_tokens:1,
 *   kv_transfer_params {do_remote_decode:true,…}), then the streamed decode call with the original
 *   body plus prefill's kv_transfer_params; the same X-Request-Id on both calls.
 *
 * Usage: `node --import tsx bench/minimal-relay.ts --prefill URL --decode URL --agg URL [--port 0]`;
 * prints `minimal-relay listening on http://127.0.0.1:<port>`.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { Pool } from 'undici';
import type { Dispatcher } from 'undici';
import { decodeBody, kvParamsOf, prefillBody } from './nixl.ts';
import type { JsonBody } from './nixl.ts';
import { exitWhenParentGone } from './processes.ts';
import { readBody } from '../lambda/core/read-body.ts';

const { values } = parseArgs({
  options: {
    port: { type: 'string', default: '0' },
    prefill: { type: 'string' },
    decode: { type: 'string' },
    agg: { type: 'string' },
  },
  strict: true,
});

const poolOptions = { connections: 512, keepAliveTimeout: 60_000, headersTimeout: 60_000, bodyTimeout: 60_000 };
const pool = (url: string | undefined): Pool | undefined => (url ? new Pool(url, poolOptions) : undefined);
const prefillPool = pool(values.prefill);
const decodePool = pool(values.decode);
const aggPool = pool(values.agg);

function fail(res: ServerResponse, status: number, message: string): void {
  const text = JSON.stringify({ error: { message, type: 'upstream_error', param: null, code: null } });
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Streams an upstream answer to the client as it arrives (status and content type kept). */
async function relayAnswer(res: ServerResponse, up: Dispatcher.ResponseData, requestId: string | undefined): Promise<void> {
  const headers: Record<string, string> = { 'content-type': String(up.headers['content-type'] ?? 'application/json') };
  if (requestId) headers['x-request-id'] = requestId;
  res.writeHead(up.statusCode, headers);
  await pipeline(up.body, res);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = req.url ?? '/v1/chat/completions';
  const raw = await readBody(req);
  const headerId = req.headers['x-request-id'];
  const requestId = (Array.isArray(headerId) ? headerId[0] : headerId) ?? randomUUID();
  const headers = { 'content-type': 'application/json', 'x-request-id': requestId };
  if (req.headers['x-relay-route'] !== 'disagg') {
    if (!aggPool) return fail(res, 502, 'no --agg backend');
    const up = await aggPool.request({ path, method: 'POST', headers, body: raw });
    return relayAnswer(res, up, requestId);
  }
  if (!prefillPool || !decodePool) return fail(res, 502, 'no --prefill/--decode backends');
  const body = JSON.parse(raw) as JsonBody;
  const pre = await prefillPool.request({ path, method: 'POST', headers, body: JSON.stringify(prefillBody(body)) });
  if (pre.statusCode !== 200) return relayAnswer(res, pre, requestId);
  const kv = kvParamsOf(await pre.body.json());
  const up = await decodePool.request({ path, method: 'POST', headers, body: JSON.stringify(decodeBody(body, kv)) });
  return relayAnswer(res, up, requestId);
}

const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    if (!res.headersSent) fail(res, 502, `relay: ${(err as Error).message}`);
    else res.destroy();
  });
});
server.keepAliveTimeout = 120_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  process.stdout.write(`minimal-relay listening on http://127.0.0.1:${port}\n`);
});
exitWhenParentGone(() => server.close());
