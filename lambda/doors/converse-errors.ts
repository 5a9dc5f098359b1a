/**
 * Gateway errors → Bedrock Runtime's typed exceptions, as the Converse door answers them: the
 * HTTP status and `x-amzn-errortype` header the AWS SDK reads to throw its exception class, a
 * `{"message"}` body, and, mid-stream, the exception event of the ConverseStream union. Mapped by
 * status and code (what survives a Step Functions execution), never by class.
 */
import type { GatewayError, OpenAIErrorBody } from '../core/errors.ts';
import type { GatewayResponse } from '../core/http-types.ts';

/** The Bedrock exceptions the door answers with (the SDK's exception names). */
export const CONVERSE_EXCEPTIONS = {
  validation: 'ValidationException',
  unrecognizedClient: 'UnrecognizedClientException',
  accessDenied: 'AccessDeniedException',
  resourceNotFound: 'ResourceNotFoundException',
  throttling: 'ThrottlingException',
  serviceQuotaExceeded: 'ServiceQuotaExceededException',
  modelTimeout: 'ModelTimeoutException',
  serviceUnavailable: 'ServiceUnavailableException',
  internalServer: 'InternalServerException',
  modelStreamError: 'ModelStreamErrorException',
} as const;
/** One of {@link CONVERSE_EXCEPTIONS}. */
export type ConverseException = (typeof CONVERSE_EXCEPTIONS)[keyof typeof CONVERSE_EXCEPTIONS];

/** Each exception's HTTP status, as Bedrock Runtime's service model declares it. */
const STATUS: Record<ConverseException, number> = {
  ValidationException: 400,
  UnrecognizedClientException: 403,
  AccessDeniedException: 403,
  ResourceNotFoundException: 404,
  ThrottlingException: 429,
  ServiceQuotaExceededException: 400,
  ModelTimeoutException: 408,
  ServiceUnavailableException: 503,
  InternalServerException: 500,
  ModelStreamErrorException: 424,
};

/** Codes of a 429 that waiting cannot cure: the monthly budget, or a request larger than any window. */
function isQuota(code: string | null, headers: Record<string, string>): boolean {
  return code === 'insufficient_quota' || headers['x-should-retry'] === 'false';
}

/**
 * The Bedrock exception of a gateway error (docs/api.md, "Bedrock Converse"): 400/405/413 →
 * ValidationException; 401 → UnrecognizedClientException; 403 → AccessDeniedException; 404 →
 * ResourceNotFoundException; 429 → ThrottlingException (retried by the SDK), or
 * ServiceQuotaExceededException when retrying cannot help (budget spent, request over a limit);
 * 408/504 → ModelTimeoutException; 503 → ServiceUnavailableException; anything else →
 * InternalServerException.
 */
export function converseException(status: number, code: string | null, headers: Record<string, string> = {}): ConverseException {
  if (status === 401) return CONVERSE_EXCEPTIONS.unrecognizedClient;
  if (status === 403) return CONVERSE_EXCEPTIONS.accessDenied;
  if (status === 404) return CONVERSE_EXCEPTIONS.resourceNotFound;
  if (status === 429) return isQuota(code, headers) ? CONVERSE_EXCEPTIONS.serviceQuotaExceeded : CONVERSE_EXCEPTIONS.throttling;
  if (status === 408 || status === 504) return CONVERSE_EXCEPTIONS.modelTimeout;
  if (status === 503) return CONVERSE_EXCEPTIONS.serviceUnavailable;
  if (status >= 400 && status < 500) return CONVERSE_EXCEPTIONS.validation;
  return CONVERSE_EXCEPTIONS.internalServer;
}

/** Headers of the gateway error worth keeping on a Bedrock-shaped answer (retry hints, rate limits). */
function keptHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (name.startsWith('retry-after') || name.startsWith('x-ratelimit-') || name === 'x-should-retry') out[name] = value;
  }
  return out;
}

/**
 * The HTTP answer of a gateway error at the Converse door: the exception's status, its
 * `x-amzn-errortype`, `x-amzn-requestid`, and `{"message"}` (as Bedrock Runtime answers).
 *
 * @example
 * converseErrorResponse(new RateLimitError('Rate limit reached', 2000), { 'x-request-id': 'req_1' }, 'req_1').status // 429
 */
export function converseErrorResponse(error: GatewayError, baseHeaders: Record<string, string>, requestId: string): GatewayResponse {
  const name = converseException(error.statusCode, error.code, error.headers);
  return {
    status: STATUS[name],
    headers: {
      'content-type': 'application/json',
      ...baseHeaders,
      ...keptHeaders(error.headers),
      'x-amzn-errortype': `${name}:http://internal.amazon.com/coral/com.amazon.bedrock/`,
      'x-amzn-requestid': requestId,
    },
    body: JSON.stringify({ message: error.message }),
  };
}

/** Stream exception members of ConverseStream (`:exception-type`), as the SDK's union names them. */
export const STREAM_EXCEPTIONS = {
  internalServer: 'internalServerException',
  modelStreamError: 'modelStreamErrorException',
  validation: 'validationException',
  throttling: 'throttlingException',
  serviceUnavailable: 'serviceUnavailableException',
} as const;
/** One of {@link STREAM_EXCEPTIONS}. */
export type StreamException = (typeof STREAM_EXCEPTIONS)[keyof typeof STREAM_EXCEPTIONS];

/** The status an error of a relayed stream stands for, from its OpenAI-shaped body (its status is not in it). */
function statusOfBody(error: OpenAIErrorBody['error']): number {
  switch (error.code) {
    case 'rate_limit_exceeded':
    case 'resource_unavailable':
      return 429;
    case 'upstream_timeout':
    case 'request_timeout':
      return 504;
    case 'service_unavailable':
    case 'server_shutting_down':
      return 503;
    default:
      return error.type === 'invalid_request_error' ? 400 : 500;
  }
}

/**
 * The exception event of a stream that failed after its first event: from the gateway error the
 * relay ended it with when known (`failure`), else from its error event's body. Throttling,
 * validation and unavailability keep their member; a timeout is a `modelStreamErrorException`
 * (ConverseStream has no timeout member); anything else an `internalServerException`.
 */
export function streamException(error: OpenAIErrorBody['error'], failure?: GatewayError): StreamException {
  const exception = failure ? converseException(failure.statusCode, failure.code, failure.headers) : converseException(statusOfBody(error), error.code);
  switch (exception) {
    case CONVERSE_EXCEPTIONS.throttling:
      return STREAM_EXCEPTIONS.throttling;
    case CONVERSE_EXCEPTIONS.validation:
      return STREAM_EXCEPTIONS.validation;
    case CONVERSE_EXCEPTIONS.serviceUnavailable:
      return STREAM_EXCEPTIONS.serviceUnavailable;
    case CONVERSE_EXCEPTIONS.modelTimeout:
      return STREAM_EXCEPTIONS.modelStreamError;
    default:
      return STREAM_EXCEPTIONS.internalServer;
  }
}
