/**
 * The core's own request/response shapes: what every adapter (Node HTTP, Lambda streaming)
 * translates to and from. Plain objects and async iterables instead of WHATWG Request/Response:
 * the same platform independence as Hono's `fetch` contract without web-stream overhead per token.
 */

/** An incoming HTTP request, as the core sees it. Header names are lower-case. */
export interface GatewayRequest {
  readonly method: string;
  /** Path without the query string, e.g. `/v1/chat/completions`. */
  readonly path: string;
  readonly headers: Readonly<Record<string, string | undefined>>;
  /** Raw body text (empty for GET). */
  readonly body: string;
  /** Aborted when the client goes away; the core cancels upstream calls with it. */
  readonly signal: AbortSignal;
  /**
   * Aborted, with a `GatewayError` as its reason, when the request must end whatever it is doing
   * (the Lambda function's time limit is near): the request is answered with that error (a
   * stream: as its last event) and metered. @default none
   */
  readonly deadline?: AbortSignal;
}

/**
 * An outgoing response: a whole body, or a stream of chunks written as they come: text (SSE), or
 * bytes (the binary event stream of the Bedrock Converse door, lambda/doors/converse-stream.ts).
 */
export interface GatewayResponse {
  readonly status: number;
  readonly headers: Record<string, string>;
  readonly body: string | AsyncIterable<string | Uint8Array>;
}

/** Builds a JSON response. */
export function jsonResponse(status: number, payload: unknown, headers: Record<string, string> = {}): GatewayResponse {
  return { status, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(payload) };
}

/** Response headers of a server-sent events stream. */
export const SSE_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  'x-accel-buffering': 'no',
} as const;
