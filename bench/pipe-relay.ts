/**
 * The bare pass-through's upstream side, shared by the bare pipe (bench/bare-pipe.ts) and the
 * Lambda floor (bench/lambda-floor.ts): node:http keep-alive agent, the body sent unchanged to the
 * aggregated backend, or vLLM NIXL's prefill then decode (bench/nixl.ts). No auth, no validation,
 * no metering, no re-serialisation of the stream.
 */
import { Agent, request } from 'node:http';
import type { IncomingMessage } from 'node:http';
import { decodeBody, kvParamsOf, prefillBody } from './nixl.ts';
import type { JsonBody } from './nixl.ts';
import { readBody } from '../lambda/core/read-body.ts';

/** The backends a relay calls. */
export interface RelayBackends {
  readonly agg?: string;
  readonly prefill?: string;
  readonly decode?: string;
}

/** One relayed request: where to, and what. */
export interface RelayRequest {
  readonly path: string;
  /** `disagg`: prefill then decode; anything else: the aggregated backend. */
  readonly route: string | undefined;
  readonly requestId: string | undefined;
  readonly body: string;
}

/**
 * A relay over `backends`: resolves with the answer to pipe back (its body still to read): the
 * aggregated backend's, or the decode call's (the prefill's when prefill failed).
 *
 * @example
 * const relay = pipeRelay({ agg: 'http://127.0.0.1:8000' });
 * const up = await relay({ path: '/v1/chat/completions', route: 'agg', requestId: undefined, body });
 */
export function pipeRelay(backends: RelayBackends): (req: RelayRequest) => Promise<IncomingMessage> {
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const post = (base: string, path: string, headers: Record<string, string>, body: string): Promise<IncomingMessage> =>
    new Promise((resolve, reject) => {
      const url = new URL(path, base);
      const up = request({ hostname: url.hostname, port: url.port, path: url.pathname, method: 'POST', agent, headers: { ...headers, 'content-length': Buffer.byteLength(body) } }, resolve);
      up.once('error', reject);
      up.end(body);
    });
  return async ({ path, route, requestId, body }) => {
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (requestId !== undefined) headers['x-request-id'] = requestId;
    if (route !== 'disagg') {
      if (!backends.agg) throw new Error('no --agg backend');
      return post(backends.agg, path, headers, body);
    }
    if (!backends.prefill || !backends.decode) throw new Error('no --prefill/--decode backends');
    const parsed = JSON.parse(body) as JsonBody;
    const pre = await post(backends.prefill, path, headers, JSON.stringify(prefillBody(parsed)));
    if (pre.statusCode !== 200) return pre;
    const kv = kvParamsOf(JSON.parse(await readBody(pre)));
    return post(backends.decode, path, headers, JSON.stringify(decodeBody(parsed, kv)));
  };
}
