/**
 * What AWS reports when a Lambda function throws: the Node.js runtime answers the invocation with
 * `{"errorType": err.name, "errorMessage": err.message, "trace": [stack lines]}`, and a Step
 * Functions Task state that invoked it fails with `Error` = `errorType` and `Cause` = that JSON,
 * as a string. Retry and Catch match on `Error`; a Catch's ResultPath receives `{Error, Cause}`.
 */

/** The Lambda runtime's error payload. */
export interface LambdaErrorPayload {
  readonly errorType: string;
  readonly errorMessage: string;
  readonly trace: readonly string[];
}

/**
 * The Lambda error payload of a thrown value, as the Node.js runtime builds it (a non-Error
 * value is reported with errorType `Error` and its string form).
 *
 * @example
 * lambdaErrorPayload(Object.assign(new Error('503'), { name: 'Splitserve.UpstreamTransient' })).errorType;
 * // 'Splitserve.UpstreamTransient'
 */
export function lambdaErrorPayload(thrown: unknown): LambdaErrorPayload {
  if (thrown instanceof Error) {
    return { errorType: thrown.name, errorMessage: thrown.message, trace: (thrown.stack ?? '').split('\n') };
  }
  return { errorType: 'Error', errorMessage: String(thrown), trace: [] };
}

/**
 * The error a Task state sees when its function threw: `name` is the state error (`Error`), and
 * `message` is the `Cause` string. aws-local-stepfunctions matches Retry/Catch on `name` and puts
 * `{Error: name, Cause: message}` at a Catch's ResultPath, so this class is how AWS's shape is
 * reproduced there. It deliberately has no `cause` property: the library would report it instead
 * of the message.
 */
export class LambdaTaskError extends Error {
  /** The runtime's payload (what the Cause string encodes). */
  readonly payload: LambdaErrorPayload;

  constructor(payload: LambdaErrorPayload) {
    super(JSON.stringify(payload));
    this.name = payload.errorType;
    this.payload = payload;
  }

  /** The error of a function that threw `thrown`. */
  static from(thrown: unknown): LambdaTaskError {
    return new LambdaTaskError(lambdaErrorPayload(thrown));
  }
}
