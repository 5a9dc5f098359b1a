/**
 * Bedrock Runtime errors → gateway errors (docs/api.md): throttling and a model not ready
 * are a retryable 429, a validation error is the client's 400, a model timeout a retryable 504,
 * an unavailable service a retryable 503; access and unknown-model errors mean the pool is
 * misconfigured (502, not retryable, with a message that says what to fix).
 */
import type { GatewayError } from '../core/errors.ts';
import { InvalidRequestError, UpstreamError } from '../core/errors.ts';

/** Bedrock Runtime error names this mapping knows (as thrown by the SDK, or as stream members). */
export const BEDROCK_ERRORS = {
  throttling: 'ThrottlingException',
  modelNotReady: 'ModelNotReadyException',
  serviceQuotaExceeded: 'ServiceQuotaExceededException',
  validation: 'ValidationException',
  modelTimeout: 'ModelTimeoutException',
  serviceUnavailable: 'ServiceUnavailableException',
  internalServer: 'InternalServerException',
  modelStreamError: 'ModelStreamErrorException',
  modelError: 'ModelErrorException',
  accessDenied: 'AccessDeniedException',
  resourceNotFound: 'ResourceNotFoundException',
} as const;

const MAX_DETAIL = 300;

interface SdkErrorLike {
  readonly name?: unknown;
  readonly message?: unknown;
  readonly code?: unknown;
  readonly $metadata?: { readonly httpStatusCode?: number | undefined } | undefined;
}

/** `throttlingException` (a stream member) and `ThrottlingException` (an SDK error) name one error. */
function errorName(name: unknown): string {
  return typeof name === 'string' && name.length > 0 ? name.charAt(0).toUpperCase() + name.slice(1) : 'Error';
}

/**
 * Maps anything the Bedrock client threw (or a stream exception member, by `name`) to a typed
 * gateway error. An aborted call rethrows the abort reason, as the HTTP backends do.
 *
 * @example
 * throw bedrockError(Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' }), 'bedrock', signal);
 * // UpstreamError 429, retryable
 */
export function bedrockError(err: unknown, pool: string, signal?: AbortSignal): Error {
  if (signal?.aborted) return signal.reason instanceof Error ? signal.reason : new Error('aborted');
  if (err instanceof InvalidRequestError || err instanceof UpstreamError) return err;
  const e = (typeof err === 'object' && err !== null ? err : {}) as SdkErrorLike;
  const name = errorName(e.name);
  const status = e.$metadata?.httpStatusCode ?? null;
  const detail = typeof e.message === 'string' && e.message.length > 0 ? e.message.slice(0, MAX_DETAIL) : name;
  const failed = (why: string) => `The ${pool} backend (Amazon Bedrock) ${why}: ${detail}`;
  switch (name) {
    case BEDROCK_ERRORS.throttling:
    case BEDROCK_ERRORS.serviceQuotaExceeded:
      return new UpstreamError(failed(`throttled the request (${name})`), 429, true, pool, status);
    case BEDROCK_ERRORS.modelNotReady:
      return new UpstreamError(failed('model is not ready yet'), 429, true, pool, status);
    case BEDROCK_ERRORS.validation:
      return new InvalidRequestError(`Amazon Bedrock rejected the request: ${detail}`);
    case BEDROCK_ERRORS.modelTimeout:
      return new UpstreamError(failed('model timed out'), 504, true, pool, status);
    case BEDROCK_ERRORS.serviceUnavailable:
      return new UpstreamError(failed('is unavailable'), 503, true, pool, status);
    case BEDROCK_ERRORS.internalServer:
    case BEDROCK_ERRORS.modelStreamError:
      return new UpstreamError(failed(`failed (${name})`), 502, true, pool, status);
    case BEDROCK_ERRORS.modelError:
      return new UpstreamError(failed('model failed on this request'), 502, false, pool, status);
    case BEDROCK_ERRORS.accessDenied:
      return new UpstreamError(
        failed('denied access: check model access in the Bedrock console and that the function role may invoke this model'),
        502,
        false,
        pool,
        status,
      );
    case BEDROCK_ERRORS.resourceNotFound:
      return new UpstreamError(failed('does not know this model in the pool\'s region: check the pool\'s "modelIds" and "region"'), 502, false, pool, status);
    default:
      return otherError(name, e, detail, pool, status);
  }
}

/** Transport failures (refused, reset, timed out), credential failures and unmodelled statuses. */
function otherError(name: string, e: SdkErrorLike, detail: string, pool: string, status: number | null): GatewayError {
  if (name === 'TimeoutError' || e.code === 'ETIMEDOUT' || name === 'RequestTimeout') {
    return new UpstreamError(`The ${pool} backend (Amazon Bedrock) timed out.`, 504, true, pool, status);
  }
  if (name === 'CredentialsProviderError') {
    return new UpstreamError(`The ${pool} backend (Amazon Bedrock) has no AWS credentials: ${detail}`, 502, false, pool, status);
  }
  if (status !== null && status >= 400 && status < 500 && status !== 408 && status !== 429) {
    return new UpstreamError(`The ${pool} backend (Amazon Bedrock) failed (HTTP ${status}, ${name}): ${detail}`, 502, false, pool, status);
  }
  const code = typeof e.code === 'string' ? e.code : name;
  return new UpstreamError(`The ${pool} backend (Amazon Bedrock) failed (${status !== null ? `HTTP ${status}, ` : ''}${code}).`, 502, true, pool, status);
}
