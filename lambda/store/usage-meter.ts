/**
 * Metering off the request path: usage records are buffered and written to the Usage table
 * (layouts in usage-items.ts) PACKED, up to {@link RECORDS_PER_ITEM} records of one tenant and month
 * in one item (rows of values, gzipped JSON in one binary attribute, the field names in another),
 * and per-tenant per-tier per-day aggregates
 * are updated with one `ADD` per (tenant, day, tier) per flush, for cheap usage reports.
 *
 * Why packed: one item per request cost the gateway ~0.3 ms of CPU per request in SDK
 * marshalling (15 attributes each), about a quarter of its whole request path (measured with
 * `npm run bench`); one string attribute per batch costs a few microseconds per record, and fewer,
 * larger items also cost fewer write units. Records are read back per tenant and month
 * (usage-report.ts); a single record is not addressable by key.
 *
 * Never drops a record: a batch item leaves the queue only once DynamoDB has accepted it. Items
 * are packed once and retried unchanged (same key, same content), so a retry after a lost
 * response overwrites rather than duplicates. `UnprocessedItems` are retried within a flush with
 * capped exponential backoff (bounded); what is still unwritten stays queued for the next flush,
 * which `flush()` reports by rejecting with {@link NotDurableError} (the log line carries counts
 * only). Aggregates are `ADD`s, at-least-once: a retry after a lost response may count a batch
 * twice in the daily totals (the records stay exact).
 *
 * Crash safety: a record still buffered when the process is killed is lost here; its request's
 * open marker (open-requests.ts) is what survives, and the meter reports each record's
 * durability (`onDurable`) so that the marker goes only once the record is written.
 */
import { UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { UsageMeter, UsageRecord } from '../core/ports.ts';
import { gunzipSync, gzipSync } from 'node:zlib';
import { batchWrite } from './batch-write.ts';
import { NotDurableError } from './errors.ts';
import { stderrLogger, type GatewayLogger } from '../core/logger.ts';
import { aggregateItemKey, dayKey, TTL_ATTRIBUTE, usageBatchSk, usageRecordPk } from './usage-items.ts';

/** Options of {@link DynamoUsageMeter}. */
export interface DynamoUsageMeterOptions {
  readonly logger?: GatewayLogger;
  /** Days a usage record (and a daily aggregate) is kept, from its start. @default 400 */
  readonly retentionDays?: number;
  /** Background flush this long after a record arrives; 0 disables the timer. @default 1000 */
  readonly flushIntervalMs?: number;
  /**
   * A background flush starts as soon as this many records are buffered: two full items, one
   * `BatchWriteItem` (each store request has a fixed cost, a local store's most of all; at most
   * a second of records waits either way). @default FLUSH_AT_RECORDS
   */
  readonly flushAtRecords?: number;
  /** Retries of `UnprocessedItems` within one flush. @default 5 */
  readonly batchRetries?: number;
  /** First retry delay. @default 25 */
  readonly baseDelayMs?: number;
  /** Largest retry delay. @default 1000 */
  readonly maxDelayMs?: number;
  /**
   * Called with the request ids of records once DynamoDB has accepted them (the open-request
   * journal closes their markers: open-requests.ts). Must not throw.
   */
  readonly onDurable?: (requestIds: readonly string[]) => void;
  /**
   * Write the daily aggregates only once every record of the flush is durable, instead of at the
   * same time. A flush that fails on its records then has written nothing at all, so whoever
   * takes the records over (the state machine's MeterDeferred hands them to the gateway) counts
   * them once. @default false (both at once: the shorter flush)
   */
  readonly aggregatesAfterRecords?: boolean;
}

interface Aggregate {
  tenantId: string;
  day: string;
  tier: string;
  startedAt: number;
  requests: number;
  promptTokens: number;
  completionTokens: number;
  errors: number;
  aborted: number;
  costUnits: number;
  sloMet: number;
  sloMissed: number;
  shed: number;
  interrupted: number;
}

/** The aggregate counters, in the order they are written (`#a0`…). */
const AGGREGATE_COUNTERS = ['requests', 'promptTokens', 'completionTokens', 'errors', 'aborted', 'costUnits', 'sloMet', 'sloMissed', 'shed', 'interrupted'] as const;

const BATCH_SIZE = 25;

/**
 * Records packed in one Usage item at most: 1000 typical records are 156 KB as rows and 31 KB
 * gzipped, far under DynamoDB's 400 KB (a pack that is not is split: {@link MAX_PACKED_BYTES}).
 * gzip costs ~0.2 ms per call plus ~0.45 µs per row (0.29 ms for 250 rows, 0.65 ms for 1000),
 * so larger items cost less per record.
 */
export const RECORDS_PER_ITEM = 1000;

/**
 * Largest gzipped `records` attribute of one item: under DynamoDB's 400 KB item limit with room
 * for the other attributes. Larger packs are split.
 */
export const MAX_PACKED_BYTES = 300 * 1024;

/**
 * Records buffered before a flush starts, by default: two full items, one `BatchWriteItem`. A
 * flush makes two or three SDK calls (the `BatchWriteItem`, and an `UpdateItem` per daily
 * aggregate touched); at 1000 records per flush they were ~4.6 µs of the gateway's CPU per
 * request (a V8 CPU profile of the gateway under the bench's 16-stream load, both routes' tiers),
 * ~2 ms per call. The flush blocks the event loop for the gzip of its items (~1.3 ms for 2000).
 */
export const FLUSH_AT_RECORDS = 2 * RECORDS_PER_ITEM;

/**
 * The fields of a packed row, in order (the tenant is the item's). Written to each item as
 * `fields`, so a reader maps rows by the names the writer used.
 */
export const USAGE_ROW_FIELDS = [
  'requestId', 'tierAsked', 'tierServed', 'route', 'pools', 'model',
  'promptTokens', 'completionTokens', 'ttftMs', 'totalMs', 'outcome', 'startedAt',
  'tpotMs', 'sloMet', 'costUnits',
] as const satisfies ReadonlyArray<Exclude<keyof UsageRecord, 'tenantId'>>;
const FIELDS_TEXT = USAGE_ROW_FIELDS.join(',');

function rowOf(r: UsageRecord): unknown[] {
  return USAGE_ROW_FIELDS.map((field) => r[field]);
}

/** A packed batch item and how many records it carries. */
interface PackedItem {
  readonly item: Record<string, AttributeValue>;
  readonly count: number;
  /** Request ids of its records. */
  readonly ids: readonly string[];
}

/**
 * A record as the meter keeps it until it is written: its row already serialised, plus what
 * packing needs. A buffered record is one flat string and a few fields instead of a 13-field
 * object, so holding a flush's worth costs the garbage collector less, and a flush only joins
 * strings.
 */
interface BufferedRecord {
  readonly pk: string;
  readonly tenantId: string;
  readonly requestId: string;
  readonly startedAt: number;
  readonly row: string;
}

function buffered(r: UsageRecord): BufferedRecord {
  return { pk: usageRecordPk(r.tenantId, r.startedAt), tenantId: r.tenantId, requestId: r.requestId, startedAt: r.startedAt, row: JSON.stringify(rowOf(r)) };
}

/**
 * Packs records into Usage items: grouped by tenant and month, oldest first, at most
 * {@link RECORDS_PER_ITEM} per item.
 */
export function packUsageRecords(records: readonly UsageRecord[], retentionDays: number): PackedItem[] {
  return packBuffered(records.map(buffered), retentionDays);
}

function packBuffered(records: readonly BufferedRecord[], retentionDays: number): PackedItem[] {
  const groups = new Map<string, BufferedRecord[]>();
  for (const r of records) {
    const group = groups.get(r.pk);
    if (group) group.push(r);
    else groups.set(r.pk, [r]);
  }
  const packed: PackedItem[] = [];
  for (const [pk, group] of groups) {
    group.sort((a, b) => a.startedAt - b.startedAt);
    for (let i = 0; i < group.length; i += RECORDS_PER_ITEM) packChunk(pk, group.slice(i, i + RECORDS_PER_ITEM), retentionDays, packed);
  }
  return packed;
}

/**
 * Packs `chunk` (one tenant and month, oldest first) into one item, or, when its gzipped rows
 * would exceed {@link MAX_PACKED_BYTES} (long pool or model names in the config can make rows
 * large), into two halves, recursively: DynamoDB refuses an item over 400 KB, and with it the
 * whole batch.
 */
function packChunk(pk: string, chunk: readonly BufferedRecord[], retentionDays: number, out: PackedItem[]): void {
  // gzip (fastest level): ~5x fewer bytes to sign, send and store (write units are per KB), and
  // ~4x less CPU for a local store; base64 in the SDK is native, where a JSON string attribute is
  // escaped character by character.
  const records = gzipSync(`[${chunk.map((r) => r.row).join(',')}]`, { level: 1 });
  if (records.length > MAX_PACKED_BYTES && chunk.length > 1) {
    const half = Math.ceil(chunk.length / 2);
    packChunk(pk, chunk.slice(0, half), retentionDays, out);
    packChunk(pk, chunk.slice(half), retentionDays, out);
    return;
  }
  const first = chunk[0]!;
  const last = chunk[chunk.length - 1]!;
  out.push({
    count: chunk.length,
    ids: chunk.map((r) => r.requestId),
    item: {
      pk: { S: pk },
      sk: { S: usageBatchSk(first.startedAt, first.requestId) },
      count: { N: String(chunk.length) },
      tenant: { S: first.tenantId },
      fields: { S: FIELDS_TEXT },
      records: { B: records },
      [TTL_ATTRIBUTE]: { N: String(Math.floor(last.startedAt / 1000) + retentionDays * 86_400) },
    },
  });
}

/**
 * The usage records of a packed Usage item: gzipped rows named by its `fields` (what
 * {@link packUsageRecords} writes), or, in items written before that, a JSON string of rows or of
 * whole record objects.
 */
export function decodeUsageItem(item: Record<string, AttributeValue>): UsageRecord[] {
  const packed = item.records?.B;
  const text = packed ? gunzipSync(packed).toString('utf8') : item.records?.S;
  if (!text) return [];
  const fields = item.fields?.S?.split(',');
  const tenantId = item.tenant?.S;
  const parsed = JSON.parse(text) as unknown[];
  const records = fields
    ? parsed.map((row) => Object.fromEntries([['tenantId', tenantId], ...fields.map((f, i) => [f, (row as unknown[])[i]])]) as unknown as UsageRecord)
    : (parsed as UsageRecord[]);
  // Items written before a field existed lack it: the SLO fields read as not judged, the cost as the tokens (every price factor was 1).
  return records.map((r) => ({
    ...r,
    tpotMs: r.tpotMs ?? null,
    sloMet: r.sloMet ?? null,
    costUnits: r.costUnits ?? r.promptTokens + r.completionTokens,
    outcome: r.outcome === 'aborted' || r.outcome === 'error' || r.outcome === 'shed' || r.outcome === 'interrupted' ? r.outcome : 'ok',
  }));
}

/**
 * A {@link UsageMeter} writing to the Usage table.
 *
 * @example
 * const meter = new DynamoUsageMeter(client, process.env.USAGE_TABLE!);
 * meter.record(usage);   // returns at once
 * await meter.flush();   // after the response: durable, or NotDurableError (kept for retry)
 */
export class DynamoUsageMeter implements UsageMeter {
  private buffer: BufferedRecord[] = [];
  /** Packed items not yet accepted by DynamoDB, retried unchanged. */
  private unwritten: PackedItem[] = [];
  private aggregates = new Map<string, Aggregate>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private writing = 0;
  private readonly logger: GatewayLogger;
  private readonly retentionDays: number;
  private readonly flushIntervalMs: number;
  private readonly flushAtRecords: number;
  private readonly batchRetries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly onDurable: ((requestIds: readonly string[]) => void) | undefined;
  private readonly aggregatesAfterRecords: boolean;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: DynamoUsageMeterOptions = {},
  ) {
    this.logger = options.logger ?? stderrLogger;
    this.retentionDays = options.retentionDays ?? 400;
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.flushAtRecords = options.flushAtRecords ?? FLUSH_AT_RECORDS;
    this.batchRetries = options.batchRetries ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 25;
    this.maxDelayMs = options.maxDelayMs ?? 1000;
    this.onDurable = options.onDurable;
    this.aggregatesAfterRecords = options.aggregatesAfterRecords ?? false;
  }

  /** Buffers a record; never throws, never blocks. */
  record(usage: UsageRecord): void {
    this.buffer.push(buffered(usage));
    addToAggregate(this.aggregates, usage);
    if (this.buffer.length >= this.flushAtRecords) this.background(0);
    else if (this.flushIntervalMs > 0) this.background(this.flushIntervalMs);
  }

  /** Records (and aggregate deltas) not yet durable, including those being written. */
  get pending(): number {
    return this.buffer.length + this.unwritten.reduce((n, p) => n + p.count, 0) + this.aggregates.size + this.writing;
  }

  /**
   * Resolves when every record so far (and its aggregate) is durably written; rejects with
   * {@link NotDurableError} if some could not be written (they stay buffered for the next flush).
   */
  flush(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    const run = this.chain.then(() => this.writeAll());
    this.chain = run.catch(() => undefined);
    return run;
  }

  private background(ms: number): void {
    if (this.timer) {
      if (ms > 0) return;
      clearTimeout(this.timer);
    }
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.flush().catch(() => undefined); // logged in writeAll; kept for the next flush
    }, ms);
    this.timer.unref();
  }

  private async writeAll(): Promise<void> {
    const items = [...this.unwritten, ...packBuffered(this.buffer, this.retentionDays)];
    this.buffer = [];
    this.unwritten = [];
    const aggregates = [...this.aggregates.values()];
    this.aggregates = new Map();
    this.writing = items.reduce((n, p) => n + p.count, 0) + aggregates.length;
    let unwritten: PackedItem[];
    let failedAggregates: Aggregate[];
    try {
      // Neither rejects on DynamoDB errors; a throw here is unexpected: keep everything (puts are idempotent).
      if (this.aggregatesAfterRecords) {
        unwritten = await this.writeItems(items);
        failedAggregates = unwritten.length === 0 ? await this.writeAggregates(aggregates) : aggregates;
      } else {
        [unwritten, failedAggregates] = await Promise.all([this.writeItems(items), this.writeAggregates(aggregates)]);
      }
    } catch {
      [unwritten, failedAggregates] = [items, aggregates];
    } finally {
      this.writing = 0;
    }
    if (this.onDurable && items.length > unwritten.length) {
      const failed = new Set(unwritten);
      const ids = items.filter((p) => !failed.has(p)).flatMap((p) => p.ids);
      if (ids.length > 0) this.onDurable(ids);
    }
    if (unwritten.length === 0 && failedAggregates.length === 0) return;
    this.unwritten = [...unwritten, ...this.unwritten];
    for (const a of failedAggregates) this.mergeAggregate(a);
    const records = unwritten.reduce((n, p) => n + p.count, 0);
    this.logger.error('usage records not yet durable; kept for the next flush', { records, aggregates: failedAggregates.length });
    throw new NotDurableError(`${records} usage records and ${failedAggregates.length} aggregates not yet durable; kept for retry`, records + failedAggregates.length);
  }

  /** Writes packed items, 25 per `BatchWriteItem`; returns those still unwritten. */
  private async writeItems(items: PackedItem[]): Promise<PackedItem[]> {
    const unwritten: PackedItem[] = [];
    for (let i = 0; i < items.length; i += BATCH_SIZE) {
      const chunk = items.slice(i, i + BATCH_SIZE);
      const byKey = new Map(chunk.map((p) => [`${p.item.pk!.S}|${p.item.sk!.S}`, p]));
      // What is left (the whole chunk when a call fails) is retried on the next flush.
      const requests = await batchWrite(
        this.client,
        this.tableName,
        chunk.map((p) => ({ PutRequest: { Item: p.item } })),
        { retries: this.batchRetries, baseDelayMs: this.baseDelayMs, maxDelayMs: this.maxDelayMs },
      );
      for (const req of requests) {
        const item = req.PutRequest?.Item;
        const packed = item ? byKey.get(`${item.pk?.S}|${item.sk?.S}`) : undefined;
        if (packed) unwritten.push(packed);
      }
    }
    return unwritten;
  }

  /** Applies aggregate deltas; returns those that failed. */
  private writeAggregates(aggregates: Aggregate[]): Promise<Aggregate[]> {
    return writeAggregateDeltas(this.client, this.tableName, aggregates, this.retentionDays);
  }

  private mergeAggregate(a: Aggregate): void {
    const id = `${a.tenantId}|${a.day}|${a.tier}`;
    const cur = this.aggregates.get(id);
    if (!cur) {
      this.aggregates.set(id, a);
      return;
    }
    for (const name of AGGREGATE_COUNTERS) cur[name] += a[name];
  }
}

