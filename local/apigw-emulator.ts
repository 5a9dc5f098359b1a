/**
 * API Gateway (REST, proxy integration, `ResponseTransferMode.STREAM`) in front of a Lambda
 * streaming handler, for local runs and tests: each HTTP request becomes a proxy event, the
 * handler writes to a response stream whose prelude (status, headers) is decoded as the service
 * does, and the body is relayed to the client as it is written. A client that disconnects
 * destroys the response stream, as the Lambda service does.
 *
 * What API Gateway answers itself is rendered from the API's gateway responses (local/gateway-responses.ts):
 * a method and path the API does not have (exact match: paths are case-sensitive and `/v1/models/`
 * is not `/v1/models`; a `{name}` path part matches one non-empty segment, given to the handler in
 * `pathParameters`) is `MISSING_AUTHENTICATION_TOKEN`, a body over {@link MAX_BODY_BYTES} is
 * `REQUEST_TOO_LARGE`, a handler that fails before its response starts is `DEFAULT_5XX` (502).
 * The stage is served at the root, as behind a custom domain: `$context.path` is the client's path.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { PassThrough } from 'node:stream';
import type { Writable } from 'node:stream';
import type { APIGatewayProxyEvent, Context } from 'aws-lambda';
import { MAX_BODY_BYTES } from '../lambda/core/body-limit.ts';
import type { GatewayResponseDefinition, GatewayResponseType } from '../lib/gateway-responses.ts';
import { GATEWAY_RESPONSE_TYPES, GATEWAY_RESPONSES } from '../lib/gateway-responses.ts';
import { compileGatewayResponses } from './gateway-responses.ts';
import type { GatewayResponses } from './gateway-responses.ts';
import { readBody } from '../lambda/core/read-body.ts';
import { flatHeaders, listen } from './http-adapter.ts';
import type { RunningServer } from './http-adapter.ts';
import { lambdaContext } from './lambda-context.ts';
import { PRELUDE_DELIMITER } from './lambda-globals.ts';

/** A streaming Lambda handler as `awslambda.streamifyResponse` returns it. */
export type StreamingLambdaHandler = (event: APIGatewayProxyEvent, responseStream: Writable, context: Context) => Promise<void>;

/** A route of the emulated REST API. */
export interface EmulatedRoute {
  readonly method: string;
  /** The resource path, e.g. `/v1/models` or `/model/{modelId}/converse`. */
  readonly path: string;
}

/** The route a request matched: its resource path and its path parameters (URL-decoded, as API Gateway gives them). */
export interface MatchedRoute {
  readonly resource: string;
  readonly pathParameters: Record<string, string> | null;
}

/**
 * Matches requests to `routes` as API Gateway does: exact paths first, then resource paths with
 * `{name}` parts (each one non-empty path segment).
 *
 * @example
 * routeMatcher([{ method: 'POST', path: '/model/{modelId}/converse' }])('POST', '/model/m%3A1/converse')
 * // { resource: '/model/{modelId}/converse', pathParameters: { modelId: 'm:1' } }
 */
export function routeMatcher(routes: readonly EmulatedRoute[]): (method: string, path: string) => MatchedRoute | undefined {
  const exact = new Set(routes.filter((r) => !r.path.includes('{')).map((r) => `${r.method} ${r.path}`));
  const templated = routes
    .filter((r) => r.path.includes('{'))
    .map((r) => {
      const names: string[] = [];
      const pattern = r.path
        .split('/')
        .map((part) => {
          const param = /^\{(\w+)\}$/.exec(part);
          if (!param) return part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
          names.push(param[1]!);
          return '([^/]+)';
        })
        .join('/');
      return { method: r.method, resource: r.path, names, regex: new RegExp(`^${pattern}$`) };
    });
  return (method, path) => {
    if (exact.has(`${method} ${path}`)) return { resource: path, pathParameters: null };
    for (const route of templated) {
      const match = route.method === method ? route.regex.exec(path) : null;
      if (!match) continue;
      const pathParameters: Record<string, string> = {};
      route.names.forEach((name, i) => {
        const raw = match[i + 1]!;
        try {
          pathParameters[name] = decodeURIComponent(raw);
        } catch {
          pathParameters[name] = raw;
        }
      });
      return { resource: route.resource, pathParameters };
    }
    return undefined;
  };
}

/** Builds the REST API proxy event (payload format 1.0) of a request. */
export function toProxyEvent(req: IncomingMessage, body: string, stage = 'local'): APIGatewayProxyEvent {
  const url = new URL(req.url ?? '/', 'http://localhost');
  const headers = flatHeaders(req);
  const query: Record<string, string> = {};
  url.searchParams.forEach((v, k) => (query[k] = v));
  return {
    httpMethod: req.method ?? 'GET',
    path: url.pathname,
    resource: url.pathname,
    headers: headers as Record<string, string>,
    multiValueHeaders: {},
    queryStringParameters: Object.keys(query).length ? query : null,
    multiValueQueryStringParameters: null,
    pathParameters: null,
    stageVariables: null,
    body: body || null,
    isBase64Encoded: false,
    requestContext: {
      accountId: '000000000000',
      apiId: 'local',
      protocol: 'HTTP/1.1',
      httpMethod: req.method ?? 'GET',
      path: url.pathname,
      stage,
      requestId: randomUUID(),
      requestTimeEpoch: Date.now(),
      resourceId: 'local',
      resourcePath: url.pathname,
      identity: { sourceIp: req.socket.remoteAddress ?? '127.0.0.1' } as APIGatewayProxyEvent['requestContext']['identity'],
      authorizer: undefined,
    },
  };
}

