/**
 * Crash safety of metering: markers of the requests a process is serving ("open requests"), and
 * the sweep that bills what a killed process left.
 *
 * Why: usage records are buffered and written about once a second (usage-meter.ts) and admission
 * corrections are applied off the request path (adjustment-queue.ts), so a process killed with
 * streams in flight (SIGKILL, OOM, a Lambda timeout) would leave its served requests with no record
 * and their reservations unsettled.
 *
 * Guarantees:
 * - Every request the gateway meters itself (streams; non-streamed ones on the in-process
 *   executor; a state machine execution meters its own) has a durable marker before its first byte reaches the
 *   client (the gateway awaits {@link OpenRequestHandle.ready} then), and the marker goes only
 *   once its usage record is durable. So a served request always has a record or a marker. (If
 *   the marker cannot be written, the store is down: the request is served anyway and the failure
 *   is logged; metering is then only as durable as the meter's buffer.)
 * - The sweep turns the markers past their deadline (start + the longest a request may run + the
 *   flush slack, {@link OPEN_REQUEST_DEADLINE_MS}), or of an instance known dead, into usage records
 *   with outcome `interrupted`, billing the reservation (the upper bound: the prompt estimate, the
 *   rest of the reserved tokens as completion, and the reserved cost units). For a request cut
 *   mid-answer the admission windows already hold exactly that reservation (its settle never
 *   ran), so nothing is adjusted: record and window agree.
 * - Exactly one record per request: the sweep first reads the tenant's records around the marker
 *   (a request whose record was written just before the kill, with its marker not yet deleted,
 *   gets no second one); an interrupted record is its own item with a key derived from the request
 *   (`<startedAt ISO>#<requestId>`), so two sweeps write it once; the marker is deleted
 *   conditionally, and only the sweep that deleted it adds to the daily aggregates.
 * - A live request's marker is never swept: it is before its deadline, and its instance is alive.
 *
 * Cost (group commit): a marker's write starts with its request's backend call, so it is hidden
 * behind the engine's time to first token; markers opened while a marker write is in flight share
 * the next write, one `PutItem` per group of requests (one item, up to {@link MAX_MARKERS_PER_ITEM} markers); a group's
 * item is deleted once all its requests' records are durable, by `BatchWriteItem` (25 items a call)
 * after the meter's flush. At most one write and one delete per request (a lone request), far fewer
 * under load. Items are sorted by deadline in {@link OPEN_PARTITIONS} partitions, so a scheduled
 * sweep with nothing to do costs 16 empty queries.
 *
 * Not covered: a request that ended in the last flush interval before the kill is billed at its
 * reservation while its window may already hold what it used (its correction applied, its record
 * still buffered); a killed process's queued corrections of requests whose records were durable
 * (the window keeps their reservation: it over-counts, never over-admits); the unused part of its
 * admission leases (admission.ts: under-admits the rest of that minute; the month keeps the
 * block). A record its live process could not write for many minutes (the store down past the
 * marker's deadline and the look-back) may be billed again by a sweep. docs/reliability.md.
 *
 * @example
 * const journal = new OpenRequestJournal(client, tables.usage);
 * const meter = new DynamoUsageMeter(client, tables.usage, { onDurable: (ids) => journal.recorded(ids) });
 * const marker = journal.open({ requestId, tenantId, … });   // concurrently with the backend call
 * await marker.ready();                                      // before the first byte
 * // on start-up, or on a schedule:
 * await sweepOpenRequests(client, tables.usage, { isDead: deadLocalInstance });
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import {
  ConditionalCheckFailedException,
  DeleteItemCommand,
  PutItemCommand,
  type AttributeValue,
  type DynamoDBClient,
  type WriteRequest,
} from '@aws-sdk/client-dynamodb';
import type { OpenRequest, OpenRequestHandle, OpenRequests, UsageRecord } from '../core/ports.ts';
import { NotDurableError } from './errors.ts';
import { stderrLogger, type GatewayLogger } from '../core/logger.ts';
import { batchWrite } from './batch-write.ts';
import { queryAll } from './query-all.ts';
import { OPEN_PARTITIONS, OPEN_ROW_FIELDS, openItemKey, openItemPk, TTL_ATTRIBUTE, usageRecordPk, WINDOW_RETENTION_DAYS, type ItemKey } from './usage-items.ts';
import { addToDailyAggregates, decodeUsageItem, packUsageRecords } from './usage-meter.ts';

/**
 * The longest a request may be open before a sweep bills it: 15 minutes (API Gateway's longest
 * streamed response; the gateway function's timeout is at most that) plus a minute for its record
 * to be flushed.
 */
