/**
 * Off-path corrections to window items: the reconciliation of a reservation with real usage
 * (`settle`) and the return of unused leases. Unconditional `ADD`s, queued, coalesced per item
 * and minute, retried with capped exponential backoff, and never dropped: an adjustment leaves the
 * queue only once DynamoDB has accepted it.
 *
 * An adjustment for the item's current minute corrects the minute counters and the month
 * together (`ADD req :dr, tok :dt, mon :dm` if `m = :minute`); once that minute is over only the
 * month is corrected (`ADD mon :dm`), since the minute counters have been reset.
 */
import { ConditionalCheckFailedException, UpdateItemCommand, type AttributeValue, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { backoffDelay } from '../core/backoff.ts';
import { NotDurableError } from './errors.ts';
import { stderrLogger, type GatewayLogger } from '../core/logger.ts';
import { epochMinute, type ItemKey } from './usage-items.ts';

/** A signed correction of a window item's counters. */
export interface WindowAdjustment {
  readonly key: ItemKey;
  /** The minute window the correction belongs to; omit for month-only items. */
  readonly minute?: number;
  readonly req?: number;
  readonly tok?: number;
  readonly mon?: number;
}

/** Retry behaviour of an {@link AdjustmentQueue}. */
export interface AdjustmentQueueOptions {
  /** Clock in milliseconds. @default Date.now */
  readonly now?: () => number;
  readonly logger?: GatewayLogger;
  /** First retry delay. @default 50 */
  readonly baseDelayMs?: number;
  /** Largest retry delay. @default 5000 */
  readonly maxDelayMs?: number;
  /** Passes `drain()` makes before it gives up (the adjustments stay queued). @default 6 */
  readonly maxDrainPasses?: number;
}

interface Pending {
  key: ItemKey;
  minute: number | undefined;
  req: number;
  tok: number;
  mon: number;
}

/**
 * A queue of window adjustments that applies them in the background and on `drain()`.
 *
 * @example
 * queue.add({ key, minute, tok: -120, mon: -120 }); // returns at once
 * await queue.drain();                               // after the response: all applied
 */
export class AdjustmentQueue {
  private readonly pending = new Map<string, Pending>();
  private readonly now: () => number;
  private readonly logger: GatewayLogger;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxDrainPasses: number;
  private running: Promise<boolean> | undefined;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    options: AdjustmentQueueOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.logger = options.logger ?? stderrLogger;
    this.baseDelayMs = options.baseDelayMs ?? 50;
    this.maxDelayMs = options.maxDelayMs ?? 5000;
    this.maxDrainPasses = options.maxDrainPasses ?? 6;
  }

  /** Queues an adjustment (merged with others for the same item and minute); never throws. */
  add(adj: WindowAdjustment): void {
    const id = `${adj.key.pk.S}|${adj.key.sk.S}|${adj.minute ?? ''}`;
    const p = this.pending.get(id) ?? { key: adj.key, minute: adj.minute, req: 0, tok: 0, mon: 0 };
    p.req += adj.req ?? 0;
    p.tok += adj.tok ?? 0;
    p.mon += adj.mon ?? 0;
    if (p.req === 0 && p.tok === 0 && p.mon === 0) this.pending.delete(id);
    else this.pending.set(id, p);
    this.schedule(0);
  }

  /** Adjustments not yet applied. */
  get size(): number {
    return this.pending.size;
  }

  /**
   * Resolves once every queued adjustment is applied; rejects with NotDurableError after
   * `maxDrainPasses` failing passes (the adjustments stay queued and keep being retried).
   */
  async drain(): Promise<void> {
    for (let pass = 0; ; pass++) {
      if (this.running) await this.running;
      if (this.pending.size === 0) return;
      if (pass >= this.maxDrainPasses) {
        throw new NotDurableError(`${this.pending.size} window adjustments not yet applied; kept for retry`, this.pending.size);
      }
      if (pass > 0) await new Promise((r) => setTimeout(r, this.delay()));
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      if (!this.running) await this.pass();
    }
  }

  private delay(): number {
    return backoffDelay({ baseMs: this.baseDelayMs, maxMs: this.maxDelayMs }, this.failures);
  }

  private schedule(ms: number): void {
    if (this.timer || this.running) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.pass();
    }, ms);
    this.timer.unref();
  }

  /** Applies everything queued once; failed adjustments go back to the queue. True if all applied. */
  private pass(): Promise<boolean> {
    const run = (async () => {
      const batch = [...this.pending.values()];
      this.pending.clear();
      const results = await Promise.allSettled(batch.map((p) => this.apply(p)));
      let failed = 0;
      results.forEach((r, i) => {
        if (r.status === 'fulfilled') return;
        failed += 1;
        const p = batch[i]!;
        this.add({ key: p.key, minute: p.minute, req: p.req, tok: p.tok, mon: p.mon });
      });
      if (failed > 0) {
        this.failures += 1;
        this.logger.error('window adjustments failed; kept for retry', { count: failed, attempt: this.failures });
      } else {
        this.failures = 0;
      }
      return failed === 0;
    })();
    this.running = run;
    void run.finally(() => {
      this.running = undefined;
      if (this.pending.size > 0) this.schedule(this.failures > 0 ? this.delay() : 0);
    });
    return run;
  }

  private async apply(p: Pending): Promise<void> {
    const current = p.minute !== undefined && epochMinute(this.now()) === p.minute && (p.req !== 0 || p.tok !== 0);
    if (current) {
      try {
        await this.send(p.key, { req: p.req, tok: p.tok, mon: p.mon }, p.minute);
        return;
      } catch (err) {
        if (!(err instanceof ConditionalCheckFailedException)) throw err;
      }
    }
    if (p.mon !== 0) await this.send(p.key, { mon: p.mon }, undefined);
  }

  private async send(key: ItemKey, deltas: { req?: number; tok?: number; mon?: number }, minute: number | undefined): Promise<void> {
    const names: Record<string, string> = {};
    const values: Record<string, AttributeValue> = {};
    const parts: string[] = [];
    for (const [field, d] of Object.entries(deltas)) {
      if (!d) continue;
      names[`#${field}`] = field;
      values[`:${field}`] = { N: String(d) };
      parts.push(`#${field} :${field}`);
    }
    if (parts.length === 0) return;
    if (minute !== undefined) {
      names['#m'] = 'm';
      values[':m'] = { N: String(minute) };
    }
    await this.client.send(
      new UpdateItemCommand({
        TableName: this.tableName,
        Key: key,
        UpdateExpression: `ADD ${parts.join(', ')}`,
        ...(minute !== undefined ? { ConditionExpression: '#m = :m' } : {}),
        ExpressionAttributeNames: names,
        ExpressionAttributeValues: values,
      }),
    );
  }
}
