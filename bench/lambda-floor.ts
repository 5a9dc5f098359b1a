/**
 * The Lambda floor: the bare pass-through (bench/pipe-relay.ts) as a streaming Lambda handler,
 * for the bench's `lambda-floor` target. Hosted exactly as the gateway function is by
 * bench/lambda-host.ts (the proxy event, the `awslambda` response stream with its prelude), it
 * measures what the Lambda shape of a request costs before any gateway work: the part of the
 * `lambda` path's figures that no change to the gateway can remove.
 */
import type { APIGatewayProxyEvent, StreamifyHandler } from 'aws-lambda';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { pipeRelay } from './pipe-relay.ts';
import type { RelayBackends } from './pipe-relay.ts';

/** A streaming handler (`awslambda.streamifyResponse`) that relays each request to `backends`. */
export function lambdaFloorHandler(backends: RelayBackends): StreamifyHandler<APIGatewayProxyEvent, void> {
  const relay = pipeRelay(backends);
  return awslambda.streamifyResponse(async (event: APIGatewayProxyEvent, responseStream: Writable): Promise<void> => {
    const body = event.body ?? '';
    const up = await relay({
      path: event.path,
      route: event.headers['x-relay-route'],
      requestId: event.headers['x-request-id'],
      body: event.isBase64Encoded ? Buffer.from(body, 'base64').toString('utf8') : body,
    });
    const out = awslambda.HttpResponseStream.from(responseStream, { statusCode: up.statusCode ?? 502, headers: { 'content-type': up.headers['content-type'] ?? 'application/json' } });
    await pipeline(up, out);
  });
}
