/**
 * `POST /v1/chat/completions` and `POST /v1/completions`: classify the call (prefill, remote-KV
 * decode, recompute, aggregated), apply the call's faults, wait for a batch slot, then pace the
 * reply with the timing model and write it (SSE or JSON).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { buildKvAnswer, classifyRequest, hasBootstrapRoom, isNixlPrefill } from './kv-transfer.ts';
import { faultsForCall } from './faults.ts';
import { firstTokenMs, interTokenMs, kvBlockCount, realMs } from './model.ts';
import { SSE_DONE, completeBody, streamPieces, streamTail } from './openai-format.ts';
import type { CompletionApi } from './openai-format.ts';
import { paceTokens, pause } from './pacing.ts';
import { randomHex } from './prng.ts';
import { buildReply, requestedMaxTokens } from './reply.ts';
import { blockIds } from './prefix-cache.ts';
import { estimatePromptTokens, promptText } from './text.ts';
import { headerValue, recordHeaders, sendError, sendJson } from './http-util.ts';
import { awaitBootstrap, registerBootstrap } from './sglang.ts';
import type { SimContext } from './types.ts';

/** Handles one completion call whose body has been read. */
export async function handleCompletion(
  ctx: SimContext,
  req: IncomingMessage,
  res: ServerResponse,
  api: CompletionApi,
  rawBody: string,
): Promise<void> {
  const call = ctx.stats.nextCall();
  const path = req.url ?? '';
  const headers = recordHeaders(req.headers);
  const requestId = headerValue(req.headers, 'x-request-id') ?? `sim-${randomHex(ctx.idRandom, 24)}`;
  res.setHeader('x-request-id', requestId);

  const body = parseObject(rawBody);
  if (!body) {
    ctx.stats.record({ call, path, headers, body: rawBody });
    return reject(ctx, res, 400, 'request body must be a JSON object');
  }
  const kind = classifyRequest(body, ctx.role);
  const promptTokens = estimatePromptTokens(body);
  // The engine's prefix cache: what it holds of this prompt is not computed (or transferred) again.
  const cache = ctx.prefixCache.capacityTokens > 0 && validate(body, api) === undefined ? ctx.prefixCache.admit(blockIds(promptText(body), ctx.profile.kvBlockTokens), promptTokens) : undefined;
  const timing = firstTokenMs({ profile: ctx.profile, promptTokens, kind, cachedTokens: cache?.cachedTokens ?? 0 });
  ctx.stats.record({ call, path, headers, body, kind, timing });
  const problem = validate(body, api);
  const max = requestedMaxTokens(body, ctx.defaultMaxTokens);
  if (problem || 'error' in max) return reject(ctx, res, 400, problem ?? ('error' in max ? max.error : ''));
  const priority = body['priority'] ?? 0;
  if (typeof priority !== 'number' || !Number.isInteger(priority)) return reject(ctx, res, 400, 'priority must be an integer');
  // A prefill call always answers in one JSON body (it carries kv_transfer_params).
  const stream = body['stream'] === true && kind !== 'prefill';
  if (priority !== 0 && ctx.schedulingPolicy !== 'priority' && ctx.priorityOrder === 'low-first') {
    // vLLM refuses it when the request is added to the engine: a 400 for a plain request, and,
    // for a stream (whose response has already started), an error event then [DONE]. (SGLang,
    // the `high-first` engine, ignores a priority it does not schedule by.)
    const message = `Got priority ${priority} but Priority scheduling is not enabled.`;
    if (!stream) return reject(ctx, res, 400, message);
    ctx.stats.count('failed');
    res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
    res.end(`data: ${JSON.stringify({ error: { message, type: 'BadRequestError', param: null, code: 400 } })}\n\n${SSE_DONE}`);
    return;
  }
  ctx.stats.countKind(kind);

  const faults = faultsForCall(ctx.faults, call, ctx.faultRandom);
  const aborter = new AbortController();
  const signal = AbortSignal.any([aborter.signal, ctx.shutdown.signal]);
  let dropping = false;
  res.on('close', () => {
    if (res.writableFinished || dropping) return;
    ctx.stats.aborted(requestId);
    aborter.abort(new Error('client closed the connection'));
  });

  try {
    await pause(faults.stallMs, signal);
    if (faults.reset) {
      dropping = true;
      ctx.stats.count('reset');
      res.socket?.destroy();
      return;
    }
    if (faults.error) {
      const { retryAfterMs } = faults.error;
      if (retryAfterMs !== undefined) {
        res.setHeader('retry-after', String(Math.ceil(retryAfterMs / 1000)));
        res.setHeader('retry-after-ms', String(retryAfterMs));
      }
      return reject(ctx, res, faults.error.status, faults.error.message);
    }

    if (stream) {
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache' });
      res.flushHeaders();
    }
    const order = ctx.priorityOrder === 'high-first' ? -priority : priority;
    const release = await ctx.slots.acquire(signal, order, () => ctx.stats.count('queuedTotal'));
    try {
      ctx.stats.observeActive(ctx.slots.active);
      if (kind === 'decode-remote' && hasBootstrapRoom(body)) await awaitBootstrap(ctx, body, signal);

      const extra: Record<string, unknown> = {};
      if (kind === 'prefill' && isNixlPrefill(body)) {
        if (faults.omitKvParams) ctx.stats.count('kvParamsOmitted');
        else extra['kv_transfer_params'] = nixlAnswer(ctx, requestId, promptTokens);
      }
      const spec = buildReply({
        api, body, requestId, seed: ctx.seed, extra,
        model: typeof body['model'] === 'string' ? body['model'] : (ctx.models[0] ?? 'llama-3.1-8b'),
        ...(cache ? { cachedTokens: cache.cachedTokens } : {}),
        maxTokens: max.tokens,
        explicitMax: max.explicit,
        created: Math.floor(Date.now() / 1000),
      });
      const stallAt = faults.stallAfterTokens ?? Number.POSITIVE_INFINITY;
      const count = Math.min(spec.pieces.length, faults.dropAfterTokens ?? Number.POSITIVE_INFINITY, stallAt);
      const trickle = faults.trickleMs;
      await paceTokens({
        count,
        signal,
        firstTokenMs: trickle > 0 ? trickle : realMs(timing.totalMs, ctx.speedup),
        interTokenMs: trickle > 0 ? () => trickle : () => realMs(interTokenMs(ctx.profile, ctx.slots.active), ctx.speedup),
        emit: stream ? (from, to) => void res.write(streamPieces(spec, from, to) + (faults.invalidBody && from === 0 ? GARBAGE_EVENT : '')) : () => undefined,
      });
      if (faults.invalidBody) ctx.stats.count('garbled');
      if (count === stallAt && count < spec.pieces.length) {
        ctx.stats.count('stalled');
        if (!stream) {
          // Headers and the first part of the body, then silence.
          res.writeHead(200, { 'content-type': 'application/json' });
          res.write(JSON.stringify(completeBody(spec)).slice(0, 24));
        }
        await new Promise<never>((_, fail) => signal.addEventListener('abort', () => fail(signal.reason), { once: true }));
      }
      if (!stream && faults.invalidBody) {
        const text = JSON.stringify(completeBody(spec));
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) - 1 });
        res.end(text.slice(0, -1)); // the closing brace is missing: not JSON
        return;
      }
      if (count < spec.pieces.length) {
        dropping = true;
        ctx.stats.count('dropped');
        dropConnection(res);
        return;
      }
      if (kind === 'prefill' && hasBootstrapRoom(body)) registerBootstrap(ctx, body, promptTokens);
      if (stream) res.end(streamTail(spec));
      else sendJson(res, 200, completeBody(spec));
      ctx.stats.count('completed');
    } finally {
      release();
    }
  } catch (err) {
    if (signal.aborted) return; // counted by the close listener (or the server is closing)
    if (!res.headersSent) return reject(ctx, res, 500, err instanceof Error ? err.message : 'simulator error');
    ctx.stats.count('failed');
    res.end(`data: ${JSON.stringify({ error: { message: String(err), type: 'server_error', param: null, code: null } })}\n\n`);
  }
}

