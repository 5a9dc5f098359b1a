/**
 * Typed errors of the gateway. Each carries the HTTP status, a stable OpenAI-style `type` and
 * `code`, and `toJSON()` with the public shape `{error: {message, type, param, code}}`. They are
 * thrown anywhere and mapped to HTTP once, at the edge (core/gateway.ts).
 */

/** OpenAI-compatible error body. */
export interface OpenAIErrorBody {
  readonly error: {
    readonly message: string;
    readonly type: string;
    readonly param: string | null;
    readonly code: string | null;
  };
}

/** Base class: an error the client may see. */
export class GatewayError extends Error {
  /** Extra response headers (e.g. `retry-after`). */
  public headers: Record<string, string> = {};

  constructor(
    message: string,
    public readonly statusCode: number,
    public readonly type: string,
    public readonly code: string | null = null,
    public readonly param: string | null = null,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** The public, OpenAI-shaped body. Never includes a stack trace. */
  toJSON(): OpenAIErrorBody {
    return { error: { message: this.message, type: this.type, param: this.param, code: this.code } };
  }
}

/** 400: the request body or a parameter is invalid. */
export class InvalidRequestError extends GatewayError {
  constructor(message: string, param: string | null = null, code: string | null = null) {
    super(message, 400, 'invalid_request_error', code, param);
  }
}

/** 401: missing or unknown API key. The message never repeats the key. */
export class AuthenticationError extends GatewayError {
  constructor(message = 'Incorrect API key provided.') {
    super(message, 401, 'invalid_request_error', 'invalid_api_key');
  }
}

/** 403: the key or its tenant is disabled. */
export class PermissionDeniedError extends GatewayError {
  constructor(message = 'This API key has been disabled.') {
    super(message, 403, 'invalid_request_error', 'permission_denied');
  }
}

/** 404: unknown model, or unknown route. */
export class NotFoundError extends GatewayError {
  constructor(message: string, code: string | null = null, param: string | null = null) {
    super(message, 404, 'invalid_request_error', code, param);
  }
}

/** 405: a known path with the wrong method. */
export class MethodNotAllowedError extends GatewayError {
  constructor(method: string, path: string) {
    super(`Method ${method} is not allowed on ${path}.`, 405, 'invalid_request_error', 'method_not_allowed');
  }
}

/** 413: the request body is larger than the gateway accepts. */
export class PayloadTooLargeError extends GatewayError {
  constructor(limitBytes: number) {
    super(`The request body is too large (at most ${limitBytes} bytes).`, 413, 'invalid_request_error', 'request_too_large');
  }
}

/** Which limit a 429 `rate_limit_exceeded` is about: OpenAI's error `type` (`requests`: RPM, `tokens`: TPM). */
export const RATE_LIMIT_TYPES = { requests: 'requests', tokens: 'tokens' } as const;
/** One of {@link RATE_LIMIT_TYPES}. */
export type RateLimitType = (typeof RATE_LIMIT_TYPES)[keyof typeof RATE_LIMIT_TYPES];

/**
 * 429 `rate_limit_exceeded`: a window is full; retry after `retryAfterMs` (`retry-after`,
 * `retry-after-ms`). `type` names the limit as OpenAI does (`requests` or `tokens`); `headers`
 * may carry the `x-ratelimit-*` figures of the refusing window.
 */
export class RateLimitError extends GatewayError {
  constructor(
    message: string,
    public readonly retryAfterMs: number,
    limitType: RateLimitType = RATE_LIMIT_TYPES.requests,
    headers: Record<string, string> = {},
  ) {
    super(message, 429, limitType, 'rate_limit_exceeded');
    this.headers = {
      ...headers,
      'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
      'retry-after-ms': String(Math.max(0, Math.ceil(retryAfterMs))),
    };
  }
}

/**
 * 429 `rate_limit_exceeded` for a request that no window can ever hold: it alone is larger than
 * the limit (e.g. `max_tokens` above the tokens per minute). No `retry-after`, and
 * `x-should-retry: false` (which the `openai` SDKs honour): waiting cannot help, only a smaller
 * request can. A 429 and not a 400, as OpenAI answers it ("Request too large for … on tokens per
 * min (TPM): Limit …, Requested …", type `tokens`): the body is valid, and what it exceeds is the
 * caller's rate limit, which differs per tenant and tier, not a property of the request.
 */
export class RequestTooLargeError extends GatewayError {
  constructor(message: string, limitType: RateLimitType, headers: Record<string, string> = {}) {
    super(message, 429, limitType, 'rate_limit_exceeded');
    this.headers = { ...headers, 'x-should-retry': 'false' };
  }
}

/** 429 `insufficient_quota`: the monthly budget is spent (or smaller than the request); retrying will not help. */
export class InsufficientQuotaError extends GatewayError {
  constructor(message = 'You exceeded your current quota for this period.') {
    super(message, 429, 'insufficient_quota', 'insufficient_quota');
    this.headers = { 'x-should-retry': 'false' };
  }
}

/**
 * 429 `resource_unavailable`: the tier's pools are too busy to serve the request within its SLO
 * and nothing better placed took it (lambda/routing/overload.ts). A 429, not a 503: the server is
 * not failing, the request's tier is out of capacity for a moment, as OpenAI answers a flex
 * request it has no capacity for ("429 Resource Unavailable"); clients back off and retry after
 * `retry-after` (the `openai` SDK does), and it counts against no availability SLO.
 */
export class TierOverloadedError extends GatewayError {
  constructor(
    tier: string,
    public readonly retryAfterMs: number,
    waitMs: number,
    budgetMs: number,
  ) {
    const seconds = Math.max(1, Math.ceil(retryAfterMs / 1000));
    super(
      `Resource unavailable: the '${tier}' service tier is at capacity (estimated queue ${formatMs(waitMs)}, over its ${formatMs(budgetMs)} bound). Please retry in ${seconds}s, or use a higher service_tier.`,
      429,
      'resource_unavailable',
      'resource_unavailable',
    );
    this.headers = {
      'retry-after': String(seconds),
      'retry-after-ms': String(Math.ceil(retryAfterMs)),
      'x-should-retry': 'true',
    };
  }
}

function formatMs(ms: number): string {
  if (!Number.isFinite(ms)) return 'unbounded';
  return ms >= 1000 ? `${(ms / 1000).toFixed(1)} s` : `${Math.round(ms)} ms`;
}

/**
 * 5xx: a backend failed. `retryable` marks transient failures (timeouts, throttling, 5xx,
 * connection errors) that Retry and fallback may act on.
 */
export class UpstreamError extends GatewayError {
  constructor(
    message: string,
    statusCode = 502,
    public readonly retryable = true,
    public readonly pool: string | null = null,
    public readonly upstreamStatus: number | null = null,
  ) {
    super(message, statusCode, statusCode === 504 ? 'timeout' : 'upstream_error', statusCode === 504 ? 'upstream_timeout' : 'upstream_error');
  }
}

/**
 * 503 `service_unavailable`: a dependency of the gateway (its DynamoDB tables) is throttling or
 * failing past its retries; the request was not served and may be retried shortly.
 */
export class ServiceUnavailableError extends GatewayError {
  constructor(message = 'The server is temporarily unable to serve your request (its store is busy). Please retry shortly.') {
    super(message, 503, 'server_error', 'service_unavailable');
    this.headers = { 'retry-after': '1', 'retry-after-ms': '1000', 'x-should-retry': 'true' };
  }
}

/**
 * 503 `server_shutting_down`: the gateway is stopping. A request that arrives while it drains is
 * refused at once (retry elsewhere or later); one still running at the drain deadline ends with
 * this error (a stream: as its last event, before `[DONE]`).
 */
export class ShuttingDownError extends GatewayError {
  constructor(message = 'The server is shutting down. Please retry your request.') {
    super(message, 503, 'server_error', 'server_shutting_down');
    this.headers = { 'retry-after': '1', 'x-should-retry': 'true' };
  }
}

/**
 * 504 `request_timeout`: the request ran into the gateway's own deadline (the Lambda function's
 * time limit less a margin to meter it, or the plan execution's time limit).
 */
export class RequestTimeoutError extends GatewayError {
  constructor(message = 'The request took too long and was stopped before the server\'s time limit.') {
    super(message, 504, 'timeout', 'request_timeout');
  }
}

/** The error a request's deadline answers: its own reason when that is a gateway error, else a 504. */
export function deadlineError(reason: unknown): GatewayError {
  return reason instanceof GatewayError ? reason : new RequestTimeoutError();
}

/**
 * 504: a plan execution ended without running its Meter or MeterFailure step (timed out, or
 * aborted); its executor ran the Meter step instead.
 */
export class PlanNotMeteredError extends UpstreamError {
  constructor(status: string) {
    super(`The plan execution ended as ${status}.`, 504, true);
  }
}

/** 500: a bug or an unexpected condition; the message shown to the client is generic. */
export class InternalError extends GatewayError {
  constructor(message = 'The server had an error while processing your request.') {
    super(message, 500, 'server_error', 'internal_error');
  }
}

/** A configuration file is invalid (thrown at start-up, never on the request path). */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

/** Maps anything thrown to a {@link GatewayError}; unknown errors become a generic 500. */
export function toGatewayError(err: unknown): GatewayError {
  return err instanceof GatewayError ? err : new InternalError();
}
