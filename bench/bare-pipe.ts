/**
 * The bare pass-through: the physical limit every other path of the bench is measured against.
 * node:http in front, node:http keep-alive agents behind (bench/pipe-relay.ts), `pipeline(upstream,
 * res)`; no auth, no validation, no metering, no re-serialisation of the stream.
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
import { createServer } from 'node:http';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import { parseArgs } from 'node:util';
import { pipeRelay } from './pipe-relay.ts';
import { exitWhenParentGone } from './processes.ts';
import { readBody } from '../lambda/core/read-body.ts';

const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, prefill: { type: 'string' }, decode: { type: 'string' }, agg: { type: 'string' } },
  strict: true,
});

const relay = pipeRelay(values);

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  const id = req.headers['x-request-id'];
  const route = req.headers['x-relay-route'];
  const up = await relay({
    path: req.url ?? '/v1/chat/completions',
    route: typeof route === 'string' ? route : undefined,
    requestId: typeof id === 'string' ? id : undefined,
    body: await readBody(req),
  });
  res.writeHead(up.statusCode ?? 502, { 'content-type': up.headers['content-type'] ?? 'application/json' });
  await pipeline(up, res);
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