export const OPEN_REQUEST_DEADLINE_MS = 16 * 60_000;

/** Markers in one item at most (a row is ~150–300 bytes; an item may hold 400 KB). */
export const MAX_MARKERS_PER_ITEM = 500;

/**
 * How far before a marker's start a sweep looks for its record, beyond the longest request time:
 * records are packed per flush and an item's sort key is its oldest record's start, which may
 * precede this request's by the longest request time, plus the time a record waited for a
 * retried write (10 minutes; a record held back longer by a store outage may be billed twice).
 */
const RECORD_LOOKBACK_SLACK_MS = 10 * 60_000;

const FIELDS_TEXT = OPEN_ROW_FIELDS.join(',');

/**
 * An id for this process: `<hostname>/<pid>/<random>`. The local start-up sweep knows a marker's
 * process is gone when it ran on this host and its pid is not running ({@link deadLocalInstance}).
 */
export function newInstanceId(): string {
  return `${hostname()}/${process.pid}/${randomBytes(4).toString('hex')}`;
}

/**
 * True when `instanceId` ({@link newInstanceId}) names a process of this host that is no longer
 * running (not this process). Only meaningful where processes share a host (local runtimes); a
 * reused pid makes a dead instance look alive (its markers then wait for their deadline).
 */
export function deadLocalInstance(instanceId: string): boolean {
  const [host, pidText] = instanceId.split('/');
  const pid = Number(pidText);
  if (host !== hostname() || !Number.isInteger(pid) || pid <= 0 || pid === process.pid) return false;
  try {
    process.kill(pid, 0);
    return false;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'ESRCH';
  }
}

/** Options of {@link OpenRequestJournal}. */
export interface OpenRequestJournalOptions {
  /** This process's id. @default newInstanceId() */
  readonly instanceId?: string;
  /** How long after its start a marker is swept. @default OPEN_REQUEST_DEADLINE_MS */
  readonly deadlineMs?: number;
  /**
   * 0: group commit: a group is written at once when no marker write is in flight, else as soon
   * as the one in flight ends (the markers opened meanwhile share it). Above 0: a group gathers
   * markers this long before it is written. Either way a group is written at once when one of its
   * requests is ready to send its first byte. @default 0
   */
  readonly gatherMs?: number;
  /** Markers per item at most. @default MAX_MARKERS_PER_ITEM */
  readonly maxMarkersPerItem?: number;
  readonly logger?: GatewayLogger;
  /** Retries of unprocessed deletes within one pass. @default 3 */
  readonly batchRetries?: number;
}

interface Group {
  readonly seq: number;
  readonly markers: Marker[];
  /** Markers whose record is not yet durable. */
  open: number;
  /** The write, once started; it resolves when the item is written or its failure logged. */
  write: Promise<void> | undefined;
  written: boolean;
  key: ItemKey | undefined;
  timer: NodeJS.Timeout | undefined;
  readonly handle: OpenRequestHandle;
}

interface Marker {
  readonly request: OpenRequest;
  readonly group: Group;
  recorded: boolean;
}

