/**
 * Read side of the Usage table for reports: per-tier totals from the daily aggregates (one Query
 * per tenant and date range), and raw records of a month.
 */
import { QueryCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { UsageRecord } from '../core/ports.ts';
import { decodeUsageItem } from './usage-meter.ts';
import { USAGE_KEYS, usageRecordPk } from './usage-items.ts';

/** Totals of one tier over a date range. */
export interface TierUsage {
  readonly tier: string;
  readonly requests: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly errors: number;
  readonly aborted: number;
}

/** A tenant's usage over `[from, to]` (inclusive UTC days, `yyyy-mm-dd`). */
export interface UsageReport {
  readonly tenantId: string;
  readonly from: string;
  readonly to: string;
  readonly tiers: readonly TierUsage[];
}

async function queryAll(client: DynamoDBClient, input: ConstructorParameters<typeof QueryCommand>[0]): Promise<Record<string, AttributeValue>[]> {
  const items: Record<string, AttributeValue>[] = [];
  let start: Record<string, AttributeValue> | undefined;
  do {
    const page = await client.send(new QueryCommand({ ...input, ExclusiveStartKey: start }));
    items.push(...(page.Items ?? []));
    start = page.LastEvaluatedKey;
  } while (start);
  return items;
}

/**
 * Per-tier totals (requests, prompt and completion tokens, errors, aborts) from the daily
 * aggregates, sorted by tier name.
 *
 * @example
 * const report = await usageReport(client, 'splitserve-usage', 'acme', '2025-06-01', '2025-06-30');
 */
export async function usageReport(client: DynamoDBClient, tableName: string, tenantId: string, from: string, to: string): Promise<UsageReport> {
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
    ExpressionAttributeValues: {
      ':pk': { S: `${USAGE_KEYS.aggregatePrefix}${tenantId}` },
      ':from': { S: `${USAGE_KEYS.dayPrefix}${from}#` },
      ':to': { S: `${USAGE_KEYS.dayPrefix}${to}#\uffff` },
    },
  });
  const byTier = new Map<string, { -readonly [K in keyof TierUsage]: TierUsage[K] }>();
  for (const item of items) {
    const tier = (item.sk?.S ?? '').split('#')[2] ?? '';
    const t = byTier.get(tier) ?? { tier, requests: 0, promptTokens: 0, completionTokens: 0, errors: 0, aborted: 0 };
    t.requests += Number(item.requests?.N ?? 0);
    t.promptTokens += Number(item.promptTokens?.N ?? 0);
    t.completionTokens += Number(item.completionTokens?.N ?? 0);
    t.errors += Number(item.errors?.N ?? 0);
    t.aborted += Number(item.aborted?.N ?? 0);
    byTier.set(tier, t);
  }
  return { tenantId, from, to, tiers: [...byTier.values()].sort((a, b) => a.tier.localeCompare(b.tier)) };
}

/** The usage records of a tenant in the UTC month containing `monthMs`, oldest first. */
export async function usageRecords(client: DynamoDBClient, tableName: string, tenantId: string, monthMs: number): Promise<UsageRecord[]> {
  const items = await queryAll(client, {
    TableName: tableName,
    KeyConditionExpression: 'pk = :pk',
    ExpressionAttributeValues: { ':pk': { S: usageRecordPk(tenantId, monthMs) } },
  });
  return items.flatMap(decodeUsageItem).sort((a, b) => a.startedAt - b.startedAt);
}
