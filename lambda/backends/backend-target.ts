/**
 * What a backend protocol needs to know about the endpoint it calls and the request it carries.
 */
import type { PoolConfig, TierConfig, TierName } from '../core/config.ts';
import type { ApiKind } from '../core/request-schema.ts';
import { API_PATHS } from '../core/request-schema.ts';
import { copyWithout } from './copy-without.ts';
import type { BackendCall, BackendTarget, EnginePriority, UpstreamTransport } from '../core/backend-ports.ts';

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

/** Sends a body to the target's endpoint for the call's API. */
export function postTo(call: BackendCall, body: unknown) {
  return call.client.post({
    endpoint: call.target.endpoint,
    path: API_PATHS[call.api],
    body,
    requestId: call.requestId,
    signal: call.signal,
    timeoutMs: call.target.timeoutMs,
    pool: call.target.pool,
  });
}
