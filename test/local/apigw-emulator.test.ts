/**
 * The API Gateway emulator's own answers over real HTTP: routes match exactly, anything else is
 * rendered from the gateway responses it is given (the stack's by default, API Gateway's built-in
 * ones with none), and a handler that fails before its response starts is a 502.
 */
import type { Writable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../lambda/core/body-limit.ts';
import { PRELUDE_DELIMITER } from '../../local/lambda-globals.ts';
import type { StreamingLambdaHandler } from '../../local/apigw-emulator.ts';
import { routeMatcher, serveApiGateway } from '../../local/apigw-emulator.ts';
import type { RunningServer } from '../../local/http-adapter.ts';
import { rawPost } from './edge-answers.ts';

const ROUTES = [{ method: 'GET', path: '/v1/models' }];

/** Answers 200 with the event's method and path, through the streaming prelude. */
const echo: StreamingLambdaHandler = async (event, stream: Writable) => {
  stream.write(JSON.stringify({ statusCode: 200, headers: { 'content-type': 'application/json' } }));
  stream.write(PRELUDE_DELIMITER);
  stream.end(JSON.stringify({ method: event.httpMethod, path: event.path, contextPath: event.requestContext.path }));
};

let server: RunningServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('API Gateway emulator', () => {
  it('matches {name} path parts to one non-empty segment, URL-decoded into pathParameters; exact paths as they are', () => {
    const match = routeMatcher([
      { method: 'POST', path: '/model/{modelId}/converse' },
      { method: 'GET', path: '/v1/models' },
    ]);
    expect(match('POST', '/model/meta.llama3-1-8b-instruct-v1%3A0/converse')).toEqual({
      resource: '/model/{modelId}/converse',
      pathParameters: { modelId: 'meta.llama3-1-8b-instruct-v1:0' },
    });
    expect(match('GET', '/v1/models')).toEqual({ resource: '/v1/models', pathParameters: null });
    expect(match('GET', '/model/x/converse')).toBeUndefined();
    expect(match('POST', '/model//converse')).toBeUndefined();
    expect(match('POST', '/model/a/b/converse')).toBeUndefined();
    expect(match('POST', '/model/x/converse-stream')).toBeUndefined();
  });

  it('hands a templated route its resource and path parameters', async () => {
    server = await serveApiGateway(async (event, stream: Writable) => {
      stream.write(JSON.stringify({ statusCode: 200, headers: {} }));
      stream.write(PRELUDE_DELIMITER);
      stream.end(JSON.stringify({ resource: event.resource, pathParameters: event.pathParameters, path: event.path }));
    }, [{ method: 'POST', path: '/model/{modelId}/converse' }]);
    const res = await fetch(`${server.url}/model/m%3A1/converse`, { method: 'POST', body: '{}' });
    expect(await res.json()).toEqual({ resource: '/model/{modelId}/converse', pathParameters: { modelId: 'm:1' }, path: '/model/m%3A1/converse' });
  });

  it('invokes the handler for a route, with the path as the client sent it', async () => {
    server = await serveApiGateway(echo, ROUTES);
    const res = await fetch(`${server.url}/v1/models?x=1`);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ method: 'GET', path: '/v1/models', contextPath: '/v1/models' });
  });

  it.each([
    ['GET', '/v1/models/'],
    ['GET', '/V1/models'],
    ['POST', '/v1/models'],
    ['GET', '/v1/embeddings'],
  ])('answers %s %s with the stack\'s 404 unknown_url by default', async (method, path) => {
    server = await serveApiGateway(echo, ROUTES);
    const res = await fetch(`${server.url}${path}`, { method, ...(method === 'POST' ? { body: '{}' } : {}) });
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ error: { message: `Invalid URL (${method} ${path})`, type: 'invalid_request_error', param: null, code: 'unknown_url' } });
  });

  it('with no gateway responses answers as an uncustomised API Gateway (403 Missing Authentication Token)', async () => {
    server = await serveApiGateway(echo, ROUTES, 0, '127.0.0.1', 'gateway', []);
    const res = await fetch(`${server.url}/v1/embeddings`);
    expect(res.status).toBe(403);
    expect(await res.json()).toEqual({ message: 'Missing Authentication Token' });
  });

  it('answers a handler that throws, or ends without a response, with a 502 in the OpenAI shape', async () => {
    for (const handler of [
      (async () => {
        throw new Error('boom');
      }) as StreamingLambdaHandler,
      (async (_e, stream: Writable) => void stream.end()) as StreamingLambdaHandler,
    ]) {
      server = await serveApiGateway(handler, ROUTES);
      const res = await fetch(`${server.url}/v1/models`);
      expect(res.status).toBe(502);
      const body = (await res.json()) as { error: Record<string, unknown> };
      expect(body.error).toMatchObject({ type: 'server_error', code: 'internal_error', param: null });
      expect(body.error.message).toMatch(/request [0-9a-f-]{36}\)/);
      await server.close();
      server = undefined;
    }
  });

  it(`refuses a body over ${MAX_BODY_BYTES} bytes with 413 before invoking the handler`, async () => {
    let invoked = 0;
    server = await serveApiGateway(async (e, s) => {
      invoked++;
      await echo(e, s, {} as never);
    }, [{ method: 'POST', path: '/v1/models' }]);
    const res = await rawPost(server.url, '/v1/models', 'x'.repeat(MAX_BODY_BYTES + 1), 'k');
    expect(res.status).toBe(413);
    expect(res.headers.connection).toBe('close');
    expect((JSON.parse(res.body) as { error: { code: string } }).error.code).toBe('request_too_large');
    expect(invoked).toBe(0);
    const ok = await fetch(`${server.url}/v1/models`, { method: 'POST', body: 'x'.repeat(MAX_BODY_BYTES) });
    expect(ok.status).toBe(200);
    expect(invoked).toBe(1);
  });
});
