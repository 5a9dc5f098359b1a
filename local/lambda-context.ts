/**
 * The Lambda `Context` object handed to handlers run locally.
 */
import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';

/** A context for one invocation of `fn`, whose remaining time counts down from `timeoutSeconds`. */
export function lambdaContext(fn: { name: string; arn: string }, timeoutSeconds: number, memory: number): Context {
  const deadline = Date.now() + timeoutSeconds * 1000;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName: fn.name,
    functionVersion: '$LATEST',
    invokedFunctionArn: fn.arn,
    memoryLimitInMB: String(memory),
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${fn.name}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
