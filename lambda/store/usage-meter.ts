/**
 * Metering off the request path: usage records are buffered and written with `BatchWriteItem`
 * to the Usage table (layouts in usage-items.ts), and per-tenant per-tier per-day aggregates are
 * updated with one `ADD` per (tenant, day, tier) per flush, for cheap usage reports.
 *
 * Never drops a record: a record leaves the buffer only once DynamoDB has accepted it.
 * `UnprocessedItems` are retried within a flush with capped exponential backoff (bounded); what is
 * still unwritten (or failed outright) stays buffered for the next flush, which `flush()` reports
 * by rejecting with {@link NotDurableError} (the log line carries the count only). Records are
 * idempotent puts (same key); aggregates are `ADD`s, at-least-once: a retry after a lost response
 * may count a batch twice in the daily totals (the records stay exact).
 */
import {
  BatchWriteItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { UsageMeter, UsageRecord } from '../core/ports.ts';
import { NotDurableError } from './errors.ts';
import { consoleStoreLogger, type StoreLogger } from './logger.ts';
import { aggregateItemKey, dayKey, TTL_ATTRIBUTE, usageRecordPk, usageRecordSk } from './usage-items.ts';

/** Options of {@link DynamoUsageMeter}. */
export interface DynamoUsageMeterOptions {
  readonly logger?: StoreLogger;
  /** Days a usage record (and a daily aggregate) is kept, from its start. @default 400 */
  readonly retentionDays?: number;
  /** Background flush this long after a record arrives; 0 disables the timer. @default 1000 */
  readonly flushIntervalMs?: number;
  /** A background flush starts as soon as this many records are buffered. @default 100 */
  readonly flushAtRecords?: number;
  /** Retries of `UnprocessedItems` within one flush. @default 5 */
  readonly batchRetries?: number;
  /** First retry delay. @default 25 */
  readonly baseDelayMs?: number;
  /** Largest retry delay. @default 1000 */
  readonly maxDelayMs?: number;
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
}

const BATCH_SIZE = 25;

/** The Usage table item of a record. */
export function encodeUsageRecord(r: UsageRecord, retentionDays: number): Record<string, AttributeValue> {
  return {
    pk: { S: usageRecordPk(r.tenantId, r.startedAt) },
    sk: { S: usageRecordSk(r.startedAt, r.requestId) },
    requestId: { S: r.requestId },
    tenantId: { S: r.tenantId },
    tierAsked: { S: r.tierAsked },
    tierServed: { S: r.tierServed },
    route: { S: r.route },
    pools: { L: r.pools.map((p) => ({ S: p })) },
    model: { S: r.model },
    promptTokens: { N: String(r.promptTokens) },
    completionTokens: { N: String(r.completionTokens) },
    ttftMs: r.ttftMs === null ? { NULL: true } : { N: String(r.ttftMs) },
    totalMs: { N: String(r.totalMs) },
    outcome: { S: r.outcome },
    startedAt: { N: String(r.startedAt) },
    [TTL_ATTRIBUTE]: { N: String(Math.floor(r.startedAt / 1000) + retentionDays * 86_400) },
  };
}

/** Decodes a usage record item. */
export function decodeUsageRecord(item: Record<string, AttributeValue>): UsageRecord {
  const s = (k: string): string => item[k]?.S ?? '';
  const n = (k: string): number => Number(item[k]?.N ?? 0);
  const outcome = s('outcome');
  return {
    requestId: s('requestId'),
    tenantId: s('tenantId'),
    tierAsked: s('tierAsked'),
    tierServed: s('tierServed'),
    route: s('route'),
    pools: (item.pools?.L ?? []).map((p) => p.S ?? ''),
    model: s('model'),
    promptTokens: n('promptTokens'),
    completionTokens: n('completionTokens'),
    ttftMs: item.ttftMs?.N === undefined ? null : Number(item.ttftMs.N),
    totalMs: n('totalMs'),
    outcome: outcome === 'aborted' || outcome === 'error' ? outcome : 'ok',
    startedAt: n('startedAt'),
  };
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
  private buffer: UsageRecord[] = [];
  private aggregates = new Map<string, Aggregate>();
  private chain: Promise<void> = Promise.resolve();
  private timer: NodeJS.Timeout | undefined;
  private writing = 0;
  private readonly logger: StoreLogger;
  private readonly retentionDays: number;
  private readonly flushIntervalMs: number;
  private readonly flushAtRecords: number;
  private readonly batchRetries: number;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: DynamoUsageMeterOptions = {},
  ) {
    this.logger = options.logger ?? consoleStoreLogger;
    this.retentionDays = options.retentionDays ?? 400;
    this.flushIntervalMs = options.flushIntervalMs ?? 1000;
    this.flushAtRecords = options.flushAtRecords ?? 100;
    this.batchRetries = options.batchRetries ?? 5;
    this.baseDelayMs = options.baseDelayMs ?? 25;
    this.maxDelayMs = options.maxDelayMs ?? 1000;
  }

  /** Buffers a record; never throws, never blocks. */
  record(usage: UsageRecord): void {
    this.buffer.push(usage);
    const day = dayKey(usage.startedAt);
    const id = `${usage.tenantId}|${day}|${usage.tierServed}`;
    const a = this.aggregates.get(id) ?? emptyAggregate(usage.tenantId, day, usage.tierServed, usage.startedAt);
    a.requests += 1;
    a.promptTokens += usage.promptTokens;
    a.completionTokens += usage.completionTokens;
    if (usage.outcome === 'error') a.errors += 1;
    if (usage.outcome === 'aborted') a.aborted += 1;
    this.aggregates.set(id, a);
    if (this.buffer.length >= this.flushAtRecords) this.background(0);
    else if (this.flushIntervalMs > 0) this.background(this.flushIntervalMs);
  }

  /** Records (and aggregate deltas) not yet durable, including those being written. */
  get pending(): number {
    return this.buffer.length + this.aggregates.size + this.writing;
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
    const records = this.buffer;
    this.buffer = [];
    const aggregates = [...this.aggregates.values()];
    this.aggregates = new Map();
    this.writing = records.length + aggregates.length;
    let unwritten: UsageRecord[];
    let failedAggregates: Aggregate[];
    try {
      // Neither rejects on DynamoDB errors; a throw here is unexpected: keep everything (puts are idempotent).
      [unwritten, failedAggregates] = await Promise.all([this.writeRecords(records), this.writeAggregates(aggregates)]);
    } catch {
      [unwritten, failedAggregates] = [records, aggregates];
    } finally {
      this.writing = 0;
    }
    if (unwritten.length === 0 && failedAggregates.length === 0) return;
    this.buffer = [...unwritten, ...this.buffer];
    for (const a of failedAggregates) this.mergeAggregate(a);
    this.logger.error('usage records not yet durable; kept for the next flush', { records: unwritten.length, aggregates: failedAggregates.length });
    throw new NotDurableError(`${unwritten.length} usage records and ${failedAggregates.length} aggregates not yet durable; kept for retry`, unwritten.length + failedAggregates.length);
  }

  /** Writes records in batches of 25; returns those still unwritten. */
  private async writeRecords(records: UsageRecord[]): Promise<UsageRecord[]> {
    const unwritten: UsageRecord[] = [];
    for (let i = 0; i < records.length; i += BATCH_SIZE) {
      const chunk = records.slice(i, i + BATCH_SIZE);
      const byKey = new Map<string, UsageRecord>();
      let requests: WriteRequest[] = chunk.map((r) => {
        const Item = encodeUsageRecord(r, this.retentionDays);
        byKey.set(`${Item.pk!.S}|${Item.sk!.S}`, r);
        return { PutRequest: { Item } };
      });
      for (let attempt = 0; requests.length > 0; attempt++) {
        if (attempt > 0) {
          if (attempt > this.batchRetries) break;
          await sleep(Math.min(this.maxDelayMs, this.baseDelayMs * 2 ** (attempt - 1)));
        }
        try {
          const out = await this.client.send(new BatchWriteItemCommand({ RequestItems: { [this.tableName]: requests } }));
          requests = out.UnprocessedItems?.[this.tableName] ?? [];
        } catch {
          break; // the whole chunk stays unwritten; retried on the next flush
        }
      }
      for (const req of requests) {
        const item = req.PutRequest?.Item;
        const r = item ? byKey.get(`${item.pk?.S}|${item.sk?.S}`) : undefined;
        if (r) unwritten.push(r);
      }
    }
    return unwritten;
  }

  /** Applies aggregate deltas; returns those that failed. */
  private async writeAggregates(aggregates: Aggregate[]): Promise<Aggregate[]> {
    const results = await Promise.allSettled(
      aggregates.map((a) =>
        this.client.send(
          new UpdateItemCommand({
            TableName: this.tableName,
            Key: aggregateItemKey(a.tenantId, a.day, a.tier),
            UpdateExpression: 'SET #exp = if_not_exists(#exp, :exp) ADD #r :r, #p :p, #c :c, #e :e, #a :a',
            ExpressionAttributeNames: {
              '#exp': TTL_ATTRIBUTE,
              '#r': 'requests',
              '#p': 'promptTokens',
              '#c': 'completionTokens',
              '#e': 'errors',
              '#a': 'aborted',
            },
            ExpressionAttributeValues: {
              ':exp': { N: String(Math.floor(a.startedAt / 1000) + this.retentionDays * 86_400) },
              ':r': { N: String(a.requests) },
              ':p': { N: String(a.promptTokens) },
              ':c': { N: String(a.completionTokens) },
              ':e': { N: String(a.errors) },
              ':a': { N: String(a.aborted) },
            },
          }),
        ),
      ),
    );
    return aggregates.filter((_, i) => results[i]!.status === 'rejected');
  }

  private mergeAggregate(a: Aggregate): void {
    const id = `${a.tenantId}|${a.day}|${a.tier}`;
    const cur = this.aggregates.get(id);
    if (!cur) {
      this.aggregates.set(id, a);
      return;
    }
    cur.requests += a.requests;
    cur.promptTokens += a.promptTokens;
    cur.completionTokens += a.completionTokens;
    cur.errors += a.errors;
    cur.aborted += a.aborted;
  }
}

function emptyAggregate(tenantId: string, day: string, tier: string, startedAt: number): Aggregate {
  return { tenantId, day, tier, startedAt, requests: 0, promptTokens: 0, completionTokens: 0, errors: 0, aborted: 0 };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
