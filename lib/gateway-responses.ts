/**
 * The REST API's gateway responses: what API Gateway itself answers when a request never reaches
 * the gateway function (unknown route or method, body over 10 MB, stage throttling, integration
 * timeout, …), in the OpenAI error shape the function uses (lambda/core/errors.ts), instead of
 * API Gateway's `{"message": "Missing Authentication Token"}`.
 *
 * Plain data (no CDK import): lib/api.ts adds one `AWS::ApiGateway::GatewayResponse` per entry,
 * and the local stack runtime reads those resources back from the synthesized template and renders
 * them in its API Gateway emulator (local/gateway-responses.ts), so `npm start` answers what the
 * deployed stack answers.
 *
 * A gateway response template is not VTL: API Gateway only substitutes `$context` variables.
 * `$context.error.messageString` is already a quoted JSON string; every other variable used here
 * is placed inside a JSON string.
 */
import { PAYLOAD_TOO_LARGE_BODY } from '../lambda/core/body-limit.ts';

/** Response types of API Gateway REST (`ResponseType` in aws-cdk-lib/aws-apigateway). */
export const GATEWAY_RESPONSE_TYPES = {
  accessDenied: 'ACCESS_DENIED',
  apiConfigurationError: 'API_CONFIGURATION_ERROR',
  authorizerConfigurationError: 'AUTHORIZER_CONFIGURATION_ERROR',
  authorizerFailure: 'AUTHORIZER_FAILURE',
  badRequestBody: 'BAD_REQUEST_BODY',
  badRequestParameters: 'BAD_REQUEST_PARAMETERS',
  default4xx: 'DEFAULT_4XX',
  default5xx: 'DEFAULT_5XX',
  expiredToken: 'EXPIRED_TOKEN',
  integrationFailure: 'INTEGRATION_FAILURE',
  integrationTimeout: 'INTEGRATION_TIMEOUT',
  invalidApiKey: 'INVALID_API_KEY',
  invalidSignature: 'INVALID_SIGNATURE',
  missingAuthenticationToken: 'MISSING_AUTHENTICATION_TOKEN',
  quotaExceeded: 'QUOTA_EXCEEDED',
  requestTooLarge: 'REQUEST_TOO_LARGE',
  resourceNotFound: 'RESOURCE_NOT_FOUND',
  throttled: 'THROTTLED',
  unauthorized: 'UNAUTHORIZED',
  unsupportedMediaType: 'UNSUPPORTED_MEDIA_TYPE',
  wafFiltered: 'WAF_FILTERED',
} as const;
/** One of {@link GATEWAY_RESPONSE_TYPES}. */
export type GatewayResponseType = (typeof GATEWAY_RESPONSE_TYPES)[keyof typeof GATEWAY_RESPONSE_TYPES];

/** One gateway response, as `AWS::ApiGateway::GatewayResponse` declares it. */
export interface GatewayResponseDefinition {
  readonly type: GatewayResponseType;
  /** Status code; when absent, the type's own (DEFAULT_4XX/5XX: each type keeps its status). */
  readonly statusCode?: string;
  /** Response headers, each value a mapping expression: a quoted static value (`"'1'"`). */
  readonly headers?: Readonly<Record<string, string>>;
  /** The `application/json` body template. */
  readonly template: string;
}

/** The `$context.error.messageString` reference: API Gateway's message, already a JSON string. */
const GATEWAY_MESSAGE = '$context.error.messageString';

/**
 * An OpenAI error body template. `message` is a template fragment that is a JSON string once
 * rendered: {@link GATEWAY_MESSAGE}, or a quoted text whose `$context` variables API Gateway fills in.
 */
function errorTemplate(message: string, type: string, code: string | null): string {
  return `{"error":{"message":${message},"type":${JSON.stringify(type)},"param":null,"code":${JSON.stringify(code)}}}`;
}

/** Seconds a client throttled by the stage waits: the stage's token bucket refills every second. */
const THROTTLE_RETRY_AFTER_S = 1;

