/**
 * Request ids. Every request gets a fresh internal id (sent upstream as `X-Request-Id`, which
 * vLLM uses to pair prefill and decode, so it must be unique and never client-chosen); the
 * response echoes the client's own `x-request-id` when it sent a well-formed one.
 */
import { randomUUID } from 'node:crypto';

const CLIENT_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** A new internal request id. */
export function newRequestId(): string {
  return `req_${randomUUID().replaceAll('-', '')}`;
}

/** The id to echo in the response: the client's if well-formed, else the internal one. */
export function responseRequestId(clientValue: string | undefined, internal: string): string {
  return clientValue && CLIENT_ID.test(clientValue) ? clientValue : internal;
}