/**
 * The open-request markers of one process, written with group commit: a marker's write starts
 * with its request (concurrently with the backend call); the markers opened while a write is in
 * flight share the next item. One per process; share it across requests and hand its `recorded`
 * to the usage meter's `onDurable`.
 */
export class OpenRequestJournal implements OpenRequests {
  /** This process's id (written into every marker item). */
  readonly instanceId: string;
  private readonly deadlineMs: number;
  private readonly gatherMs: number;
  private readonly maxMarkers: number;
  private readonly logger: GatewayLogger;
  private readonly batchRetries: number;
  private readonly byId = new Map<string, Marker>();
  private readonly writing = new Set<Promise<void>>();
  private current: Group | undefined;
  private seq = 0;
  private deletes: ItemKey[] = [];
  private deleting: Promise<void> | undefined;
  private deleteTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: OpenRequestJournalOptions = {},
  ) {
    this.instanceId = options.instanceId ?? newInstanceId();
    this.deadlineMs = options.deadlineMs ?? OPEN_REQUEST_DEADLINE_MS;
    this.gatherMs = options.gatherMs ?? 0;
    this.maxMarkers = options.maxMarkersPerItem ?? MAX_MARKERS_PER_ITEM;
    this.logger = options.logger ?? stderrLogger;
    this.batchRetries = options.batchRetries ?? 3;
  }

  /** Opens a marker in the group being gathered. Never throws. */
  open(request: OpenRequest): OpenRequestHandle {
    let group = this.current;
    if (!group || group.markers.length >= this.maxMarkers) group = this.newGroup();
    const marker: Marker = { request, group, recorded: false };
    group.markers.push(marker);
    group.open += 1;
    this.byId.set(request.requestId, marker);
    return group.handle;
  }

  /** Closes the markers of requests whose records are durable; ids without a marker are ignored. */
  recorded(requestIds: Iterable<string>): void {
    for (const id of requestIds) {
      const marker = this.byId.get(id);
      if (!marker) continue;
      this.byId.delete(id);
      marker.recorded = true;
      const group = marker.group;
      group.open -= 1;
      if (group.open === 0 && group.written) this.queueDelete(group.key!);
    }
  }

  /** Markers not yet closed. */
  get openCount(): number {
    return this.byId.size;
  }

  /**
   * Resolves when every marker opened so far is written (or its failure logged) and every closed
   * group's item is deleted (deletes that fail stay queued: a leftover item is harmless, the sweep
   * finds its records). Await it after the meter's flush.
   */
  async flush(): Promise<void> {
    if (this.current) this.startWrite(this.current);
    await Promise.all([...this.writing]);
    if (this.deleteTimer) clearTimeout(this.deleteTimer);
    this.deleteTimer = undefined;
    await this.runDeletes();
  }

  private newGroup(): Group {
    const group: Group = {
      seq: this.seq++,
      markers: [],
      open: 0,
      write: undefined,
      written: false,
      key: undefined,
      timer: undefined,
      handle: { ready: () => this.startWrite(group) },
    };
    if (this.gatherMs > 0) {
      group.timer = setTimeout(() => void this.startWrite(group), this.gatherMs);
      group.timer.unref();
    } else if (this.writing.size === 0) {
      // Written concurrently with the backend call, once this turn's opens have joined it.
      queueMicrotask(() => void this.startWrite(group));
    }
    this.current = group;
    return group;
  }

  /** Starts the group's write unless it has started; resolves when it is done. */
  private startWrite(group: Group): Promise<void> {
    if (group.write) return group.write;
    clearTimeout(group.timer);
    if (this.current === group) this.current = undefined;
    const write = this.write(group);
    group.write = write;
    this.writing.add(write);
    void write.finally(() => {
      this.writing.delete(write);
      // Group commit: what gathered while this write was in flight goes next.
      if (this.gatherMs === 0 && this.writing.size === 0 && this.current) void this.startWrite(this.current);
    });
    return write;
  }

  private async write(group: Group): Promise<void> {
    // Requests already recorded (a fast failure) need no marker.
    const live = group.markers.filter((m) => !m.recorded);
    if (live.length === 0) return;
    const deadline = Math.max(...live.map((m) => m.request.startedAt)) + this.deadlineMs;
    const key = openItemKey(this.instanceId, deadline, group.seq);
    try {
      await this.client.send(
        new PutItemCommand({
          TableName: this.tableName,
          Item: {
            ...key,
            instance: { S: this.instanceId },
            deadline: { N: String(deadline) },
            fields: { S: FIELDS_TEXT },
            entries: { S: JSON.stringify(live.map((m) => OPEN_ROW_FIELDS.map((f) => m.request[f]))) },
            [TTL_ATTRIBUTE]: { N: String(Math.floor(deadline / 1000) + WINDOW_RETENTION_DAYS * 86_400) },
          },
        }),
      );
      group.key = key;
      group.written = true;
      if (group.open === 0) this.queueDelete(key);
    } catch (err) {
      this.logger.error('open-request markers not written; these requests are not crash-safe', { markers: live.length, error: (err as Error).name });
    }
  }

  private queueDelete(key: ItemKey): void {
    this.deletes.push(key);
    if (this.deleteTimer || this.deleting) return;
    // A meter flush closes many groups at once: one pass deletes them together.
    this.deleteTimer = setTimeout(() => {
      this.deleteTimer = undefined;
      void this.runDeletes();
    }, 0);
    this.deleteTimer.unref();
  }

  private async runDeletes(): Promise<void> {
    while (this.deleting) await this.deleting;
    if (this.deletes.length === 0) return;
    const run = this.deleteAll().finally(() => {
      this.deleting = undefined;
    });
    this.deleting = run;
    await run;
  }

  private async deleteAll(): Promise<void> {
    const keys = this.deletes;
    this.deletes = [];
    const left: WriteRequest[] = [];
    for (let i = 0; i < keys.length; i += 25) {
      left.push(...(await batchWrite(this.client, this.tableName, keys.slice(i, i + 25).map((Key) => ({ DeleteRequest: { Key } })), { retries: this.batchRetries, baseDelayMs: 25 })));
    }
    if (left.length === 0) return;
    this.deletes.push(...left.map((r) => r.DeleteRequest!.Key as ItemKey));
    this.logger.warn('open-request markers not yet deleted; kept for the next pass', { items: left.length });
  }
}

