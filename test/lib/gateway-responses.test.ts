/**
 * The REST API's gateway responses (lib/gateway-responses.ts) in the synthesized template: one
 * `AWS::ApiGateway::GatewayResponse` per type, rendered as API Gateway renders them (variable
 * substitution, by the local emulator's renderer) into the error shapes of the function's own
 * errors (lambda/core/errors.ts). cdk-nag over the whole stack runs in splitserve-stack.test.ts.
 */
import { readFileSync } from 'node:fs';
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { MAX_BODY_BYTES } from '../../lambda/core/body-limit.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { InternalError, NotFoundError, PayloadTooLargeError, RateLimitError, UpstreamError } from '../../lambda/core/errors.ts';
import { GATEWAY_RESPONSES } from '../../lib/gateway-responses.ts';
import { SplitserveStack } from '../../lib/splitserve-stack.ts';
import { compileGatewayResponses } from '../../local/gateway-responses.ts';
import { gatewayResponsesFromTemplate } from '../../local/stack/gateway-responses.ts';
import type { CfnTemplate } from '../../local/stack/template-resolver.ts';
import { createTemplateResolver } from '../../local/stack/template-resolver.ts';

const context = JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')).context as Record<string, unknown>;

const config = {
  pools: { gpu: { protocol: 'openai', endpoints: ['https://gpu.pools.example.com'] } },
  models: { 'llama-3.1-8b': { pools: ['gpu'] } },
  tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
};

interface Synth {
  readonly template: Template;
  readonly json: CfnTemplate;
}

let plain: Synth;

beforeAll(() => {
  const template = Template.fromStack(new SplitserveStack(new App({ context }), 'SplitserveResponsesTest', { config: parseConfig(config) }));
  plain = { template, json: template.toJSON() as CfnTemplate };
}, 300_000);

function resourcesOf(s: Synth, type: string): Array<[string, Record<string, any>]> {
  return Object.entries(s.json.Resources)
    .filter(([, r]) => r.Type === type)
    .map(([id, r]) => [id, (r.Properties ?? {}) as Record<string, any>]);
}

describe('gateway responses (what API Gateway answers itself)', () => {
  const request = { httpMethod: 'POST', path: '/prod/v1/embeddings', requestId: 'a1b2c3d4-0000-4000-8000-000000000000', stage: 'prod', sourceIp: '192.0.2.1' };
  const rendered = (type: string) => compileGatewayResponses(gatewayResponsesFromTemplate(plain.json, createTemplateResolver(plain.json))).render(type as never, request);
  const errorOf = (body: string) => (JSON.parse(body) as { error: Record<string, unknown> }).error;

  it('are declared on the API, one per type, each with an application/json template', () => {
    const responses = resourcesOf(plain, 'AWS::ApiGateway::GatewayResponse');
    expect(responses.map(([, p]) => p.ResponseType).sort()).toEqual(GATEWAY_RESPONSES.map((r) => r.type).sort());
    const [[apiId]] = resourcesOf(plain, 'AWS::ApiGateway::RestApi') as [[string, unknown]];
    for (const [, p] of responses) {
      expect(p.RestApiId).toEqual({ Ref: apiId });
      expect(Object.keys(p.ResponseTemplates)).toEqual(['application/json']);
    }
    // Read back from the template, they are the definitions the local emulator uses by default.
    const fromTemplate = gatewayResponsesFromTemplate(plain.json, createTemplateResolver(plain.json));
    const byType = (list: readonly { type: string }[]) => [...list].sort((a, b) => a.type.localeCompare(b.type));
    expect(byType(fromTemplate)).toEqual(byType(GATEWAY_RESPONSES));
  });

  it('an unknown route or method (MISSING_AUTHENTICATION_TOKEN) is a 404 unknown_url naming method and path', () => {
    plain.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'MISSING_AUTHENTICATION_TOKEN',
      StatusCode: '404',
      ResponseTemplates: { 'application/json': Match.stringLikeRegexp('"Invalid URL \\(\\$context\\.httpMethod \\$context\\.path\\)"') },
    });
    const answer = rendered('MISSING_AUTHENTICATION_TOKEN');
    expect(answer.status).toBe(404);
    expect(JSON.parse(answer.body)).toEqual(new NotFoundError('Invalid URL (POST /prod/v1/embeddings)', 'unknown_url').toJSON());
    expect(JSON.parse(rendered('RESOURCE_NOT_FOUND').body)).toEqual(JSON.parse(answer.body));
  });

  it('a body over 10 MB (REQUEST_TOO_LARGE) is the 413 every runtime answers', () => {
    const answer = rendered('REQUEST_TOO_LARGE');
    expect(answer.status).toBe(413);
    expect(JSON.parse(answer.body)).toEqual(new PayloadTooLargeError(MAX_BODY_BYTES).toJSON());
    expect(MAX_BODY_BYTES).toBe(10_485_760);
  });

  it('stage throttling (THROTTLED) is a 429 rate_limit_exceeded with retry-after', () => {
    plain.template.hasResourceProperties('AWS::ApiGateway::GatewayResponse', {
      ResponseType: 'THROTTLED',
      StatusCode: '429',
      ResponseParameters: { 'gatewayresponse.header.retry-after': "'1'", 'gatewayresponse.header.retry-after-ms': "'1000'" },
    });
    const answer = rendered('THROTTLED');
    const like = new RateLimitError('x', 1000);
    expect(answer.status).toBe(429);
    expect(answer.headers).toMatchObject(like.headers);
    expect(errorOf(answer.body)).toMatchObject({ type: like.type, code: like.code, param: null, message: expect.stringMatching(/retry in 1s/) });
  });

  it('timeouts and failures are the function\'s 504 / 502 / 500 shapes, with the request id', () => {
    const timeout = rendered('INTEGRATION_TIMEOUT');
    expect(timeout.status).toBe(504);
    expect(errorOf(timeout.body)).toMatchObject({ type: 'timeout', code: 'upstream_timeout', message: expect.stringContaining(request.requestId) });
    expect(new UpstreamError('x', 504)).toMatchObject({ type: 'timeout', code: 'upstream_timeout' });
    const failure = rendered('INTEGRATION_FAILURE');
    expect(failure.status).toBe(502);
    expect(errorOf(failure.body)).toMatchObject({ type: new UpstreamError('x').type, code: new UpstreamError('x').code });
    const other5xx = rendered('API_CONFIGURATION_ERROR');
    expect(other5xx.status).toBe(500);
    expect(errorOf(other5xx.body)).toMatchObject({ type: new InternalError().type, code: new InternalError().code, message: expect.stringContaining(request.requestId) });
  });

  it('every other type keeps its status and API Gateway\'s message, in the OpenAI shape', () => {
    for (const [type, status] of [['UNAUTHORIZED', 401], ['ACCESS_DENIED', 403], ['WAF_FILTERED', 403], ['BAD_REQUEST_BODY', 400], ['UNSUPPORTED_MEDIA_TYPE', 415], ['QUOTA_EXCEEDED', 429], ['EXPIRED_TOKEN', 403]] as const) {
      const answer = rendered(type);
      expect(answer.status, type).toBe(status);
      expect(answer.headers['content-type']).toBe('application/json');
      expect(Object.keys(errorOf(answer.body)), type).toEqual(['message', 'type', 'param', 'code']);
      expect(errorOf(answer.body).message, type).toEqual(expect.any(String));
    }
  });
});
