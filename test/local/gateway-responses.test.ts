/**
 * The emulated gateway responses: API Gateway's fallbacks (own type → DEFAULT_4XX/5XX → built-in),
 * variable substitution only, and loud failures for what the emulator cannot render.
 */
import { describe, expect, it } from 'vitest';
import type { GatewayResponseDefinition } from '../../lib/gateway-responses.ts';
import { GATEWAY_RESPONSES } from '../../lib/gateway-responses.ts';
import { GatewayResponseError, compileGatewayResponses } from '../../local/gateway-responses.ts';

const request = { httpMethod: 'DELETE', path: '/v1/models', requestId: 'rid-1', stage: 'local', sourceIp: '127.0.0.1' };
const def = (d: Partial<GatewayResponseDefinition> & Pick<GatewayResponseDefinition, 'type'>): GatewayResponseDefinition => ({ template: '{}', ...d });

describe('compileGatewayResponses', () => {
  it('without definitions answers as API Gateway does by default', () => {
    const built = compileGatewayResponses([]);
    expect(built.render('MISSING_AUTHENTICATION_TOKEN', request)).toEqual({
      status: 403,
      headers: { 'content-type': 'application/json' },
      body: '{"message":"Missing Authentication Token"}',
    });
    expect(built.render('REQUEST_TOO_LARGE', request)).toMatchObject({ status: 413, body: '{"message":"Request Too Long"}' });
    expect(built.render('DEFAULT_5XX', request, 502)).toMatchObject({ status: 502, body: '{"message":"Internal server error"}' });
  });

  it('falls back to DEFAULT_4XX / DEFAULT_5XX by status, keeping the type\'s status', () => {
    const built = compileGatewayResponses([
      def({ type: 'DEFAULT_4XX', template: '{"t":"$context.error.responseType","m":$context.error.messageString}' }),
      def({ type: 'DEFAULT_5XX', template: '{"five":"$context.requestId"}' }),
    ]);
    expect(built.render('MISSING_AUTHENTICATION_TOKEN', request)).toMatchObject({ status: 403, body: '{"t":"MISSING_AUTHENTICATION_TOKEN","m":"Missing Authentication Token"}' });
    expect(built.render('INTEGRATION_TIMEOUT', request)).toMatchObject({ status: 504, body: '{"five":"rid-1"}' });
    expect(built.render('DEFAULT_5XX', request, 502)).toMatchObject({ status: 502 });
  });

  it('uses a type\'s own status, headers and template, substituting $context variables', () => {
    const built = compileGatewayResponses([
      def({ type: 'THROTTLED', statusCode: '429', headers: { 'Retry-After': "'1'" }, template: '{"m":"$context.httpMethod $context.path.","s":"$context.stage"}' }),
    ]);
    expect(built.render('THROTTLED', request)).toEqual({
      status: 429,
      headers: { 'content-type': 'application/json', 'retry-after': '1' },
      body: '{"m":"DELETE /v1/models.","s":"local"}',
    });
  });

  it('renders every response of the stack to an OpenAI error body', () => {
    const built = compileGatewayResponses(GATEWAY_RESPONSES);
    for (const { type } of GATEWAY_RESPONSES) {
      const body = JSON.parse(built.render(type, request).body) as { error: Record<string, unknown> };
      expect(Object.keys(body.error), type).toEqual(['message', 'type', 'param', 'code']);
      expect(body.error.message, type).not.toMatch(/\$context/);
    }
  });

  it.each([
    ['an unknown $context variable', def({ type: 'DEFAULT_4XX', template: '{"x":"$context.authorizer.claims.sub"}' }), /\$context\.authorizer\.claims\.sub is not emulated/],
    ['a non-$context variable', def({ type: 'DEFAULT_4XX', template: '{"x":$input.body}' }), /only \$context/],
    ['a header mapped from the request', def({ type: 'DEFAULT_4XX', headers: { 'x-id': 'method.request.header.x-id' } }), /not a static value/],
    ['an unknown type', def({ type: 'NOPE' as never }), /unknown gateway response type NOPE/],
    ['a non-numeric status', def({ type: 'THROTTLED', statusCode: 'abc' }), /not an HTTP status/],
  ])('refuses %s when loaded', (_, definition, message) => {
    expect(() => compileGatewayResponses([definition])).toThrow(GatewayResponseError);
    expect(() => compileGatewayResponses([definition])).toThrow(message);
  });

  it('refuses a type defined twice', () => {
    expect(() => compileGatewayResponses([def({ type: 'THROTTLED' }), def({ type: 'THROTTLED' })])).toThrow(/defined twice/);
  });
});