/** A marker item as read back. */
interface OpenItem {
  readonly key: ItemKey;
  readonly instance: string;
  readonly deadline: number;
  readonly markers: OpenRequest[];
}

function decodeOpenItem(item: Record<string, AttributeValue>): OpenItem {
  const fields = (item.fields?.S ?? FIELDS_TEXT).split(',');
  const rows = JSON.parse(item.entries?.S ?? '[]') as unknown[][];
  return {
    key: { pk: { S: item.pk!.S! }, sk: { S: item.sk!.S! } },
    instance: item.instance?.S ?? '',
    deadline: Number(item.deadline?.N ?? 0),
    markers: rows.map((row) => Object.fromEntries(fields.map((f, i) => [f, row[i]])) as unknown as OpenRequest),
  };
}

/**
 * The usage record a sweep writes for a request whose process died: outcome `interrupted`,
 * billed at its reservation (prompt estimate + max tokens, the reserved cost units). Its timings
 * are unknown: no TTFT/TPOT, not judged against the SLO, `totalMs` 0.
 */
export function interruptedRecord(m: OpenRequest): UsageRecord {
  return {
    requestId: m.requestId,
    tenantId: m.tenantId,
    tierAsked: m.tierAsked,
    tierServed: m.tierServed,
    route: m.route,
    pools: m.pools,
    model: m.model,
    promptTokens: m.promptTokens,
    completionTokens: Math.max(0, m.reservedTokens - m.promptTokens),
    ttftMs: null,
    tpotMs: null,
    sloMet: null,
    costUnits: m.reservedCost,
    totalMs: 0,
    outcome: 'interrupted',
    startedAt: m.startedAt,
  };
}

