/**
 * Translates an API Gateway REST proxy event (payload 1.0) into a {@link GatewayRequest}.
 */
import type { APIGatewayProxyEvent } from 'aws-lambda';
import type { GatewayRequest } from '../core/http-types.ts';

/** The core request of a proxy event; header names lower-cased, base64 bodies decoded. */
export function fromProxyEvent(event: APIGatewayProxyEvent, signal: AbortSignal, deadline?: AbortSignal): GatewayRequest {
  const headers: Record<string, string | undefined> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) headers[name.toLowerCase()] = value ?? undefined;
  const raw = event.body ?? '';
  return {
    method: event.httpMethod,
    path: event.path,
    headers,
    body: event.isBase64Encoded ? Buffer.from(raw, 'base64').toString('utf8') : raw,
    signal,
    ...(deadline ? { deadline } : {}),
  };
}
