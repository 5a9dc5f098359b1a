/**
 * The gateway: a platform-agnostic `(GatewayRequest) → GatewayResponse`. Routes requests, and is
 * the one place where typed errors become HTTP responses. No AWS, no `node:http` here: the Lambda
 * handler and the local server are thin adapters over this function.
 */
import { authenticate } from './auth.ts';
import { MethodNotAllowedError, NotFoundError, ShuttingDownError, TierOverloadedError, toGatewayError } from './errors.ts';
import { handleGeneration } from './generate.ts';
import type { GatewayDeps } from './gateway-deps.ts';
import type { GatewayRequest, GatewayResponse } from './http-types.ts';
import { jsonResponse } from './http-types.ts';
import type { ApiKind } from './request-schema.ts';
import { newRequestId, responseRequestId } from './request-id.ts';
import { SESSION_HEADER } from '../routing/routing-key.ts';
import { WORKER_ROUTES, handleWorkerRoute } from './worker-registration.ts';
import { handleConverse, matchConverseRoute } from '../doors/converse.ts';
import { converseErrorResponse } from '../doors/converse-errors.ts';

/** The request handler returned by {@link createGateway}. */
export type Gateway = (request: GatewayRequest) => Promise<GatewayResponse>;

const GENERATION_ROUTES: Record<string, ApiKind> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'text',
};

/**
 * Builds the gateway over its dependencies.
 *
 * @example
 * const gateway = createGateway(deps);
 * const response = await gateway({ method: 'GET', path: '/health', headers: {}, body: '', signal });
 */
export function createGateway(deps: GatewayDeps): Gateway {
  const created = Math.floor(Date.now() / 1000);
  const models = {
    object: 'list',
    data: Object.keys(deps.config.models).map((id) => ({ id, object: 'model', created, owned_by: 'splitserve' })),
  };

  return async function gateway(request: GatewayRequest): Promise<GatewayResponse> {
    const startedAt = Date.now();
    const requestId = newRequestId();
    const baseHeaders = { 'x-request-id': responseRequestId(request.headers['x-request-id'], requestId) };
    let tenant: string | undefined;
    /** Whether the request is for the Bedrock Converse door (its errors are Bedrock exceptions). */
    const bedrock = request.path.startsWith('/model/');
    try {
      const path = request.path.length > 1 && request.path.endsWith('/') ? request.path.slice(0, -1) : request.path;
      if (path === '/health') {
        if (request.method !== 'GET' && request.method !== 'HEAD') throw new MethodNotAllowedError(request.method, path);
        return jsonResponse(200, { status: 'ok' }, baseHeaders);
      }
      if (path === '/v1/models') {
        if (request.method !== 'GET') throw new MethodNotAllowedError(request.method, path);
        await authenticate(deps.keys, request.headers.authorization);
        return jsonResponse(200, models, baseHeaders);
      }
      if (Object.hasOwn(WORKER_ROUTES, path)) return await handleWorkerRoute(deps.config, deps.workers, WORKER_ROUTES[path as keyof typeof WORKER_ROUTES], request, baseHeaders);
      // The OpenAI routes are a table lookup; only a path outside it is matched against the door's.
      const api = GENERATION_ROUTES[path];
      const converse = api ? undefined : bedrock ? matchConverseRoute(path) : undefined;
      if (!api && !converse) throw new NotFoundError(`Invalid URL (${request.method} ${request.path})`, 'unknown_url');
      if (request.method !== 'POST') throw new MethodNotAllowedError(request.method, path);
      if (deps.drain.draining) throw new ShuttingDownError();
      const principal = await authenticate(deps.keys, request.headers.authorization);
      tenant = principal.tenant.id;
      const ctx = { requestId, principal, signal: request.signal, deadline: request.deadline, baseHeaders, startedAt, session: request.headers[SESSION_HEADER] };
      return await (converse ? handleConverse(deps, converse, request.body, ctx) : handleGeneration(deps, api!, request.body, ctx));
    } catch (err) {
      const error = toGatewayError(err);
      if (error.statusCode >= 500) {
        deps.logger.error('request failed', { requestId, tenant, status: error.statusCode, code: error.code, error: err instanceof Error ? err.message : String(err) });
      } else if (!(err instanceof TierOverloadedError)) {
        // A refusal (4xx) is logged with its reason, never with the key; a shed has its own line.
        deps.logger.info('request refused', { requestId, tenant, method: request.method, path: request.path, status: error.statusCode, code: error.code, reason: error.message });
      }
      if (bedrock) return converseErrorResponse(error, baseHeaders, requestId);
      return jsonResponse(error.statusCode, error.toJSON(), { ...baseHeaders, ...error.headers });
    }
  };
}