/** Options of {@link sweepOpenRequests}. */
export interface SweepOptions {
  /** Clock in milliseconds. @default Date.now */
  readonly now?: () => number;
  /**
   * Instances known dead: their markers are swept whatever their deadline (then every marker
   * item is read, live ones too). @default none (only markers past their deadline)
   */
  readonly isDead?: (instanceId: string) => boolean;
  /** Days an interrupted record is kept. @default 400 (the meter's) */
  readonly retentionDays?: number;
  readonly logger?: GatewayLogger;
}

/** What a sweep did. */
export interface SweepReport {
  /** Marker items swept (deleted by this sweep). */
  readonly items: number;
  /** Markers in them. */
  readonly markers: number;
  /** Interrupted records this sweep wrote (and added to the daily aggregates). */
  readonly interrupted: number;
  /** Markers whose request already had a record (written before the kill): nothing billed. */
  readonly alreadyRecorded: number;
}

/**
 * Bills what killed processes left: every marker past its deadline (or of an instance `isDead`)
 * becomes an `interrupted` usage record unless its request has one, and its item is deleted.
 * Idempotent and safe to run concurrently (see the module header). Rejects if a write failed;
 * what it could not finish is left for the next sweep.
 *
 * @example
 * const report = await sweepOpenRequests(client, 'splitserve-usage');
 */
export async function sweepOpenRequests(client: DynamoDBClient, tableName: string, options: SweepOptions = {}): Promise<SweepReport> {
  const nowMs = (options.now ?? Date.now)();
  const isDead = options.isDead;
  const retentionDays = options.retentionDays ?? 400;
  const items: OpenItem[] = [];
  await Promise.all(
    Array.from({ length: OPEN_PARTITIONS }, async (_, p) => {
      const found = await queryAll(client, {
        TableName: tableName,
        ConsistentRead: true,
        KeyConditionExpression: isDead ? 'pk = :pk' : 'pk = :pk AND sk < :now',
        ExpressionAttributeValues: { ':pk': { S: openItemPk(p) }, ...(isDead ? {} : { ':now': { S: new Date(nowMs).toISOString() } }) },
      });
      for (const raw of found) {
        const item = decodeOpenItem(raw);
        if (item.deadline <= nowMs || isDead?.(item.instance)) items.push(item);
      }
    }),
  );
  let swept = 0;
  let markers = 0;
  let interrupted = 0;
  let alreadyRecorded = 0;
  // One read of the records around the markers per tenant and month, for all the items.
  const existing = await recordsOf(client, tableName, items);
  for (const item of items) {
    const outcome = await sweepItem(client, tableName, item, existing, retentionDays);
    if (!outcome.claimed) continue;
    swept += 1;
    markers += item.markers.length;
    interrupted += outcome.interrupted;
    alreadyRecorded += outcome.alreadyRecorded;
  }
  const report = { items: swept, markers, interrupted, alreadyRecorded };
  if (swept > 0) (options.logger ?? stderrLogger).warn('open requests of dead processes billed', { ...report });
  return report;
}

/**
 * The start-up sweep of a local runtime: markers past their deadline and those of this host's
 * exited processes (a gateway killed on this store). Never rejects: a sweep that fails is logged
 * and left to the next start (the gateway starts anyway).
 *
 * @example
 * await sweepAtStart(store.client, 'splitserve-usage', logger);
 */
export async function sweepAtStart(client: DynamoDBClient, tableName: string, logger: GatewayLogger = stderrLogger): Promise<SweepReport | undefined> {
  try {
    return await sweepOpenRequests(client, tableName, { isDead: deadLocalInstance, logger });
  } catch (err) {
    logger.error('open-request sweep failed; left for the next start', { error: (err as Error).name, message: (err as Error).message });
    return undefined;
  }
}

