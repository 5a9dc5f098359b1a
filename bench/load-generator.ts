/**
 * The load generator, run as its own process (forked with an IPC channel by bench/run.ts).
 * It receives {@link BatchRequest}s, runs N streamed requests at concurrency C over keep-alive
 * undici pools, and answers with a {@link BatchResult}: TTFT (to the first `data:` chunk with
 * content) and total time per completed request, and every failure counted by kind.
 *
 * In `direct-disagg` mode it is the "client does it" baseline: it runs the vLLM NIXL prefill call
 * itself, then the streamed decode call (same X-Request-Id on both).
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { decodeBody, kvParamsOf, prefillBody } from './nixl.ts';
import type { JsonBody } from './nixl.ts';
import { exitWhenParentGone } from './processes.ts';

/** Where one batch sends its requests. */
export type LoadTarget =
  /** One streamed POST to `url` (the relay, the gateway, or an aggregated backend directly). */
  | { readonly kind: 'stream'; readonly url: string; readonly headers: Readonly<Record<string, string>>; readonly serviceTier: string }
  /** The client itself: prefill call to `prefillUrl`, then streamed decode call to `decodeUrl`. */
  | { readonly kind: 'direct-disagg'; readonly prefillUrl: string; readonly decodeUrl: string; readonly serviceTier: string };

/** Parent → load generator. */
export interface BatchRequest {
  readonly type: 'batch';
  readonly id: number;
  readonly target: LoadTarget;
  readonly requests: number;
  readonly concurrency: number;
  /** Prefix of the X-Request-Id of each request (`<prefix>-<i>`). */
  readonly requestIdPrefix: string;
}

/** Failures by kind; every failed request is counted in exactly one kind. */
export interface ErrorCounts {
  /** Non-200 answer (from the target, or from prefill in direct mode). */
  status: number;
  /** A `data: {"error": …}` event in the stream. */
  errorEvent: number;
  /** The stream ended without `data: [DONE]`. */
  missingDone: number;
  /** `[DONE]` arrived but no chunk carried content. */
  noContent: number;
  /** Connection refused/reset, timeout, malformed SSE JSON. */
  network: number;
}

/** Load generator → parent, once the batch is over. */
export interface BatchResult {
  readonly type: 'result';
  readonly id: number;
  readonly requests: number;
  readonly completed: number;
  readonly errors: ErrorCounts;
  /** The first few failure messages, for the report. */
  readonly errorSamples: readonly string[];
  /** Per completed request, ms. */
  readonly ttftMs: readonly number[];
  readonly totalMs: readonly number[];
  /** Wall time of the whole batch, ms. */
  readonly wallMs: number;
}

/** Load generator → parent, now and then during a batch. */
export interface BatchProgress {
  readonly type: 'progress';
  readonly id: number;
  readonly done: number;
}

/** The body every target receives (the gateway reads `service_tier` to pick the route). */
export function benchRequestBody(serviceTier: string): JsonBody {
  return {
    model: 'llama-3.1-8b',
    messages: [{ role: 'user', content: 'Say hello in eight tokens.' }],
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: 8,
    service_tier: serviceTier,
  };
}

class RequestFailure extends Error {
  constructor(readonly kind: keyof ErrorCounts, message: string) {
    super(message);
  }
}

const REQUEST_TIMEOUT_MS = 30_000;
const MAX_ERROR_SAMPLES = 5;
const pools = new Map<string, Pool>();

