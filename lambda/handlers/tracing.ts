/**
 * X-Ray subsegments of the Lambda functions' calls (Powertools Tracer), opt-in: the stack sets
 * `POWERTOOLS_TRACE_ENABLED=true` when deployed with `-c traceCalls=true`. With it, inside Lambda,
 * every backend HTTP call (the tracer instruments `node:http`, which the backend transport uses)
 * and every DynamoDB call of the clients passed to {@link traced} becomes a subsegment.
 *
 * Off by default because of what loading the tracer costs every request: its X-Ray SDK installs
 * async hooks (continuation-local storage) for the whole process when it is imported, enabled or
 * not, and every promise then pays them: 1M `await`s took 694 ms instead of 47 ms on Node 22 here,
 * and the hooks were about 8% of the gateway's CPU profile under load. So the tracer is only
 * imported when tracing is on. The invocation itself is traced by the Lambda service either way
 * (the functions' active tracing), at no cost to the function.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Tracer } from '@aws-lambda-powertools/tracer';

/** True when the function traces its calls (`POWERTOOLS_TRACE_ENABLED=true` at cold start). */
export const tracingCalls = process.env.POWERTOOLS_TRACE_ENABLED === 'true';

/** The functions' tracer when {@link tracingCalls} (one per execution environment); undefined otherwise. */
export const tracer: Tracer | undefined = tracingCalls ? new (await import('@aws-lambda-powertools/tracer')).Tracer() : undefined;

/** The client, with its calls traced as subsegments when tracing is on; the client itself otherwise. */
export function traced(client: DynamoDBClient): DynamoDBClient {
  return tracer ? tracer.captureAWSv3Client(client) : client;
}