/** What `invalidBody` inserts into a stream: a `data:` event that is not JSON. */
const GARBAGE_EVENT = 'data: {"choices": [{"delta": garbage\n\n';

function reject(ctx: SimContext, res: ServerResponse, status: number, message: string): void {
  ctx.stats.count('failed');
  sendError(res, status, message);
}

/** Destroys the socket once what was written has been handed to the kernel. */
function dropConnection(res: ServerResponse): void {
  const socket = res.socket;
  if (!socket) return;
  if (res.headersSent) res.write('', () => socket.destroy());
  else socket.destroy();
}

function parseObject(text: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(text);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

function validate(body: Record<string, unknown>, api: CompletionApi): string | undefined {
  if (api === 'chat') {
    const m = body['messages'];
    if (!Array.isArray(m) || m.length === 0) return 'messages must be a non-empty array';
  } else if (typeof body['prompt'] !== 'string' && !Array.isArray(body['prompt'])) {
    return 'prompt must be a string or an array';
  }
  if (body['model'] !== undefined && typeof body['model'] !== 'string') return 'model must be a string';
  return undefined;
}

function nixlAnswer(ctx: SimContext, requestId: string, promptTokens: number): ReturnType<typeof buildKvAnswer> {
  const blockCount = kvBlockCount(ctx.profile, promptTokens);
  const firstBlockId = ctx.nextBlockId;
  ctx.nextBlockId += blockCount;
  return buildKvAnswer({ engineId: ctx.engineId, requestId, host: ctx.host, port: ctx.port, firstBlockId, blockCount });
}