/**
 * The gateway responses of the REST API. Statuses, `type`s and `code`s are those of the function's
 * own errors for the same condition (lambda/core/errors.ts):
 * - `MISSING_AUTHENTICATION_TOKEN` is what API Gateway answers (403) for a path or method the API
 *   does not have (paths are case-sensitive, and `/v1/models/` is not `/v1/models`): 404
 *   `unknown_url`, "Invalid URL (METHOD /path)", the message OpenAI's API gives. API Gateway cannot
 *   tell a wrong method from an unknown path here, so a wrong method is a 404 too (the node
 *   runtime, which routes in the core, answers 405).
 * - `REQUEST_TOO_LARGE` (body over 10 MB): the 413 `request_too_large` body of every runtime.
 * - `THROTTLED` (stage rate/burst limit): 429 `rate_limit_exceeded` with `retry-after`.
 * - `INTEGRATION_TIMEOUT`: 504 `upstream_timeout`; `INTEGRATION_FAILURE`: 502 `upstream_error`.
 * - `DEFAULT_4XX` / `DEFAULT_5XX`: every other type, with its own status and API Gateway's message.
 */
export const GATEWAY_RESPONSES: readonly GatewayResponseDefinition[] = [
  {
    type: GATEWAY_RESPONSE_TYPES.missingAuthenticationToken,
    statusCode: '404',
    template: errorTemplate('"Invalid URL ($context.httpMethod $context.path)"', 'invalid_request_error', 'unknown_url'),
  },
  {
    type: GATEWAY_RESPONSE_TYPES.resourceNotFound,
    statusCode: '404',
    template: errorTemplate('"Invalid URL ($context.httpMethod $context.path)"', 'invalid_request_error', 'unknown_url'),
  },
  { type: GATEWAY_RESPONSE_TYPES.requestTooLarge, statusCode: '413', template: PAYLOAD_TOO_LARGE_BODY },
  {
    type: GATEWAY_RESPONSE_TYPES.throttled,
    statusCode: '429',
    headers: { 'retry-after': `'${THROTTLE_RETRY_AFTER_S}'`, 'retry-after-ms': `'${THROTTLE_RETRY_AFTER_S * 1000}'` },
    template: errorTemplate(`"Rate limit reached: the API is receiving more requests than it accepts. Please retry in ${THROTTLE_RETRY_AFTER_S}s."`, 'requests', 'rate_limit_exceeded'),
  },
  {
    type: GATEWAY_RESPONSE_TYPES.integrationTimeout,
    statusCode: '504',
    template: errorTemplate('"The request timed out before the gateway answered (request $context.requestId)."', 'timeout', 'upstream_timeout'),
  },
  {
    type: GATEWAY_RESPONSE_TYPES.integrationFailure,
    statusCode: '502',
    template: errorTemplate('"The gateway failed to answer the request (request $context.requestId)."', 'upstream_error', 'upstream_error'),
  },
  { type: GATEWAY_RESPONSE_TYPES.unauthorized, statusCode: '401', template: errorTemplate(GATEWAY_MESSAGE, 'invalid_request_error', 'invalid_api_key') },
  { type: GATEWAY_RESPONSE_TYPES.accessDenied, statusCode: '403', template: errorTemplate(GATEWAY_MESSAGE, 'invalid_request_error', 'permission_denied') },
  { type: GATEWAY_RESPONSE_TYPES.wafFiltered, statusCode: '403', template: errorTemplate(GATEWAY_MESSAGE, 'invalid_request_error', 'permission_denied') },
  { type: GATEWAY_RESPONSE_TYPES.badRequestBody, statusCode: '400', template: errorTemplate(GATEWAY_MESSAGE, 'invalid_request_error', null) },
  { type: GATEWAY_RESPONSE_TYPES.badRequestParameters, statusCode: '400', template: errorTemplate(GATEWAY_MESSAGE, 'invalid_request_error', null) },
  { type: GATEWAY_RESPONSE_TYPES.unsupportedMediaType, statusCode: '415', template: errorTemplate(GATEWAY_MESSAGE, 'invalid_request_error', null) },
  { type: GATEWAY_RESPONSE_TYPES.default4xx, template: errorTemplate(GATEWAY_MESSAGE, 'invalid_request_error', null) },
  {
    type: GATEWAY_RESPONSE_TYPES.default5xx,
    template: errorTemplate('"The server had an error while processing your request (request $context.requestId)."', 'server_error', 'internal_error'),
  },
];
