/**
 * Errors of the store module (admin operations). Request-path refusals use the core's
 * RateLimitError / InsufficientQuotaError instead.
 */

import { ServiceUnavailableError } from '../core/errors.ts';

/** DynamoDB errors that mean "busy or failing for a moment" once the SDK's own retries are spent. */
const TRANSIENT_STORE_ERRORS: ReadonlySet<string> = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  'TimeoutError',
]);

/**
 * On the request path: a store that is throttling or failing after the SDK's retries becomes a
 * 503 the client may retry (with `retry-after`), not a 500. Anything else is returned unchanged.
 *
 * @example
 * try { await client.send(command); } catch (err) { throw storeFailure(err); }
 */
export function storeFailure(err: unknown): unknown {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === 'string' && TRANSIENT_STORE_ERRORS.has(name) ? new ServiceUnavailableError() : err;
}

/** Stable codes of store errors. */
export const STORE_ERROR_CODES = {
  notFound: 'not_found',
  alreadyExists: 'already_exists',
  notDurable: 'not_durable',
  invalidArgument: 'invalid_argument',
} as const;
/** One of {@link STORE_ERROR_CODES}. */
export type StoreErrorCode = (typeof STORE_ERROR_CODES)[keyof typeof STORE_ERROR_CODES];

/** Base class of store errors, with a stable `code`. */
export class StoreError extends Error {
  constructor(
    message: string,
    public readonly code: StoreErrorCode,
  ) {
    super(message);
    this.name = new.target.name;
  }

  /** A plain shape for `--json` output. */
  toJSON(): { error: { message: string; code: StoreErrorCode } } {
    return { error: { message: this.message, code: this.code } };
  }
}

/** A tenant or key does not exist. */
export class NotFoundInStoreError extends StoreError {
  constructor(message: string) {
    super(message, STORE_ERROR_CODES.notFound);
  }
}

/** A tenant or key already exists. */
export class AlreadyExistsError extends StoreError {
  constructor(message: string) {
    super(message, STORE_ERROR_CODES.alreadyExists);
  }
}

/** Some writes are not yet durable; they are kept and retried (never dropped). */
export class NotDurableError extends StoreError {
  constructor(
    message: string,
    public readonly pending: number,
  ) {
    super(message, STORE_ERROR_CODES.notDurable);
  }
}

/** An admin operation got an invalid argument (bad tenant id, unknown tier, bad number). */
export class InvalidArgumentError extends StoreError {
  constructor(message: string) {
    super(message, STORE_ERROR_CODES.invalidArgument);
  }
}
