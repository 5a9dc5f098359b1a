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

/** 429 `rate_limit_exceeded`: a window is full; retry after `retryAfterMs`. */
export class RateLimitError extends GatewayError {
  constructor(message: string, public readonly retryAfterMs: number) {
    super(message, 429, 'requests', 'rate_limit_exceeded');
    this.headers = {
      'retry-after': String(Math.max(1, Math.ceil(retryAfterMs / 1000))),
      'retry-after-ms': String(Math.max(0, Math.ceil(retryAfterMs))),
    };
  }
}

/** 429 `insufficient_quota`: the monthly budget is spent; retrying will not help. */
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
