/**
 * Typed gateway errors across a process boundary: a plan step running as a Lambda task throws an
 * `Error` whose `name` is a plan error name (what the state machine's Retry/Catch match) and whose
 * message is the wire form below; the gateway turns a failed execution's `Cause` back into the
 * same OpenAI-shaped error.
 */
import type { OpenAIErrorBody } from './errors.ts';
import { GatewayError, InternalError, UpstreamError } from './errors.ts';
import { PLAN_ERRORS } from './plan-errors.ts';

/** Error name of a client error found during a step (not retried, not worth a fallback). */
export const CLIENT_ERROR_NAME = PLAN_ERRORS.clientError;

/** The wire form of a gateway error. */
interface WireError {
  readonly statusCode: number;
  readonly retryable: boolean;
  readonly body: OpenAIErrorBody;
  readonly headers: Record<string, string>;
}

/** An error reconstructed from its wire form. */
export class RemoteGatewayError extends GatewayError {
  constructor(wire: WireError) {
    const e = wire.body.error;
    super(e.message, wire.statusCode, e.type, e.code, e.param);
    this.headers = wire.headers;
  }
}

/** Converts what a step threw into the error a Lambda task should throw. */
export function toStepError(err: unknown): Error {
  if (!(err instanceof GatewayError)) return err instanceof Error ? err : new Error(String(err));
  const upstream = err instanceof UpstreamError;
  const wire: WireError = { statusCode: err.statusCode, retryable: upstream && err.retryable, body: err.toJSON(), headers: err.headers };
  const name = upstream ? (err.retryable ? PLAN_ERRORS.upstreamTransient : PLAN_ERRORS.upstreamFatal) : CLIENT_ERROR_NAME;
  const out = new Error(JSON.stringify(wire));
  out.name = name;
  return out;
}

/**
 * Reconstructs the gateway error of a failed task from its `Error` name and `Cause` (the Lambda
 * error JSON `{"errorType","errorMessage"}`, or the message itself). Unknown shapes become a
 * generic 502 (an upstream failure) or 500.
 */
export function fromStepError(name: string | undefined, cause: string | undefined): GatewayError {
  let message = cause ?? '';
  try {
    const parsed = JSON.parse(message) as { errorMessage?: unknown };
    if (typeof parsed.errorMessage === 'string') message = parsed.errorMessage;
  } catch {
    // cause was not Lambda's JSON
  }
  try {
    const wire = JSON.parse(message) as WireError;
    if (wire && typeof wire.statusCode === 'number' && wire.body?.error) {
      // A backend failure stays an UpstreamError whatever its status (a Bedrock throttle is a 429).
      return name !== CLIENT_ERROR_NAME && (wire.statusCode >= 500 || wire.retryable)
        ? Object.assign(new UpstreamError(wire.body.error.message, wire.statusCode, wire.retryable), { headers: wire.headers })
        : new RemoteGatewayError(wire);
    }
  } catch {
    // not a wire error
  }
  if (name === PLAN_ERRORS.upstreamTransient || name === PLAN_ERRORS.upstreamFatal || name?.startsWith('Lambda.') || name?.startsWith('States.')) {
    return new UpstreamError('The backends failed to serve the request.', 502, true);
  }
  return new InternalError();
}

/** Whether a task failure (by error name) came from a backend, so another route may serve. */
export function isUpstreamFailure(name: string | undefined): boolean {
  return name !== CLIENT_ERROR_NAME;
}
