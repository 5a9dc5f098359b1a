/**
 * One request of the soak, made with the official `openai` client (no retries), and what became of
 * it as a client sees it: served whole, refused or failed with an OpenAI-shaped error (an HTTP
 * error body, or an error event in a stream), aborted by the client on purpose, or failed any
 * other way (a socket error, a hang past the deadline, a malformed answer, a stream that ended
 * without `finish_reason`, usage or `[DONE]`), which a gateway must never do.
 */
import OpenAI, { APIConnectionError, APIError, APIUserAbortError } from 'openai';
import { SOAK_MODEL } from './soak-config.ts';

/** How a request ended, as its client saw it. */
export const CLIENT_OUTCOMES = {
  succeeded: 'succeeded',
  openaiError: 'openai-error',
  aborted: 'aborted',
  otherFailure: 'other-failure',
} as const;
/** A {@link CLIENT_OUTCOMES} value. */
export type ClientOutcome = (typeof CLIENT_OUTCOMES)[keyof typeof CLIENT_OUTCOMES];

/** What to send. */
export interface RequestSpec {
  /** Label of the request in the ledger (e.g. its arrival index, or a check's name). */
  readonly label: string;
  readonly key: string;
  readonly stream: boolean;
  readonly tier: 'priority' | 'default';
  readonly maxTokens: number;
  readonly prompt: string;
  /** Abort the stream after this many content chunks (streams only). */
  readonly abortAfterChunks?: number;
}

/** What a request's client saw. */
export interface RequestResult {
  readonly outcome: ClientOutcome;
  /** HTTP status of an error answer; 200 for an error event in a stream. */
  readonly status?: number;
  /** The OpenAI error's `code` (or its `type` when it has no code). */
  readonly code?: string;
  /** The completion id (`chatcmpl-…`), when the answer carried one. */
  readonly completionId?: string;
  /** Usage the answer reported (non-streamed answers and streams that completed). */
  readonly promptTokens?: number;
  readonly completionTokens?: number;
  /** Stream chunks with generated content the client received. */
  readonly contentChunks: number;
  /** The `service_tier` the answer named. */
  readonly tierServed?: string;
  /** Why an `other-failure` or an error was what it was (no key, no body beyond 200 characters). */
  readonly detail?: string;
  readonly ms: number;
}

/** Options of {@link sendRequest}. */
export interface SendOptions {
  /** The gateway's base URL (`http://127.0.0.1:<port>`). */
  readonly baseUrl: string;
  /** A request not ended by then is a hang (an `other-failure`). */
  readonly deadlineMs: number;
}

/** A fetch that notes whether an SSE body carried `data: [DONE]` (the client library does not say). */
function doneWatchingFetch(seen: { done: boolean }): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init);
    if (!res.body || !(res.headers.get('content-type') ?? '').includes('text/event-stream')) return res;
    const decoder = new TextDecoder();
    let tail = '';
    const watched = res.body.pipeThrough(
      new TransformStream<Uint8Array, Uint8Array>({
        transform(chunk, controller) {
          const text = tail + decoder.decode(chunk, { stream: true });
          if (text.includes('data: [DONE]')) seen.done = true;
          tail = text.slice(-16);
          controller.enqueue(chunk);
        },
      }),
    );
    return new Response(watched, { status: res.status, statusText: res.statusText, headers: res.headers });
  };
}

function openaiShaped(err: APIError): boolean {
  const e = err.error as { message?: unknown; type?: unknown } | undefined;
  return typeof e?.message === 'string' && typeof e.type === 'string';
}

/**
 * Sends one chat completion and classifies its end. Never throws; always ends by the deadline.
 *
 * @example
 * const r = await sendRequest({ label: 'check', key, stream: false, tier: 'default', maxTokens: 8, prompt: 'hi' }, { baseUrl, deadlineMs: 30_000 });
 * r.outcome; // 'succeeded'
 */
