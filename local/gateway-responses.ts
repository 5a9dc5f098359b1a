/**
 * API Gateway's own answers, emulated: given the REST API's gateway responses (the synthesized
 * template's `AWS::ApiGateway::GatewayResponse` resources, or lib/gateway-responses.ts directly),
 * renders the response API Gateway would send for a response type and a request, the way API
 * Gateway does it: the type's own response if the API customises it, else `DEFAULT_4XX` /
 * `DEFAULT_5XX` by the type's status, else API Gateway's built-in `{"message": …}`. Templates are
 * simple variable substitution (API Gateway does not run VTL on them); a template or header that
 * refers to anything this emulator does not provide fails when the responses are loaded, not on a
 * request.
 */
import type { GatewayResponseDefinition, GatewayResponseType } from '../lib/gateway-responses.ts';
import { GATEWAY_RESPONSE_TYPES } from '../lib/gateway-responses.ts';

/** API Gateway's status and message of each response type when the API does not customise it. */
const BUILT_IN: Record<GatewayResponseType, { readonly status: number; readonly message: string }> = {
  ACCESS_DENIED: { status: 403, message: 'Forbidden' },
  API_CONFIGURATION_ERROR: { status: 500, message: 'Internal server error' },
  AUTHORIZER_CONFIGURATION_ERROR: { status: 500, message: 'Internal server error' },
  AUTHORIZER_FAILURE: { status: 500, message: 'Internal server error' },
  BAD_REQUEST_BODY: { status: 400, message: 'Invalid request body' },
  BAD_REQUEST_PARAMETERS: { status: 400, message: 'Invalid request parameters' },
  DEFAULT_4XX: { status: 400, message: 'Bad Request' },
  DEFAULT_5XX: { status: 500, message: 'Internal server error' },
  EXPIRED_TOKEN: { status: 403, message: 'Token expired' },
  INTEGRATION_FAILURE: { status: 504, message: 'Internal server error' },
  INTEGRATION_TIMEOUT: { status: 504, message: 'Endpoint request timed out' },
  INVALID_API_KEY: { status: 403, message: 'Forbidden' },
  INVALID_SIGNATURE: { status: 403, message: 'Invalid signature' },
  MISSING_AUTHENTICATION_TOKEN: { status: 403, message: 'Missing Authentication Token' },
  QUOTA_EXCEEDED: { status: 429, message: 'Limit Exceeded' },
  REQUEST_TOO_LARGE: { status: 413, message: 'Request Too Long' },
  RESOURCE_NOT_FOUND: { status: 404, message: 'Not Found' },
  THROTTLED: { status: 429, message: 'Too Many Requests' },
  UNAUTHORIZED: { status: 401, message: 'Unauthorized' },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, message: 'Unsupported Media Type' },
  WAF_FILTERED: { status: 403, message: 'Forbidden' },
};

const BUILT_IN_TEMPLATE = '{"message":$context.error.messageString}';

/** The request as a gateway response template sees it (`$context`). */
export interface GatewayResponseRequest {
  readonly httpMethod: string;
  /** The path as the client sent it (the emulator serves the stage at the root, as a custom domain does). */
  readonly path: string;
  readonly requestId: string;
  readonly stage: string;
  readonly sourceIp: string;
}

/** A rendered gateway response. */
export interface RenderedGatewayResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string;
}

/** Thrown when a gateway response uses something the emulator cannot render. */
export class GatewayResponseError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'GatewayResponseError';
  }
}

