/**
 * Table definitions and idempotent creation, for the local runtime and the tests. A deploy creates
 * the tables with CDK (lib/); the local runtime may instead pass CreateTable inputs derived from
 * the synthesized template: {@link createTables} accepts any plain CreateTable inputs.
 */
import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  waitUntilTableExists,
  type CreateTableCommandInput,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { TABLE_KEYS, type TableRole } from './table-schema.ts';

/** Physical table names by role. */
export type TableNames = Readonly<Record<TableRole, string>>;

/**
 * CreateTable inputs for the Config and Usage tables: string keys `pk` (HASH) and `sk` (RANGE),
 * on-demand billing.
 *
 * @example
 * await createTables(client, tableDefinitions({ config: 'splitserve-config', usage: 'splitserve-usage' }));
 */
export function tableDefinitions(names: TableNames): CreateTableCommandInput[] {
  return [names.config, names.usage].map((TableName) => ({
    TableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: TABLE_KEYS.partitionKey, AttributeType: 'S' },
      { AttributeName: TABLE_KEYS.sortKey, AttributeType: 'S' },
    ],
    KeySchema: [
      { AttributeName: TABLE_KEYS.partitionKey, KeyType: 'HASH' },
      { AttributeName: TABLE_KEYS.sortKey, KeyType: 'RANGE' },
    ],
  }));
}

/**
 * Creates each table unless it exists (idempotent), then waits until all are ACTIVE.
 */
export async function createTables(client: DynamoDBClient, defs: readonly CreateTableCommandInput[]): Promise<void> {
  await Promise.all(
    defs.map(async (def) => {
      try {
        await client.send(new CreateTableCommand(def));
      } catch (err) {
        if (!(err instanceof ResourceInUseException)) throw err;
      }
      const described = await client.send(new DescribeTableCommand({ TableName: def.TableName }));
      if (described.Table?.TableStatus !== 'ACTIVE') {
        await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { TableName: def.TableName });
      }
    }),
  );
}