function poolFor(url: URL): Pool {
  let pool = pools.get(url.origin);
  if (!pool) {
    pool = new Pool(url.origin, { connections: 1024, keepAliveTimeout: 60_000, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
    pools.set(url.origin, pool);
  }
  return pool;
}

function hasContent(chunk: unknown): boolean {
  const choices = (chunk as { choices?: unknown }).choices;
  if (!Array.isArray(choices) || choices.length === 0) return false;
  const first = choices[0] as { delta?: { content?: unknown }; text?: unknown };
  const content = first.delta?.content ?? first.text;
  return typeof content === 'string' && content.length > 0;
}

/** POSTs `body` to `url` and reads the SSE stream; returns TTFT (ms since `t0`). */
async function streamOnce(url: URL, headers: Record<string, string>, body: string, t0: number): Promise<number> {
  const { statusCode, body: stream } = await poolFor(url).request({ path: url.pathname, method: 'POST', headers, body });
  if (statusCode !== 200) {
    const text = await stream.text();
    throw new RequestFailure('status', `HTTP ${statusCode}: ${text.slice(0, 200)}`);
  }
  let ttft = Number.NaN;
  let done = false;
  let buffered = '';
  stream.setEncoding('utf8');
  for await (const piece of stream as AsyncIterable<string>) {
    buffered += piece;
    let nl = buffered.indexOf('\n');
    while (nl >= 0) {
      const line = buffered.slice(0, nl).trim();
      buffered = buffered.slice(nl + 1);
      nl = buffered.indexOf('\n');
      if (!line.startsWith('data:')) continue;
      const data = line.slice(5).trim();
      if (data === '[DONE]') { done = true; continue; }
      let chunk: unknown;
      try { chunk = JSON.parse(data); } catch { throw new RequestFailure('network', `malformed SSE data: ${data.slice(0, 100)}`); }
      if ((chunk as { error?: unknown }).error !== undefined) throw new RequestFailure('errorEvent', `error event: ${data.slice(0, 200)}`);
      if (Number.isNaN(ttft) && hasContent(chunk)) ttft = performance.now() - t0;
    }
  }
  if (!done) throw new RequestFailure('missingDone', 'stream ended without data: [DONE]');
  if (Number.isNaN(ttft)) throw new RequestFailure('noContent', 'no content chunk before [DONE]');
  return ttft;
}

async function directDisagg(target: Extract<LoadTarget, { kind: 'direct-disagg' }>, body: JsonBody, prefillText: string, requestId: string, t0: number): Promise<number> {
  const prefillUrl = new URL(target.prefillUrl);
  const headers = { 'content-type': 'application/json', 'x-request-id': requestId };
  const pre = await poolFor(prefillUrl).request({ path: prefillUrl.pathname, method: 'POST', headers, body: prefillText });
  if (pre.statusCode !== 200) {
    const text = await pre.body.text();
    throw new RequestFailure('status', `prefill HTTP ${pre.statusCode}: ${text.slice(0, 200)}`);
  }
  const kv = kvParamsOf(await pre.body.json());
  return streamOnce(new URL(target.decodeUrl), headers, JSON.stringify(decodeBody(body, kv)), t0);
}

/** Runs one batch: `requests` requests, `concurrency` at a time, each loop bounded by the count. */
export async function runBatch(batch: BatchRequest, onProgress: (done: number) => void): Promise<BatchResult> {
  const { target } = batch;
  const body = benchRequestBody(target.serviceTier);
  const text = JSON.stringify(body);
  const prefillText = JSON.stringify(prefillBody(body));
  const streamUrl = target.kind === 'stream' ? new URL(target.url) : undefined;
  const errors: ErrorCounts = { status: 0, errorEvent: 0, missingDone: 0, noContent: 0, network: 0 };
  const errorSamples: string[] = [];
  const ttftMs: number[] = [];
  const totalMs: number[] = [];
  const progressEvery = Math.max(1, Math.floor(batch.requests / 10));
  let next = 0;
  let finished = 0;
  const worker = async (): Promise<void> => {
    while (next < batch.requests) {
      const i = next++;
      const requestId = `${batch.requestIdPrefix}-${i}`;
      const t0 = performance.now();
      try {
        const ttft = streamUrl
          ? await streamOnce(streamUrl, { 'content-type': 'application/json', 'x-request-id': requestId, ...(target.kind === 'stream' ? target.headers : {}) }, text, t0)
          : await directDisagg(target as Extract<LoadTarget, { kind: 'direct-disagg' }>, body, prefillText, requestId, t0);
        ttftMs.push(ttft);
        totalMs.push(performance.now() - t0);
      } catch (err) {
        const kind = err instanceof RequestFailure ? err.kind : 'network';
        errors[kind]++;
        if (errorSamples.length < MAX_ERROR_SAMPLES) errorSamples.push(`${kind}: ${(err as Error).message}`);
      }
      finished++;
      if (finished % progressEvery === 0) onProgress(finished);
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: Math.min(batch.concurrency, batch.requests) }, worker));
  const wallMs = performance.now() - start;
  return { type: 'result', id: batch.id, requests: batch.requests, completed: ttftMs.length, errors, errorSamples, ttftMs, totalMs, wallMs };
}

if (process.send) {
  const send = process.send.bind(process);
  process.on('message', (msg: BatchRequest) => {
    if (msg?.type !== 'batch') return;
    void runBatch(msg, (done) => send({ type: 'progress', id: msg.id, done } satisfies BatchProgress))
      .then((result) => send(result));
  });
  process.on('disconnect', () => process.exit(0));
  exitWhenParentGone();
}
