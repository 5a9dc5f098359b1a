/**
 * The scheduled open-request sweep (an EventBridge rule invokes it, lib/open-request-sweep.ts):
 * bills the requests of gateway environments that died while serving them (markers past their
 * deadline) as `interrupted` usage records (lambda/store/open-requests.ts). Reads only the Usage
 * table's name from its environment; an empty run costs 16 empty queries.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ConfigError } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { sweepOpenRequests, type SweepReport } from '../store/open-requests.ts';
import { TABLE_ENV } from '../store/table-schema.ts';
import { traced } from './tracing.ts';
import { functionDynamoClient } from './function-env.ts';

/** What the sweep handler is built from. */
export interface SweepDeps {
  readonly dynamo: DynamoDBClient;
  readonly usageTable: string;
}

let deps: SweepDeps | undefined;

function current(): SweepDeps {
  if (!deps) {
    const usageTable = process.env[TABLE_ENV.usage];
    if (!usageTable) throw new ConfigError(`environment variable ${TABLE_ENV.usage} is not set`);
    deps = { dynamo: traced(functionDynamoClient()), usageTable };
  }
  return deps;
}

/**
 * The sweep's handler: one sweep of markers past their deadline; the report is logged and
 * returned. A failed write rejects (the rule retries; what was not finished is left for the next run).
 *
 * @example
 * // EventBridge: schedule rate(5 minutes) → this function
 * const report = await sweep(); // { items, markers, interrupted, alreadyRecorded }
 */
export async function sweep(): Promise<SweepReport> {
  const { dynamo, usageTable } = current();
  const logger = createLogger();
  const report = await sweepOpenRequests(dynamo, usageTable, { logger });
  logger.info('open-request sweep', { ...report });
  return report;
}