function emptyAggregate(tenantId: string, day: string, tier: string, startedAt: number): Aggregate {
  return { tenantId, day, tier, startedAt, requests: 0, promptTokens: 0, completionTokens: 0, errors: 0, aborted: 0, costUnits: 0, sloMet: 0, sloMissed: 0, shed: 0, interrupted: 0 };
}

/** Adds one record to its (tenant, day, tier) aggregate in `aggregates`. */
function addToAggregate(aggregates: Map<string, Aggregate>, usage: UsageRecord): void {
  const day = dayKey(usage.startedAt);
  const id = `${usage.tenantId}|${day}|${usage.tierServed}`;
  const a = aggregates.get(id) ?? emptyAggregate(usage.tenantId, day, usage.tierServed, usage.startedAt);
  a.requests += 1;
  a.promptTokens += usage.promptTokens;
  a.completionTokens += usage.completionTokens;
  a.costUnits += usage.costUnits;
  if (usage.outcome === 'error') a.errors += 1;
  if (usage.outcome === 'aborted') a.aborted += 1;
  if (usage.outcome === 'shed') a.shed += 1;
  if (usage.outcome === 'interrupted') a.interrupted += 1;
  if (usage.sloMet === true) a.sloMet += 1;
  if (usage.sloMet === false) a.sloMissed += 1;
  aggregates.set(id, a);
}

