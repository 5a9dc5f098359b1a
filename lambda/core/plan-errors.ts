/**
 * Error names shared by the plan's step functions (lambda/handlers/step-tasks.ts) and the
 * orchestration state machine (lib/orchestration.ts). A step throws an `Error` whose `name` is one
 * of these; Step Functions reports that name as the state's `Error`, and the ASL's `Retry` and
 * `Catch` rules match on it. Changing a value here changes both sides at once.
 */

/** Error names a plan step may throw. */
export const PLAN_ERRORS = {
  /** The backend failed in a way worth retrying (connection reset, 408/429/5xx, stall). */
  upstreamTransient: 'Splitserve.UpstreamTransient',
  /** The backend failed in a way a retry will not fix (4xx other than 408/429, bad answer). */
  upstreamFatal: 'Splitserve.UpstreamFatal',
  /** The request itself is wrong (a 4xx the client must fix): no retry, no fallback. */
  clientError: 'Splitserve.ClientError',
} as const;

/** One of {@link PLAN_ERRORS}' values. */
export type PlanErrorName = (typeof PLAN_ERRORS)[keyof typeof PLAN_ERRORS];

/**
 * Errors raised by the Lambda service or Step Functions itself around a task invocation that are
 * safe to retry (the function did not run, was throttled, or the SDK lost the connection).
 */
export const LAMBDA_TRANSIENT_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
  'States.Timeout',
] as const;

/**
 * Error names the state machine retries on a task before it gives up and catches to `Fallback`.
 *
 * @example
 * if ((RETRYABLE_PLAN_ERRORS as readonly string[]).includes(err.name)) retry();
 */
export const RETRYABLE_PLAN_ERRORS: readonly string[] = [...LAMBDA_TRANSIENT_ERRORS, PLAN_ERRORS.upstreamTransient];