/**
 * Relays a handler's response stream to an HTTP response: waits for the prelude, then writes the
 * status and headers, then the body bytes as they come.
 */
function relayResponseStream(stream: PassThrough, res: ServerResponse, failed: () => void): Promise<void> {
  return new Promise((resolve) => {
    let head: Buffer | null = Buffer.alloc(0);
    stream.on('data', (chunk: Buffer) => {
      if (head === null) {
        if (!res.write(chunk)) stream.pause();
        return;
      }
      head = Buffer.concat([head, chunk]);
      const at = head.indexOf(PRELUDE_DELIMITER);
      if (at === -1) return;
      const prelude = JSON.parse(head.subarray(0, at).toString('utf8')) as { statusCode?: number; headers?: Record<string, string> };
      const rest = head.subarray(at + PRELUDE_DELIMITER.length);
      head = null;
      res.writeHead(prelude.statusCode ?? 200, prelude.headers ?? {});
      if (rest.length) res.write(rest);
    });
    res.on('drain', () => stream.resume());
    stream.on('end', () => {
      if (head !== null && !res.headersSent) failed();
      else res.end();
      resolve();
    });
    stream.on('close', resolve);
  });
}

/** The `$context` of a request API Gateway answers itself. */
function requestOf(req: IncomingMessage, requestId: string = randomUUID()) {
  const url = new URL(req.url ?? '/', 'http://localhost');
  return { httpMethod: req.method ?? 'GET', path: url.pathname, requestId, stage: 'local', sourceIp: req.socket.remoteAddress ?? '127.0.0.1' };
}

/**
 * Serves `routes` of a REST API whose integration is `handler`; anything else is API Gateway's own
 * answer, rendered from `gatewayResponses` (default: the stack's, lib/gateway-responses.ts; `[]`:
 * API Gateway's built-in `{"message": …}` answers).
 */
export function serveApiGateway(
  handler: StreamingLambdaHandler,
  routes: readonly EmulatedRoute[],
  port = 0,
  host = '127.0.0.1',
  functionName = 'gateway',
  gatewayResponses: readonly GatewayResponseDefinition[] = GATEWAY_RESPONSES,
): Promise<RunningServer> {
  return listen(apiGatewayListener(handler, routes, functionName, gatewayResponses), port, host);
}

/** The `node:http` listener {@link serveApiGateway} serves (for a server that answers some paths itself first). */
export function apiGatewayListener(
  handler: StreamingLambdaHandler,
  routes: readonly EmulatedRoute[],
  functionName = 'gateway',
  gatewayResponses: readonly GatewayResponseDefinition[] = GATEWAY_RESPONSES,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  const match = routeMatcher(routes);
  const responses: GatewayResponses = compileGatewayResponses(gatewayResponses);
  const answer = (res: ServerResponse, type: GatewayResponseType, req: IncomingMessage, requestId?: string, extra: Record<string, string> = {}, status?: number) => {
    const rendered = responses.render(type, requestOf(req, requestId), status);
    res.writeHead(rendered.status, { ...rendered.headers, ...extra }).end(rendered.body);
  };
  return async (req: IncomingMessage, res: ServerResponse) => {
    const body = await readBody(req, MAX_BODY_BYTES);
    if (body === undefined) {
      answer(res, GATEWAY_RESPONSE_TYPES.requestTooLarge, req, undefined, req.httpVersionMajor === 2 ? {} : { connection: 'close' });
      return;
    }
    const event = toProxyEvent(req, body);
    const requestId = event.requestContext.requestId;
    const route = match(event.httpMethod, event.path);
    if (!route) {
      answer(res, GATEWAY_RESPONSE_TYPES.missingAuthenticationToken, req, requestId);
      return;
    }
    event.resource = route.resource;
    event.requestContext.resourcePath = route.resource;
    event.pathParameters = route.pathParameters;
    // A Lambda that fails before its response starts is API Gateway's 502 ("Internal server error").
    const failed = () => answer(res, GATEWAY_RESPONSE_TYPES.default5xx, req, requestId, {}, 502);
    const stream = new PassThrough();
    res.on('close', () => {
      if (!res.writableFinished) stream.destroy();
    });
    const relayed = relayResponseStream(stream, res, failed);
    try {
      await handler(event, stream, lambdaContext({ name: functionName, arn: `arn:aws:lambda:local:000000000000:function:${functionName}` }, 900, 1024));
    } catch {
      if (!res.headersSent) failed();
      stream.destroy();
    }
    if (!stream.writableEnded && !stream.destroyed) stream.end();
    await relayed;
  };
}
