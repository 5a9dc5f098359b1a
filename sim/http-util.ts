/**
 * Small node:http helpers of the simulator: the body size limit, send JSON, send an OpenAI error.
 */
import type { IncomingHttpHeaders, ServerResponse } from 'node:http';
import { errorBody } from './openai-format.ts';

/** Bodies larger than this are rejected (413). */
export const MAX_BODY_BYTES = 16 * 1024 * 1024;

/** Sends a JSON body with a status. */
export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

/** Sends an OpenAI-shaped error. */
export function sendError(res: ServerResponse, status: number, message: string, param: string | null = null): void {
  sendJson(res, status, errorBody(status, message, param));
}

/** Request headers as a flat record, `authorization` redacted. */
export function recordHeaders(headers: IncomingHttpHeaders): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined) continue;
    out[name] = name === 'authorization' ? '<redacted>' : Array.isArray(value) ? value.join(', ') : value;
  }
  return out;
}

/** The first value of a header, if any. */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const v = headers[name];
  return Array.isArray(v) ? v[0] : v;
}
