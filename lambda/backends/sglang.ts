/**
 * SGLang prefill/decode disaggregation (docs/configuration.md, pool protocols), as SGLang's own router does it: the
 * same body goes to prefill and decode at once, each with `bootstrap_host` (the prefill server's
 * host), `bootstrap_port` (the prefill pool's `bootstrapPort`, default 8998) and `bootstrap_room`
 * (a random non-negative 63-bit integer, the same on both calls); the client reads decode's
 * answer while prefill's is read and discarded. If prefill fails, decode is cancelled (a stream
 * already started ends with the error); on 408/429/5xx (or a lost connection) the pair is retried
 * once with a fresh room on a fresh pair. Both calls carry the tier's engine `priority` where the
 * pools send it (engine-priority.ts; SGLang reads it with `--enable-priority-scheduling`).
 *
 * Because the two calls are concurrent, the plan's `prefill` step makes no call: it picks the
 * prefill endpoint and a room and hands `{bootstrap_host, bootstrap_port, bootstrap_room}` to the
 * `decode` step, which sends both. The one retry happens here, not in the step: a step retry would
 * reuse the room, so a failure after the retry is reported as not retryable (the plan falls back).
 */
import { randomBytes } from 'node:crypto';
import { UpstreamError } from '../core/errors.ts';
import { postTo, upstreamBody } from './backend-target.ts';
import { withContinuousUsage } from './continuous-usage.ts';
import { runAggregated } from './openai.ts';
import { PRIORITY_FIELD, isPriorityRefusal } from './engine-priority.ts';
import { toCompletion } from './upstream-completion.ts';
import type { BackendCall, BackendProtocol, BackendTarget, EndpointLease, EnginePriority, PairLeases, PrefillResult, UpstreamCompletion } from '../core/backend-ports.ts';

/** SGLang's default bootstrap port (a prefill pool's `bootstrapPort` overrides it). */
export const DEFAULT_BOOTSTRAP_PORT = 8998;

/** The bootstrap fields both calls of a pair carry. */
export interface BootstrapFields {
  readonly bootstrap_host: string;
  readonly bootstrap_port: number;
  readonly bootstrap_room: number;
}

const TWO_POW_63 = 2 ** 63;

/**
 * A random non-negative 63-bit integer from 8 random bytes. It is carried as a JSON number: the
 * value is rounded to a double whose decimal form is still an integer below 2^63, identical on
 * both calls of the pair.
 *
 * @example
 * bootstrapRoom(); // e.g. 5039214871730611000
 */
export function bootstrapRoom(bytes: Uint8Array = randomBytes(8)): number {
  for (let source = bytes; ; source = randomBytes(8)) {
    const value = Number(Buffer.from(source).readBigUInt64BE() & 0x7fff_ffff_ffff_ffffn);
    if (value < TWO_POW_63) return value;
  }
}

/** The bootstrap fields for a prefill endpoint (its host) and a room. */
export function bootstrapFields(prefill: BackendTarget, port: number, room: number): BootstrapFields {
  return { bootstrap_host: new URL(prefill.endpoint).hostname.replace(/^\[|\]$/g, ''), bootstrap_port: port, bootstrap_room: room };
}

function isBootstrap(params: Record<string, unknown> | null): params is Record<string, unknown> & BootstrapFields {
  return (
    params !== null &&
    typeof params.bootstrap_host === 'string' &&
    typeof params.bootstrap_port === 'number' &&
    typeof params.bootstrap_room === 'number'
  );
}

/** The prefill step: no call (it runs with decode's); picks the room for this pair. */
export async function sglangPrefill(call: BackendCall): Promise<PrefillResult> {
  const port = call.pool?.bootstrapPort ?? DEFAULT_BOOTSTRAP_PORT;
  return { kvTransferParams: { ...bootstrapFields(call.target, port, bootstrapRoom()) }, promptTokens: null };
}

/** The engine priorities of a pair's two calls (sent only when both sides send one). */
interface PairPriority {
  readonly prefill: EnginePriority;
  readonly decode: EnginePriority;
}

function pairPriority(call: BackendCall, prefillTarget: BackendTarget): PairPriority | undefined {
  const decode = call.priority?.(call.target);
  const prefill = call.priority?.(prefillTarget);
  return decode && prefill ? { prefill, decode } : undefined;
}

/** Which side of a pair failed, and how. */
class PairFailure {
  constructor(
    readonly side: 'prefill' | 'decode',
    readonly endpoint: string,
    readonly error: unknown,
  ) {}
}

/** The leases of one attempt; `ownsDecode`: this attempt releases decode on success too. */
interface AttemptLeases {
  readonly prefill?: EndpointLease;
  readonly decode?: EndpointLease;
  readonly ownsDecode: boolean;
}

function isRetryable(err: unknown): boolean {
  return err instanceof UpstreamError && err.retryable;
}

/**
 * Sends prefill and decode at once and resolves with decode's answer (a stream once its first
 * batch arrived, so a prefill failure before any output is still a failure of the attempt).
 */
