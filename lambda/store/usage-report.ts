/**
 * Read side of the Usage table for reports: per-tier totals from the daily aggregates (one Query
 * per tenant and date range), and raw records of a month.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { UsageRecord } from '../core/ports.ts';
import { decodeUsageItem } from './usage-meter.ts';
import { USAGE_KEYS, usageRecordPk } from './usage-items.ts';
import { queryAll } from './query-all.ts';

/** Totals of one tier over a date range. */
export interface TierUsage {
  readonly tier: string;
  /** Requests metered, shed ones included. */
  readonly requests: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
  readonly errors: number;
  readonly aborted: number;
  /** Tokens × the tier's price factor, what monthly budgets count (lambda/core/cost.ts). */
  readonly costUnits: number;
  /** Requests that met / missed the tier's SLO (requests not judged count in neither). */
  readonly sloMet: number;
  readonly sloMissed: number;
  /** sloMet / (sloMet + sloMissed); null when none was judged. */
  readonly sloAttainment: number | null;
  /** Requests refused by overload control (429, no tokens, no cost). */
  readonly shed: number;
  /** Requests whose process died while serving them, billed at their reservation by the open-request sweep. */
  readonly interrupted: number;
}

const COUNTERS = ['requests', 'promptTokens', 'completionTokens', 'errors', 'aborted', 'costUnits', 'sloMet', 'sloMissed', 'shed', 'interrupted'] as const;
type Counters = { -readonly [K in (typeof COUNTERS)[number]]: number };

/** A tenant's usage over `[from, to]` (inclusive UTC days, `yyyy-mm-dd`). */
export interface UsageReport {
  readonly tenantId: string;
  readonly from: string;
  readonly to: string;
  readonly tiers: readonly TierUsage[];
}

/**
 * Per-tier totals (requests, tokens, cost units, SLO met and missed, sheds, errors, aborts) from
 * the daily aggregates, sorted by tier name. Aggregates written before a counter existed read it
 * as 0 (their cost units as their tokens: every price factor was 1).
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
  const byTier = new Map<string, Counters>();
  for (const item of items) {
    const tier = (item.sk?.S ?? '').split('#')[2] ?? '';
    const t = byTier.get(tier) ?? (Object.fromEntries(COUNTERS.map((c) => [c, 0])) as Counters);
    for (const c of COUNTERS) t[c] += Number(item[c]?.N ?? 0);
    if (item.costUnits === undefined) t.costUnits += Number(item.promptTokens?.N ?? 0) + Number(item.completionTokens?.N ?? 0);
    byTier.set(tier, t);
  }
  const tiers = [...byTier].map(([tier, t]) => ({ tier, ...t, sloAttainment: t.sloMet + t.sloMissed > 0 ? t.sloMet / (t.sloMet + t.sloMissed) : null }));
  return { tenantId, from, to, tiers: tiers.sort((a, b) => a.tier.localeCompare(b.tier)) };
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
