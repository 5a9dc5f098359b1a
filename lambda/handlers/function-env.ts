/**
 * Environment variables of splitserve's Lambda functions: set by the CDK constructs (lib/), read
 * here. Table names use {@link TABLE_ENV} from the store.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { parseConfig } from '../core/config.ts';
import type { SplitserveConfig } from '../core/config.ts';
import { ConfigError } from '../core/errors.ts';
import { TABLE_ENV } from '../store/table-schema.ts';
import { FUNCTION_ENV } from './function-env-names.ts';
import type { TableNames } from '../store/tables.ts';

export { FUNCTION_ENV };

function required(env: NodeJS.ProcessEnv, name: string): string {
  const value = env[name];
  if (!value) throw new ConfigError(`environment variable ${name} is not set`);
  return value;
}

/** What a function reads from its environment. */
export interface FunctionEnvironment {
  readonly config: SplitserveConfig;
  readonly tables: TableNames;
  readonly stateMachineArn: string | undefined;
  /** A DynamoDB client (endpoint from `AWS_ENDPOINT_URL_DYNAMODB` when set, as the SDK does). */
  readonly dynamo: DynamoDBClient;
}

/**
 * The DynamoDB client of a function (endpoint from `AWS_ENDPOINT_URL_DYNAMODB` when set, as the
 * SDK does), with the SDK's middleware cache on: the client resolves its middleware stack once
 * per command type instead of on every call (`cacheMiddleware`; measured by
 * bench/sdk-call-cost.ts). Middleware added to the client after its first call is then not
 * applied to command types already sent: add any (X-Ray capture) before the first call.
 */
export function functionDynamoClient(): DynamoDBClient {
  return new DynamoDBClient({ cacheMiddleware: true });
}

/** Reads and validates the function environment once per cold start. */
export function readFunctionEnvironment(env: NodeJS.ProcessEnv = process.env): FunctionEnvironment {
  return {
    config: parseConfig(JSON.parse(required(env, FUNCTION_ENV.config)), FUNCTION_ENV.config),
    tables: { config: required(env, TABLE_ENV.config), usage: required(env, TABLE_ENV.usage) },
    stateMachineArn: env[FUNCTION_ENV.stateMachineArn] || undefined,
    dynamo: functionDynamoClient(),
  };
}