async function sendPair(
  call: BackendCall,
  body: Record<string, unknown>,
  prefillTarget: BackendTarget,
  fields: BootstrapFields,
  leases: AttemptLeases,
  priority: PairPriority | undefined,
): Promise<UpstreamCompletion> {
  const prefillAbort = new AbortController();
  const decodeAbort = new AbortController();
  const prefillSignal = AbortSignal.any([call.signal, prefillAbort.signal]);
  const decodeSignal = AbortSignal.any([call.signal, decodeAbort.signal]);
  const prefillCall: BackendCall = { ...call, target: prefillTarget, signal: prefillSignal };
  const decodeCall: BackendCall = { ...call, signal: decodeSignal };
  const stream = body.stream === true;

  let prefillError: unknown;
  void postTo(prefillCall, { ...upstreamBody(body, prefillTarget), ...fields, ...(priority ? { [PRIORITY_FIELD]: priority.prefill.value } : {}) })
    .then((reply) => reply.body.text())
    .then(
      () => leases.prefill?.release(true),
      (err: unknown) => {
        if (prefillAbort.signal.aborted || call.signal.aborted) return leases.prefill?.release();
        prefillError = err instanceof UpstreamError ? err : new UpstreamError(`The ${prefillTarget.pool} backend dropped the prefill answer.`, 502, true, prefillTarget.pool);
        leases.prefill?.release(false);
        decodeAbort.abort(prefillError);
      },
    );
  const cancelPrefill = () => prefillAbort.abort(new Error('decode ended'));

  let completion: UpstreamCompletion;
  let first: IteratorResult<string[]> | undefined;
  try {
    const reply = await postTo(decodeCall, { ...withContinuousUsage(upstreamBody(body, call.target), call.pool), ...fields, ...(priority ? { [PRIORITY_FIELD]: priority.decode.value } : {}) });
    completion = await toCompletion(reply, stream, call.target.pool, decodeSignal);
    if (completion.kind === 'stream') {
      first = await completion.batches.next();
      if (first.done) throw new UpstreamError(`The ${call.target.pool} backend ended the stream before any data.`, 502, true, call.target.pool);
    }
  } catch (err) {
    if (prefillError !== undefined) {
      leases.decode?.release();
      throw new PairFailure('prefill', prefillTarget.endpoint, prefillError);
    }
    cancelPrefill();
    leases.decode?.release(call.signal.aborted ? undefined : false);
    throw new PairFailure('decode', call.target.endpoint, err);
  }
  if (completion.kind === 'json') {
    if (leases.ownsDecode) leases.decode?.release(true);
    return completion;
  }
  return { kind: 'stream', batches: relay(first!.value, completion.batches, leases, cancelPrefill) };
}

/** Decode's stream after its first batch; ends with prefill's error if prefill fails meanwhile. */
async function* relay(
  first: string[],
  rest: AsyncIterator<string[]>,
  leases: AttemptLeases,
  cancelPrefill: () => void,
): AsyncGenerator<string[]> {
  let ok = false;
  try {
    yield first;
    for (let next = await rest.next(); !next.done; next = await rest.next()) yield next.value;
    ok = true;
  } finally {
    if (!ok) {
      cancelPrefill();
      await rest.return?.();
    }
    if (leases.ownsDecode) leases.decode?.release(ok);
  }
}

/**
 * The decode step: prefill and decode together, retried once on a fresh pair with a fresh room.
 * Without bootstrap parameters (the plan skipped prefill) decode runs alone and recomputes.
 *
 * @param pairs - leases from the pool directory; without them the retry reuses the same pair
 */
export async function sglangDecode(
  call: BackendCall,
  body: Record<string, unknown>,
  params: Record<string, unknown> | null,
  prefillTarget: BackendTarget | null,
  pairs?: PairLeases,
): Promise<UpstreamCompletion> {
  if (!isBootstrap(params) || !prefillTarget) return runAggregated(call, body);
  const fields: BootstrapFields = { bootstrap_host: params.bootstrap_host, bootstrap_port: params.bootstrap_port, bootstrap_room: params.bootstrap_room };
  let priority = pairPriority(call, prefillTarget);
  try {
    const prefill = pairs?.prefill(prefillTarget.endpoint);
    return await sendPair(call, body, prefillTarget, fields, { prefill, decode: pairs?.decode, ownsDecode: false }, priority);
  } catch (failure) {
    if (!(failure instanceof PairFailure)) throw failure;
    if (priority && isPriorityRefusal(failure.error)) {
      // An engine that aborts requests carrying a priority it does not schedule by
      // (--abort-on-priority-when-disabled): remembered, and the retry goes without it.
      priority[failure.side].refused((failure.error as Error).message);
      priority = undefined;
    } else if (!isRetryable(failure.error) || call.signal.aborted) {
      throw failure.error;
    }
    let fresh: ReturnType<PairLeases['fresh']> | undefined;
    try {
      fresh = pairs?.fresh(new Set([failure.endpoint]));
    } catch {
      throw finalError(failure.error);
    }
    const retryPrefill = fresh?.prefill.target ?? prefillTarget;
    const retryCall: BackendCall = fresh ? { ...call, target: fresh.decode.target } : call;
    const retryFields = bootstrapFields(retryPrefill, fields.bootstrap_port, bootstrapRoom());
    try {
      return await sendPair(retryCall, body, retryPrefill, retryFields, { prefill: fresh?.prefill, decode: fresh?.decode, ownsDecode: true }, priority && pairPriority(retryCall, retryPrefill));
    } catch (second) {
      throw finalError(second instanceof PairFailure ? second.error : second);
    }
  }
}

/** The error after the one retry: not retryable again (a step retry would reuse the room). */
function finalError(err: unknown): unknown {
  return err instanceof UpstreamError && err.retryable ? new UpstreamError(err.message, err.statusCode, false, err.pool, err.upstreamStatus) : err;
}

/** SGLang PD: concurrent prefill + decode for disaggregated routes, or one OpenAI-compatible call. */
export const sglang: BackendProtocol = {
  disaggregated: { concurrent: true, prefill: sglangPrefill, decode: sglangDecode },
  aggregated: { complete: runAggregated },
};
