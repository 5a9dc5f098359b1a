/**
 * The overload benchmark's load generator, run as its own process (forked with an IPC channel by
 * bench/overload/run.ts). It offers an open-loop load: Poisson arrivals at a fixed rate for a fixed
 * time, each request's tier drawn with a seeded generator, whatever the server's answers (an
 * overloaded server does not slow its clients down, as a closed loop would). It never retries.
 *
 * For each request it records the tier asked, the outcome (served, shed with a 429, or failed),
 * the TTFT (to the first chunk with content), the TPOT (mean time per token after the first) and,
 * for a 429, whether it was a clean one: OpenAI-shaped body and a `retry-after` header.
 */
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { mulberry32 } from '../../sim/prng.ts';
import { exitWhenParentGone } from '../processes.ts';

/** Where requests go and how each tier's requests are authenticated. */
export interface OpenLoopTarget {
  readonly url: string;
  /** `Authorization` header per tier asked (absent: none, e.g. a bare relay). */
  readonly keys: Readonly<Record<string, string | undefined>>;
}

/** Parent → generator. */
export interface OpenLoopRun {
  readonly type: 'run';
  readonly id: number;
  readonly target: OpenLoopTarget;
  /** Arrivals per second. */
  readonly rate: number;
  readonly seconds: number;
  /** Share of arrivals that ask for `priority` (the rest ask for `default`). */
  readonly priorityShare: number;
  readonly seed: number;
  /** Output tokens of each request. */
  readonly maxTokens: number;
  /** The user message. */
  readonly prompt: string;
}

/** How one request ended. */
export type Outcome = 'served' | 'shed' | 'failed';

/** One request's figures. */
export interface RequestFigure {
  readonly tier: 'priority' | 'default';
  readonly outcome: Outcome;
  /** ms; served requests only. */
  readonly ttftMs?: number;
  /** Mean ms per token after the first; served requests of two tokens or more. */
  readonly tpotMs?: number;
  /** The `service_tier` the answer said served it. */
  readonly tierServed?: string;
  /** A shed request's answer was an OpenAI-shaped 429 with `retry-after`. */
  readonly cleanShed?: boolean;
  /** A failure's description (status and body, or the network error). */
  readonly error?: string;
}

/** Generator → parent. */
export interface OpenLoopResult {
  readonly type: 'result';
  readonly id: number;
  readonly requests: readonly RequestFigure[];
  /** Arrivals that were due but could not be sent on time by more than 50 ms (the generator lagged). */
  readonly late: number;
}

const REQUEST_TIMEOUT_MS = 120_000;
const pools = new Map<string, Pool>();

function poolFor(url: URL): Pool {
  let pool = pools.get(url.origin);
  if (!pool) {
    pool = new Pool(url.origin, { connections: 4096, keepAliveTimeout: 60_000, headersTimeout: REQUEST_TIMEOUT_MS, bodyTimeout: REQUEST_TIMEOUT_MS });
    pools.set(url.origin, pool);
  }
  return pool;
}

function contentOf(chunk: Record<string, unknown>): string | undefined {
  const choices = chunk.choices as Array<{ delta?: { content?: unknown }; text?: unknown }> | undefined;
  const content = choices?.[0]?.delta?.content ?? choices?.[0]?.text;
  return typeof content === 'string' && content.length > 0 ? content : undefined;
}

/** One streamed request, to its end. */
async function once(run: OpenLoopRun, tier: 'priority' | 'default', index: number): Promise<RequestFigure> {
  const url = new URL(run.target.url);
  const key = run.target.keys[tier];
  const body = JSON.stringify({
    model: 'llama-3.1-8b',
    messages: [{ role: 'user', content: run.prompt }],
    stream: true,
    stream_options: { include_usage: true },
    max_tokens: run.maxTokens,
    service_tier: tier,
  });
  const t0 = performance.now();
  try {
    const headers: Record<string, string> = { 'content-type': 'application/json', 'x-request-id': `overload-${run.id}-${index}` };
    if (key) headers.authorization = `Bearer ${key}`;
    const res = await poolFor(url).request({ path: url.pathname, method: 'POST', headers, body });
    if (res.statusCode === 429) {
      const text = await res.body.text();
      let shaped = false;
      try {
        const error = (JSON.parse(text) as { error?: { message?: unknown; type?: unknown } }).error;
        shaped = typeof error?.message === 'string' && typeof error.type === 'string';
      } catch {
        shaped = false;
      }
      return { tier, outcome: 'shed', cleanShed: shaped && res.headers['retry-after'] !== undefined };
    }
    if (res.statusCode !== 200) return { tier, outcome: 'failed', error: `HTTP ${res.statusCode}: ${(await res.body.text()).slice(0, 200)}` };
    let ttft: number | undefined;
    let last = t0;
    let tokens = 0;
    let tierServed: string | undefined;
    let done = false;
    let buffered = '';
    res.body.setEncoding('utf8');
    for await (const piece of res.body as AsyncIterable<string>) {
      buffered += piece;
      for (let nl = buffered.indexOf('\n'); nl >= 0; nl = buffered.indexOf('\n')) {
        const line = buffered.slice(0, nl).trim();
        buffered = buffered.slice(nl + 1);
        if (!line.startsWith('data:')) continue;
        const data = line.slice(5).trim();
        if (data === '[DONE]') {
          done = true;
          continue;
        }
        const chunk = JSON.parse(data) as Record<string, unknown>;
        if (chunk.error !== undefined) return { tier, outcome: 'failed', error: `error event: ${data.slice(0, 200)}` };
        if (typeof chunk.service_tier === 'string') tierServed = chunk.service_tier;
        if (contentOf(chunk) !== undefined) {
          const now = performance.now();
          ttft ??= now - t0;
          last = now;
          tokens += 1;
        }
      }
    }
    if (!done || ttft === undefined) return { tier, outcome: 'failed', error: done ? 'no content' : 'stream ended without [DONE]' };
    const tpot = tokens >= 2 ? (last - t0 - ttft) / (tokens - 1) : undefined;
    return { tier, outcome: 'served', ttftMs: ttft, ...(tpot !== undefined ? { tpotMs: tpot } : {}), ...(tierServed ? { tierServed } : {}) };
  } catch (err) {
    return { tier, outcome: 'failed', error: (err as Error).message };
  }
}

/** Runs the open-loop load and resolves with every request's figures once all have ended. */
export async function runOpenLoop(run: OpenLoopRun): Promise<OpenLoopResult> {
  const random = mulberry32(run.seed);
  const pending: Array<Promise<RequestFigure>> = [];
  const start = performance.now();
  let due = start;
  let late = 0;
  for (let i = 0; ; i += 1) {
    due += (-Math.log(1 - random()) / run.rate) * 1000;
    if (due - start > run.seconds * 1000) break;
    const tier = random() < run.priorityShare ? 'priority' : 'default';
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    else if (wait < -50) late += 1;
    pending.push(once(run, tier, i));
  }
  return { type: 'result', id: run.id, requests: await Promise.all(pending), late };
}

if (process.send) {
  const send = process.send.bind(process);
  process.on('message', (msg: OpenLoopRun) => {
    if (msg?.type !== 'run') return;
    void runOpenLoop(msg).then((result) => send(result));
  });
  process.on('disconnect', () => process.exit(0));
  exitWhenParentGone();
}
