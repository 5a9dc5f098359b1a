/**
 * The bare pass-through: the physical limit every other path of the bench is measured against.
 * node:http in front, node:http keep-alive agents behind, `pipeline(upstream, res)`; no auth, no
 * validation, no metering, no re-serialisation of the stream.
 *
 * - `x-relay-route: agg` (default): the request body goes unchanged to the aggregated backend
 *   and its answer is piped back.
 * - `x-relay-route: disagg`: vLLM NIXL (bench/nixl.ts, the gateway's own prefill body): the
 *   prefill call (stream:false, max_tokens:1, kv_transfer_params {do_remote_decode:true,…}), then
 *   the decode call with the original body plus prefill's kv_transfer_params, piped back; the same
 *   X-Request-Id on both.
 *
 * Usage: `node --import tsx bench/bare-pipe.ts --prefill URL --decode URL --agg URL [--port 0]`;
 * prints `bare-pipe listening on http://127.0.0.1:<port>`.
 */
import { Agent, createServer, request } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { decodeBody, kvParamsOf, prefillBody } from './nixl.ts';
import type { JsonBody } from './nixl.ts';
import { exitWhenParentGone } from './processes.ts';
import { readBody } from '../lambda/core/read-body.ts';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, prefill: { type: 'string' }, decode: { type: 'string' }, agg: { type: 'string' } },
  strict: true,
});

const agent = new Agent({ keepAlive: true, maxSockets: 1024 });

/** One POST upstream; resolves with the answer's head (its body still to read). */
function post(base: string, path: string, headers: Record<string, string>, body: Buffer | string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const url = new URL(path, base);
    const up = request({ hostname: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, resolve);
    up.once('error', reject);
    up.end(body);
  });
}

async function pipeBack(res: ServerResponse, up: IncomingMessage): Promise<void> {
  res.writeHead(up.statusCode ?? 502, { 'content-type': up.headers['content-type'] ?? 'application/json' });
  await pipeline(up, res);
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const path = req.url ?? '/v1/chat/completions';
  const raw = await readBody(req);
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  const id = req.headers['x-request-id'];
  if (typeof id === 'string') headers['x-request-id'] = id;
  if (req.headers['x-relay-route'] !== 'disagg') {
    if (!values.agg) throw new Error('no --agg backend');
    return pipeBack(res, await post(values.agg, path, headers, raw));
  }
  if (!values.prefill || !values.decode) throw new Error('no --prefill/--decode backends');
  const body = JSON.parse(raw) as JsonBody;
  const pre = await post(values.prefill, path, headers, JSON.stringify(prefillBody(body)));
  if (pre.statusCode !== 200) return pipeBack(res, pre);
  const kv = kvParamsOf(JSON.parse(await readBody(pre)));
  return pipeBack(res, await post(values.decode, path, headers, JSON.stringify(decodeBody(body, kv))));
}

const server = createServer((req, res) => {
  handle(req, res).catch((err: unknown) => {
    if (res.headersSent) return void res.destroy();
    res.writeHead(502, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { message: `bare-pipe: ${(err as Error).message}`, type: 'upstream_error' } }));
  });
});
server.keepAliveTimeout = 120_000;
server.listen(Number(values.port), '127.0.0.1', () => {
  process.stdout.write(`bare-pipe listening on http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
exitWhenParentGone(() => server.close());
