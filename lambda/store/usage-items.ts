/**
 * Item layouts of the Usage table, and the time windows they use (all UTC). The only module that
 * knows them.
 *
 * | item | pk | sk | attributes |
 * |---|---|---|---|
 * | admission window | `WIN#<tenantId>#<tier>#<shard>` | `<yyyy-mm>` | `m` N (current minute, epoch minutes), `req` N and `tok` N (that minute's requests and tokens), `mon` N (the month's tokens), `expiresAt` N |
 * | usage records (a packed batch) | `USAGE#<tenantId>#<yyyy-mm>` | `<oldest startedAt ISO>#<its requestId>` | `records` B (gzipped JSON rows of {@link UsageRecord} values, ≤ 1000; items written before gzip: S), `fields` S (the row's field names, comma-separated), `tenant` S, `count` N, `expiresAt` N |
 * | daily aggregate | `AGG#<tenantId>` | `DAY#<yyyy-mm-dd>#<tierServed>` | `requests` N, `promptTokens` N, `completionTokens` N, `errors` N, `aborted` N, `costUnits` N, `sloMet` N and `sloMissed` N (requests judged against the tier's SLO), `shed` N (refused by overload control), `interrupted` N (billed by the open-request sweep), `expiresAt` N |
 * | open requests (a group of markers) | `OPEN#<partition>` (0…{@link OPEN_PARTITIONS}−1, a hash of the instance) | `<deadline ISO>#<instanceId>#<seq>` | `instance` S, `deadline` N (epoch ms), `entries` S (JSON rows of {@link OpenRequest} values, fields named by `fields` S), `expiresAt` N |
 *
 * An admission window item holds all three counters of one (tenant, tier, month, shard), so one
 * conditional `UpdateItem` checks and consumes requests/minute, tokens/minute and the monthly
 * budget together (admission.ts). Each counter is present only when its limit is configured.
 * `expiresAt` is the TTL attribute ({@link USAGE_TTL_ATTRIBUTE}); dynalite ignores it.
 *
 * Open-request items are sorted by deadline within a partition, so a sweep reads only those past
 * it (`sk < <now ISO>`), never a live one (open-requests.ts).
 *
 * @see UsageRecord
 */
import type { OpenRequest } from '../core/ports.ts';
import { USAGE_TTL_ATTRIBUTE } from './table-schema.ts';

/** Key prefixes of the Usage table. */
export const USAGE_KEYS = { windowPrefix: 'WIN#', recordPrefix: 'USAGE#', aggregatePrefix: 'AGG#', dayPrefix: 'DAY#', openPrefix: 'OPEN#' } as const;

/**
 * Partitions of the open-request items: an instance writes to one (a hash of its id), a sweep
 * reads all. 16 partitions take 16,000 marker writes a second before DynamoDB throttles a key.
 */
export const OPEN_PARTITIONS = 16;

/** Milliseconds in a minute window. */
export const MINUTE_MS = 60_000;

/** Days a window item is kept after its month ends. */
export const WINDOW_RETENTION_DAYS = 35;

/** A primary key. */
export type ItemKey = { readonly pk: { readonly S: string }; readonly sk: { readonly S: string } };

/** The epoch minute (minutes since 1970-01-01T00:00Z) containing `ms`. */
export function epochMinute(ms: number): number {
  return Math.floor(ms / MINUTE_MS);
}

/** `yyyy-mm` (UTC) of `ms`. */
export function monthKey(ms: number): string {
  return dayKey(ms).slice(0, 7);
}

const DAY_MS = 86_400_000;
/** The last day computed: nearly every call of a running gateway falls on it (UTC days are 86,400,000 ms). */
let lastDay = { start: Number.NaN, key: '' };

/** `yyyy-mm-dd` (UTC) of `ms`. */
export function dayKey(ms: number): string {
  if (ms >= lastDay.start && ms < lastDay.start + DAY_MS) return lastDay.key;
  const key = new Date(ms).toISOString().slice(0, 10);
  lastDay = { start: Math.floor(ms / DAY_MS) * DAY_MS, key };
  return key;
}

/** Epoch milliseconds at which the UTC month containing `ms` ends. */
export function monthEndMs(ms: number): number {
  const d = new Date(ms);
  return Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + 1, 1);
}

/** The admission window item of one (tenant, tier, shard) in the month of `ms`. */
export function windowItemKey(tenantId: string, tier: string, shard: number, ms: number): ItemKey {
  return { pk: { S: `${USAGE_KEYS.windowPrefix}${tenantId}#${tier}#${shard}` }, sk: { S: monthKey(ms) } };
}

/** TTL (epoch seconds) of a window item of the month containing `ms`. */
export function windowExpiresAt(ms: number): number {
  return Math.floor(monthEndMs(ms) / 1000) + WINDOW_RETENTION_DAYS * 86_400;
}

/** Partition key of a tenant's usage records in the month of `ms`. */
export function usageRecordPk(tenantId: string, ms: number): string {
  return `${USAGE_KEYS.recordPrefix}${tenantId}#${monthKey(ms)}`;
}

/** Sort key of a packed batch of usage records: its oldest record's start and request id. */
export function usageBatchSk(startedAt: number, requestId: string): string {
  return `${new Date(startedAt).toISOString()}#${requestId}`;
}

/** Primary key of a daily aggregate item. */
export function aggregateItemKey(tenantId: string, day: string, tier: string): ItemKey {
  return { pk: { S: `${USAGE_KEYS.aggregatePrefix}${tenantId}` }, sk: { S: `${USAGE_KEYS.dayPrefix}${day}#${tier}` } };
}

/** The TTL attribute name, re-exported for the writers of this table. */
export const TTL_ATTRIBUTE = USAGE_TTL_ATTRIBUTE;

/** The open-request partition of an instance: a hash (FNV-1a) of its id. */
export function openPartition(instanceId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < instanceId.length; i++) h = Math.imul(h ^ instanceId.charCodeAt(i), 0x01000193);
  return (h >>> 0) % OPEN_PARTITIONS;
}

/** Partition key of open-request partition `p`. */
export function openItemPk(p: number): string {
  return `${USAGE_KEYS.openPrefix}${p}`;
}

/** Primary key of a group of open-request markers, sorted by its deadline. */
export function openItemKey(instanceId: string, deadline: number, seq: number): ItemKey {
  return { pk: { S: openItemPk(openPartition(instanceId)) }, sk: { S: `${new Date(deadline).toISOString()}#${instanceId}#${seq}` } };
}

/** The fields of an open-request row, in order (written to each item as `fields`). */
export const OPEN_ROW_FIELDS = [
  'requestId', 'tenantId', 'tierAsked', 'tierServed', 'route', 'pools', 'model',
  'promptTokens', 'reservedTokens', 'reservedCost', 'startedAt',
] as const satisfies ReadonlyArray<keyof OpenRequest>;