/** Applies aggregate deltas (one `ADD` per aggregate); returns those that failed. */
async function writeAggregateDeltas(client: DynamoDBClient, tableName: string, aggregates: readonly Aggregate[], retentionDays: number): Promise<Aggregate[]> {
  const results = await Promise.allSettled(
    aggregates.map((a) =>
      client.send(
        new UpdateItemCommand({
          TableName: tableName,
          Key: aggregateItemKey(a.tenantId, a.day, a.tier),
          UpdateExpression: `SET #exp = if_not_exists(#exp, :exp) ADD ${AGGREGATE_COUNTERS.map((_, i) => `#a${i} :a${i}`).join(', ')}`,
          ExpressionAttributeNames: { '#exp': TTL_ATTRIBUTE, ...Object.fromEntries(AGGREGATE_COUNTERS.map((name, i) => [`#a${i}`, name])) },
          ExpressionAttributeValues: {
            ':exp': { N: String(Math.floor(a.startedAt / 1000) + retentionDays * 86_400) },
            ...Object.fromEntries(AGGREGATE_COUNTERS.map((name, i) => [`:a${i}`, { N: String(a[name]) }])),
          },
        }),
      ),
    ),
  );
  return aggregates.filter((_, i) => results[i]!.status === 'rejected');
}

/**
 * Adds `records` to their daily aggregates (what a flush does for the records it writes); for
 * writers of records outside a meter (the open-request sweep). Rejects if an update failed.
 *
 * @example
 * await addToDailyAggregates(client, 'splitserve-usage', [interruptedRecord]);
 */
export async function addToDailyAggregates(client: DynamoDBClient, tableName: string, records: readonly UsageRecord[], retentionDays = 400): Promise<void> {
  const aggregates = new Map<string, Aggregate>();
  for (const r of records) addToAggregate(aggregates, r);
  const failed = await writeAggregateDeltas(client, tableName, [...aggregates.values()], retentionDays);
  if (failed.length > 0) throw new NotDurableError(`${failed.length} daily aggregates not written`, failed.length);
}