const CONTEXT_VARIABLES = [
  'httpMethod',
  'path',
  'resourcePath',
  'requestId',
  'extendedRequestId',
  'stage',
  'apiId',
  'accountId',
  'identity.sourceIp',
  'error.message',
  'error.messageString',
  'error.responseType',
] as const;
type ContextVariable = (typeof CONTEXT_VARIABLES)[number];
const KNOWN_VARIABLES = new Set<string>(CONTEXT_VARIABLES);
const VARIABLE = /\$context((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g;

function isResponseType(type: string): type is GatewayResponseType {
  return Object.hasOwn(BUILT_IN, type);
}

/** A static header value (`'1'`); request-dependent mappings are not emulated. */
function staticHeaderValue(type: string, name: string, expression: string): string {
  const match = /^'(.*)'$/s.exec(expression);
  if (!match) throw new GatewayResponseError(`gateway response ${type}: header ${name} = ${expression} is not a static value ('…'), which is all the emulator renders`);
  return match[1]!;
}

function checkTemplate(type: string, template: string): void {
  for (const [, name] of template.matchAll(VARIABLE)) {
    if (!KNOWN_VARIABLES.has(name!.slice(1))) throw new GatewayResponseError(`gateway response ${type}: $context${name} is not emulated`);
  }
  if (/\$(?!context\.)[A-Za-z{]/.test(template)) throw new GatewayResponseError(`gateway response ${type}: only $context variables are emulated`);
}

/** Renders API Gateway's own responses for one REST API. */
export interface GatewayResponses {
  /**
   * The answer to a request API Gateway refuses with `type`; `status` is the failure's own status
   * when it is not the type's (a failed Lambda is `DEFAULT_5XX` with 502), kept unless the
   * response sets one.
   *
   * @example
   * responses.render('MISSING_AUTHENTICATION_TOKEN', { httpMethod: 'GET', path: '/v2', requestId, stage: 'local', sourceIp: '127.0.0.1' });
   * // { status: 404, headers: { 'content-type': 'application/json' }, body: '{"error":{"message":"Invalid URL (GET /v2)",…}}' }
   */
  render(type: GatewayResponseType, request: GatewayResponseRequest, status?: number): RenderedGatewayResponse;
}

/**
 * Compiles gateway response definitions for rendering; an empty list is API Gateway's built-in
 * behaviour (`{"message": "Missing Authentication Token"}` and the rest).
 *
 * @throws GatewayResponseError for an unknown type, a duplicate type, a non-numeric status, or a
 *   template or header the emulator cannot render
 */
export function compileGatewayResponses(definitions: readonly GatewayResponseDefinition[]): GatewayResponses {
  const byType = new Map<GatewayResponseType, { status: number | undefined; headers: Record<string, string>; template: string }>();
  for (const d of definitions) {
    if (!isResponseType(d.type)) throw new GatewayResponseError(`unknown gateway response type ${String(d.type)}`);
    if (byType.has(d.type)) throw new GatewayResponseError(`gateway response ${d.type} is defined twice`);
    const status = d.statusCode === undefined ? undefined : Number(d.statusCode);
    if (status !== undefined && !(Number.isInteger(status) && status >= 100 && status <= 599)) {
      throw new GatewayResponseError(`gateway response ${d.type}: status ${d.statusCode} is not an HTTP status`);
    }
    checkTemplate(d.type, d.template);
    const headers: Record<string, string> = {};
    for (const [name, expression] of Object.entries(d.headers ?? {})) headers[name.toLowerCase()] = staticHeaderValue(d.type, name, expression);
    byType.set(d.type, { status, headers, template: d.template });
  }

  return {
    render(type, request, status) {
      const builtIn = BUILT_IN[type];
      const fallback = byType.get(builtIn.status >= 500 ? GATEWAY_RESPONSE_TYPES.default5xx : GATEWAY_RESPONSE_TYPES.default4xx);
      const own = byType.get(type) ?? fallback;
      const context: Record<ContextVariable, string> = {
        httpMethod: request.httpMethod,
        path: request.path,
        resourcePath: request.path,
        requestId: request.requestId,
        extendedRequestId: request.requestId,
        stage: request.stage,
        apiId: 'local',
        accountId: '000000000000',
        'identity.sourceIp': request.sourceIp,
        'error.message': builtIn.message,
        'error.messageString': JSON.stringify(builtIn.message),
        'error.responseType': type,
      };
      const template = own?.template ?? BUILT_IN_TEMPLATE;
      return {
        status: own?.status ?? status ?? builtIn.status,
        headers: { 'content-type': 'application/json', ...own?.headers },
        body: template.replace(VARIABLE, (_, name: string) => context[name.slice(1) as ContextVariable]),
      };
    },
  };
}
