/**
 * X-Ray tracing of the Lambda functions (Powertools Tracer). Inside Lambda with active tracing it
 * records a subsegment for every backend HTTP call (the tracer instruments `node:http`, which the
 * functions' backend transport uses) and for every DynamoDB call of the clients passed to
 * {@link traced}. Outside Lambda (local runs, tests) the tracer disables itself and costs nothing.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Tracer } from '@aws-lambda-powertools/tracer';

/** The functions' tracer (one per execution environment, as Powertools recommends). */
export const tracer = new Tracer();

/** The client, with its calls traced as subsegments when tracing is on. */
export function traced(client: DynamoDBClient): DynamoDBClient {
  return tracer.captureAWSv3Client(client);
}
