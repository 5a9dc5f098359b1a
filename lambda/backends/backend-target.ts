/**
 * What a backend protocol needs to know about the endpoint it calls and the request it carries.
 */
import type { PoolConfig, TierConfig, TierName } from '../core/config.ts';
import type { ApiKind } from '../core/request-schema.ts';
import { API_PATHS } from '../core/request-schema.ts';
import { copyWithout } from './copy-without.ts';
import { UpstreamError } from '../core/errors.ts';
import type { BackendCall, BackendTarget, CredentialHeader, UpstreamCredential, UpstreamReply } from '../core/backend-ports.ts';

/** Fields the gateway consumes and never forwards. */
const GATEWAY_FIELDS: ReadonlySet<string> = new Set(['service_tier']);

/**
 * The client's body as a backend should see it: gateway-only fields removed, the model renamed
 * when the pool serves it under another name; every other field untouched.
 */
export function upstreamBody(body: Record<string, unknown>, target: BackendTarget): Record<string, unknown> {
  const out = copyWithout(body, GATEWAY_FIELDS);
  const model = typeof body.model === 'string' ? target.upstreamModels?.[body.model] : undefined;
  if (model) out.model = model;
  return out;
}

/**
 * Sends a body to the target's endpoint for the call's API, with the pool's credential when it has
 * one. A 401 or 403 answer to a credential is met once: the credential is read again (a rotated
 * secret) and the call sent once more; a second refusal is a 502 that says so, without the
 * backend's message (which may quote the refused value).
 */
export function postTo(call: BackendCall, body: unknown): Promise<UpstreamReply> {
  const send = (header?: CredentialHeader) =>
    call.client.post({
      endpoint: call.target.endpoint,
      path: API_PATHS[call.api],
      body,
      requestId: call.requestId,
      signal: call.signal,
      timeoutMs: call.target.timeoutMs,
      pool: call.target.pool,
      ...(header ? { headers: { [header.name]: header.value } } : {}),
    });
  const credential = call.target.credential;
  if (!credential) return send();
  return withCredential(credential, call.signal, send);
}

/**
 * Runs `send` with a credential's header; on a refusal (401/403), once more with the header read
 * again. Errors of either attempt are cleared of the credential's value.
 */
export function withCredential<T>(credential: UpstreamCredential, signal: AbortSignal, send: (header: CredentialHeader) => Promise<T>): Promise<T> {
  return credential.header().then((sent) =>
    send(sent).catch((err: unknown) => {
      if (!isRefusal(err) || signal.aborted) throw cleared(err, sent);
      return credential.refused(sent).then((again) =>
        send(again).catch((second: unknown) => {
          throw cleared(second, again);
        }),
      );
    }),
  );
}

/** Whether a backend answered 401 or 403. */
function isRefusal(err: unknown): err is UpstreamError {
  return err instanceof UpstreamError && (err.upstreamStatus === 401 || err.upstreamStatus === 403);
}

/**
 * `err` without the credential's value: a refusal becomes a 502 that says the pool's credential
 * was refused (not the request: the backend's message may quote the value, and is dropped); any
 * other message has copies of the value replaced.
 */
function cleared(err: unknown, header: CredentialHeader): unknown {
  if (isRefusal(err)) return new UpstreamError(`The ${err.pool ?? 'upstream'} backend refused the pool's credential (HTTP ${err.upstreamStatus}).`, 502, false, err.pool, err.upstreamStatus);
  if (!(err instanceof Error)) return err;
  const token = header.value.startsWith('Bearer ') ? header.value.slice('Bearer '.length) : header.value;
  if (token.length === 0) return err;
  if (err.message.includes(token)) err.message = err.message.split(token).join('[credential]');
  // A backend's message is cut to a bounded length (upstream-client.ts): a cut inside a quoted
  // value leaves its first characters at the end of the message.
  const cutAt = truncatedCopyAt(err.message, token);
  if (cutAt !== -1) err.message = `${err.message.slice(0, cutAt)}[credential]`;
  return err;
}

/** Where a prefix of `token` (4 characters or more) ends `message`, or -1. */
function truncatedCopyAt(message: string, token: string): number {
  for (let n = Math.min(token.length - 1, message.length); n >= 4; n--) {
    if (message.endsWith(token.slice(0, n))) return message.length - n;
  }
  return -1;
}