export async function sendRequest(spec: RequestSpec, options: SendOptions): Promise<RequestResult> {
  const started = performance.now();
  const seen = { done: false };
  const client = new OpenAI({ apiKey: spec.key, baseURL: `${options.baseUrl}/v1`, maxRetries: 0, timeout: options.deadlineMs, fetch: doneWatchingFetch(seen) });
  const controller = new AbortController();
  let why: 'client' | 'deadline' | undefined;
  const deadline = setTimeout(() => {
    why = 'deadline';
    controller.abort();
  }, options.deadlineMs);
  let contentChunks = 0;
  let completionId: string | undefined;
  let tierServed: string | undefined;
  const end = (r: Omit<RequestResult, 'ms' | 'contentChunks'>): RequestResult => ({
    ...r,
    contentChunks,
    ...(completionId ? { completionId } : {}),
    ...(tierServed ? { tierServed } : {}),
    ms: Math.round(performance.now() - started),
  });
  const body = { model: SOAK_MODEL, messages: [{ role: 'user' as const, content: spec.prompt }], max_tokens: spec.maxTokens, service_tier: spec.tier };
  try {
    if (!spec.stream) {
      const res = await client.chat.completions.create({ ...body, stream: false }, { signal: controller.signal });
      completionId = typeof res.id === 'string' ? res.id : undefined;
      tierServed = typeof res.service_tier === 'string' ? res.service_tier : undefined;
      const message = res.choices?.[0]?.message;
      if (res.object !== 'chat.completion' || !message || typeof res.usage?.completion_tokens !== 'number') {
        return end({ outcome: CLIENT_OUTCOMES.otherFailure, detail: `malformed completion: ${JSON.stringify(res).slice(0, 200)}` });
      }
      return end({ outcome: CLIENT_OUTCOMES.succeeded, promptTokens: res.usage.prompt_tokens, completionTokens: res.usage.completion_tokens });
    }
    const stream = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } }, { signal: controller.signal });
    let finished = false;
    let usage: { prompt_tokens: number; completion_tokens: number } | undefined;
    for await (const chunk of stream) {
      if (chunk.object !== 'chat.completion.chunk') return end({ outcome: CLIENT_OUTCOMES.otherFailure, detail: `malformed chunk: ${JSON.stringify(chunk).slice(0, 200)}` });
      completionId ??= chunk.id;
      if (typeof chunk.service_tier === 'string') tierServed = chunk.service_tier;
      const choice = chunk.choices[0];
      if (typeof choice?.delta?.content === 'string' && choice.delta.content.length > 0) contentChunks += 1;
      if (choice?.finish_reason) finished = true;
      if (chunk.usage) usage = chunk.usage;
      if (spec.abortAfterChunks !== undefined && contentChunks >= spec.abortAfterChunks && !finished) {
        why = 'client';
        controller.abort();
        break;
      }
    }
    if (why === 'client') return end({ outcome: CLIENT_OUTCOMES.aborted });
    if (why === 'deadline') return end({ outcome: CLIENT_OUTCOMES.otherFailure, detail: `stream not ended within ${options.deadlineMs} ms` });
    if (!finished || !usage || !seen.done) {
      return end({ outcome: CLIENT_OUTCOMES.otherFailure, detail: `stream ended without ${[!finished && 'finish_reason', !usage && 'usage', !seen.done && '[DONE]'].filter(Boolean).join(', ')} after ${contentChunks} chunks` });
    }
    return end({ outcome: CLIENT_OUTCOMES.succeeded, promptTokens: usage.prompt_tokens, completionTokens: usage.completion_tokens });
  } catch (err) {
    if (why === 'client') return end({ outcome: CLIENT_OUTCOMES.aborted });
    if (err instanceof APIUserAbortError || why === 'deadline') return end({ outcome: CLIENT_OUTCOMES.otherFailure, detail: `no answer within ${options.deadlineMs} ms` });
    if (err instanceof APIConnectionError) return end({ outcome: CLIENT_OUTCOMES.otherFailure, detail: `connection error: ${err.message}${err.cause ? ` (${String((err.cause as Error).message ?? err.cause)})` : ''}` });
    if (err instanceof APIError) {
      const e = err.error as { code?: unknown; type?: unknown } | undefined;
      const status = err.status ?? 200;
      const code = typeof e?.code === 'string' ? e.code : typeof e?.type === 'string' ? e.type : 'none';
      if (!openaiShaped(err)) return end({ outcome: CLIENT_OUTCOMES.otherFailure, status, detail: `error not OpenAI-shaped: ${err.message.slice(0, 200)}` });
      return end({ outcome: CLIENT_OUTCOMES.openaiError, status, code, detail: err.message.slice(0, 200) });
    }
    return end({ outcome: CLIENT_OUTCOMES.otherFailure, detail: `${(err as Error).name}: ${(err as Error).message}`.slice(0, 200) });
  } finally {
    clearTimeout(deadline);
  }
}
