/**
 * The request body size limit, one constant for every runtime: the deployed REST API cannot take
 * more (API Gateway's 10 MB payload quota), so the API Gateway emulator and the node runtime refuse
 * at the same size, with the same 413 body.
 */
import { PayloadTooLargeError } from './errors.ts';

/** Largest request body accepted, in bytes: API Gateway REST's payload quota, 10 MB (10,485,760 bytes). */
export const MAX_BODY_BYTES = 10 * 1024 * 1024;

/** The 413 answer's body: `{"error":{"message":"The request body is too large (at most 10485760 bytes).",…,"code":"request_too_large"}}`. */
export const PAYLOAD_TOO_LARGE_BODY = JSON.stringify(new PayloadTooLargeError(MAX_BODY_BYTES).toJSON());