/** Sweeps one marker item: records first, then the conditional delete, then (if it won) the aggregates. */
async function sweepItem(
  client: DynamoDBClient,
  tableName: string,
  item: OpenItem,
  existing: ReadonlyMap<string, UsageRecord>,
  retentionDays: number,
): Promise<{ claimed: boolean; interrupted: number; alreadyRecorded: number }> {
  const toWrite: UsageRecord[] = [];
  const toAggregate: UsageRecord[] = [];
  let alreadyRecorded = 0;
  for (const m of item.markers) {
    const found = existing.get(m.requestId);
    if (!found) {
      const record = interruptedRecord(m);
      toWrite.push(record);
      toAggregate.push(record);
    } else if (found.outcome === 'interrupted') {
      toAggregate.push(found); // written by a sweep that died before it claimed the item
    } else {
      alreadyRecorded += 1;
    }
  }
  // One item per record, keyed by its start and request id: a second sweep overwrites, never adds.
  const puts: WriteRequest[] = toWrite.flatMap((r) => packUsageRecords([r], retentionDays)).map((p) => ({ PutRequest: { Item: p.item } }));
  for (let i = 0; i < puts.length; i += 25) {
    const left = await batchWrite(client, tableName, puts.slice(i, i + 25), { retries: 5, baseDelayMs: 25 });
    if (left.length > 0) throw new NotDurableError(`${left.length} interrupted usage records not written; the markers stay for the next sweep`, left.length);
  }
  try {
    await client.send(new DeleteItemCommand({ TableName: tableName, Key: item.key, ConditionExpression: 'attribute_exists(pk)' }));
  } catch (err) {
    if (err instanceof ConditionalCheckFailedException) return { claimed: false, interrupted: 0, alreadyRecorded: 0 };
    throw err;
  }
  if (toAggregate.length > 0) await addToDailyAggregates(client, tableName, toAggregate, retentionDays);
  return { claimed: true, interrupted: toAggregate.length, alreadyRecorded };
}

/**
 * The records (by request id) that exist of the items' requests: one strongly consistent Query per
 * tenant and month, over the sort keys where a packed item holding them can be (from the earliest
 * start less the longest request time and the slack, to the latest start).
 */
async function recordsOf(client: DynamoDBClient, tableName: string, items: readonly OpenItem[]): Promise<Map<string, UsageRecord>> {
  const groups = new Map<string, { min: number; max: number; lookback: number; ids: Set<string> }>();
  for (const item of items) {
    const longest = item.markers.length === 0 ? 0 : item.deadline - Math.max(...item.markers.map((m) => m.startedAt));
    for (const m of item.markers) {
      const pk = usageRecordPk(m.tenantId, m.startedAt);
      const g = groups.get(pk) ?? { min: m.startedAt, max: m.startedAt, lookback: 0, ids: new Set<string>() };
      g.min = Math.min(g.min, m.startedAt);
      g.max = Math.max(g.max, m.startedAt);
      g.lookback = Math.max(g.lookback, longest);
      g.ids.add(m.requestId);
      groups.set(pk, g);
    }
  }
  const found = new Map<string, UsageRecord>();
  for (const [pk, g] of groups) {
    const lookback = g.lookback + RECORD_LOOKBACK_SLACK_MS;
    const rows = await queryAll(client, {
      TableName: tableName,
      ConsistentRead: true,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': { S: pk },
        ':from': { S: new Date(g.min - lookback).toISOString() },
        ':to': { S: `${new Date(g.max).toISOString()}#\uffff` },
      },
    });
    for (const row of rows) for (const r of decodeUsageItem(row)) if (g.ids.has(r.requestId)) found.set(r.requestId, r);
  }
  return found;
}

