/**
 * The admission hot path: one conditional `UpdateItem` on a window item (usage-items.ts) that
 * checks and consumes requests/minute, tokens/minute and the month's budget together. The month's
 * counter counts cost units (tokens × the tier's price factor, lambda/core/cost.ts): `cost` below.
 *
 * Three update shapes, each ONE conditional UpdateItem:
 * - `add` (steady state, the item is in the current minute):
 *   `ADD req :r, tok :t, mon :c` if `m = :m AND (attribute_not_exists(req) OR req <= :rpm-r) AND … tok … AND … mon …`
 * - `roll` (first admission of a minute on this item; resets the minute counters, keeps the month):
 *   `SET m = :m, req = :r, tok = :t, expiresAt = :ttl ADD mon :c` if `(attribute_not_exists(m) OR m < :m) AND … mon …`
 * - `month` (only a monthly budget is configured): `ADD mon :c` if `… mon …`
 *
 * Exactness: DynamoDB applies writes to one item one at a time and evaluates the condition against
 * the item as it is at that moment, so no sequence of concurrent admissions can leave a counter
 * above its limit (requests and tokens per minute, tokens per month), on any number of instances.
 * A failed condition writes nothing: a refusal for one limit consumes none of the others.
 *
 * Which limit refused: real DynamoDB returns the item with the failure
 * (`ReturnValuesOnConditionCheckFailure: ALL_OLD`), so a refusal costs the same single call.
 * dynalite does not; then the counter first tries the other shape once (the likely cause is a
 * minute roll by another instance) and, if that fails too, reads the item (strongly consistent) to
 * classify. An instance that has not yet seen the current minute on an item starts with `roll`;
 * if another instance rolled first, the failure (with ALL_OLD) says so and `add` follows: at most
 * one extra call per item per minute per instance.
 */
import { USAGE_TTL_ATTRIBUTE } from './table-schema.ts';
import {
  ConditionalCheckFailedException,
  GetItemCommand,
  UpdateItemCommand,
  type AttributeValue,
  type DynamoDBClient,
} from '@aws-sdk/client-dynamodb';
import { epochMinute, windowExpiresAt, type ItemKey } from './usage-items.ts';
import { storeFailure } from './errors.ts';

/** Limits applied to one window item (a shard's share of the tenant's limits). */
export interface WindowLimits {
  readonly rpm?: number;
  readonly tpm?: number;
  readonly monthlyTokens?: number;
}

/** Amounts to consume. */
export interface WindowAmounts {
  readonly requests: number;
  /** Tokens, against the tokens-per-minute limit. */
  readonly tokens: number;
  /** Cost units, against the monthly budget. */
  readonly cost: number;
}

/** Counters of a window item (absent ones read as 0; `minute` undefined before the first roll). */
export interface WindowCounts {
  readonly minute: number | undefined;
  readonly req: number;
  readonly tok: number;
  readonly mon: number;
}

/** Which limit refused. `contention`: the item kept changing under us (bounded retries spent). */
export const REFUSAL_REASONS = { requests: 'requests', tokens: 'tokens', month: 'month', contention: 'contention' } as const;
/** One of {@link REFUSAL_REASONS}. */
export type RefusalReason = (typeof REFUSAL_REASONS)[keyof typeof REFUSAL_REASONS];

/** Outcome of {@link WindowCounter.reserve}; `minute` is the minute window the decision is about. */
export type ReserveResult =
  | { readonly ok: true; readonly counts: WindowCounts; readonly minute: number }
  | {
      readonly ok: false;
      readonly reason: RefusalReason;
      readonly minute: number;
      /** The amounts alone exceed the limit: no window will ever hold them (retrying cannot help). */
      readonly tooLarge: boolean;
      /** The item's counters the refusal was decided on (absent for `tooLarge` and `contention`). */
      readonly counts?: WindowCounts;
    };

type Shape = 'add' | 'roll' | 'month';
type Decision = { readonly refuse: RefusalReason; readonly minute: number } | { readonly next: Shape; readonly minute: number };

const MAX_ATTEMPTS = 4;
const NAMES = { '#m': 'm', '#req': 'req', '#tok': 'tok', '#mon': 'mon', '#exp': USAGE_TTL_ATTRIBUTE } as const;

/** True when any window limit is set. */
export function hasLimits(l: WindowLimits | undefined): l is WindowLimits {
  return l !== undefined && (l.rpm !== undefined || l.tpm !== undefined || l.monthlyTokens !== undefined);
}

/** True when the item tracks a minute window (rpm or tpm set). */
export function tracksMinute(l: WindowLimits): boolean {
  return l.rpm !== undefined || l.tpm !== undefined;
}

/** Decodes a window item's counters. */
export function decodeCounts(item: Record<string, AttributeValue> | undefined): WindowCounts {
  const n = (a: string): number => Number(item?.[a]?.N ?? 0);
  const m = item?.m?.N;
  return { minute: m === undefined ? undefined : Number(m), req: n('req'), tok: n('tok'), mon: n('mon') };
}

/**
 * Pure decision after a failed update, from the item's current counters: refuse (and why), or
 * which shape to try next.
 */
export function decide(old: WindowCounts, limits: WindowLimits, amounts: WindowAmounts, minute: number): Decision {
  if (limits.monthlyTokens !== undefined && old.mon + amounts.cost > limits.monthlyTokens) return { refuse: 'month', minute };
  if (!tracksMinute(limits)) return { next: 'month', minute };
  if (old.minute === undefined || old.minute < minute) return { next: 'roll', minute };
  const m = old.minute; // equal, or ahead (another instance's clock): adopt the stored minute
  if (limits.rpm !== undefined && old.req + amounts.requests > limits.rpm) return { refuse: 'requests', minute: m };
  if (limits.tpm !== undefined && old.tok + amounts.tokens > limits.tpm) return { refuse: 'tokens', minute: m };
  return { next: 'add', minute: m };
}

/** A request that no window could ever hold (larger than the limit itself), or undefined. */
function tooLarge(limits: WindowLimits, amounts: WindowAmounts): RefusalReason | undefined {
  if (limits.monthlyTokens !== undefined && amounts.cost > limits.monthlyTokens) return 'month';
  if (limits.rpm !== undefined && amounts.requests > limits.rpm) return 'requests';
  if (limits.tpm !== undefined && amounts.tokens > limits.tpm) return 'tokens';
  return undefined;
}

/**
 * Conditional reservations on window items. Remembers, per item, the last minute it saw, to pick
 * the right update shape first.
 */
export class WindowCounter {
  private readonly knownMinute = new Map<string, number>();

  constructor(
    private readonly client: DynamoDBClient,
    private readonly tableName: string,
    private readonly maxKnown = 10_000,
  ) {}

  /**
   * Consumes `amounts` from the item if every configured limit still holds afterwards; otherwise
   * changes nothing and says which limit refused. One UpdateItem in the steady state.
   */
  async reserve(key: ItemKey, limits: WindowLimits, amounts: WindowAmounts, nowMs: number): Promise<ReserveResult> {
    let minute = epochMinute(nowMs);
    const big = tooLarge(limits, amounts);
    if (big) return { ok: false, reason: big, minute, tooLarge: true };
    const id = `${key.pk.S}|${key.sk.S}`;
    const timed = tracksMinute(limits);
    let shape: Shape = !timed ? 'month' : this.knownMinute.get(id) === minute ? 'add' : 'roll';
    let switchedBlind = false;
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const res = await this.update(key, shape, minute, limits, amounts, nowMs);
      if (res.ok) {
        if (timed) this.remember(id, minute);
        return { ok: true, counts: res.counts, minute };
      }
      if (!res.old && timed && !switchedBlind) {
        switchedBlind = true;
        shape = shape === 'add' ? 'roll' : 'add';
        continue;
      }
      const old = res.old ?? (await this.read(key));
      const d = decide(old, limits, amounts, minute);
      if (old.minute !== undefined) this.remember(id, old.minute);
      if ('refuse' in d) return { ok: false, reason: d.refuse, minute: d.minute, tooLarge: false, counts: old };
      shape = d.next;
      minute = d.minute;
    }
    return { ok: false, reason: 'contention', minute, tooLarge: false };
  }

  private remember(id: string, minute: number): void {
    if (this.knownMinute.size >= this.maxKnown && !this.knownMinute.has(id)) this.knownMinute.clear();
    this.knownMinute.set(id, minute);
  }

  private async read(key: ItemKey): Promise<WindowCounts> {
    const out = await this.client.send(new GetItemCommand({ TableName: this.tableName, Key: key, ConsistentRead: true })).catch((err: unknown) => {
      throw storeFailure(err);
    });
    return decodeCounts(out.Item);
  }

  private async update(
    key: ItemKey,
    shape: Shape,
    minute: number,
    limits: WindowLimits,
    amounts: WindowAmounts,
    nowMs: number,
  ): Promise<{ ok: true; counts: WindowCounts } | { ok: false; old: WindowCounts | undefined }> {
    const add: string[] = [];
    const set: string[] = [];
    const cond: string[] = [];
    const values: Record<string, AttributeValue> = {};
    const names: Record<string, string> = {};
    const name = (n: keyof typeof NAMES): string => {
      names[n] = NAMES[n];
      return n;
    };
    const value = (v: string, n: number): string => {
      values[v] = { N: String(n) };
      return v;
    };
    const within = (n: '#req' | '#tok' | '#mon', max: number, v: string): void => {
      cond.push(`(attribute_not_exists(${name(n)}) OR ${n} <= ${value(v, max)})`);
    };
    if (shape === 'add') {
      cond.push(`${name('#m')} = ${value(':m', minute)}`);
      if (limits.rpm !== undefined) {
        add.push(`${name('#req')} ${value(':r', amounts.requests)}`);
        within('#req', limits.rpm - amounts.requests, ':reqMax');
      }
      if (limits.tpm !== undefined) {
        add.push(`${name('#tok')} ${value(':t', amounts.tokens)}`);
        within('#tok', limits.tpm - amounts.tokens, ':tokMax');
      }
    } else if (shape === 'roll') {
      cond.push(`(attribute_not_exists(${name('#m')}) OR #m < ${value(':m', minute)})`);
      set.push(`#m = :m`, `${name('#exp')} = ${value(':ttl', windowExpiresAt(nowMs))}`);
      if (limits.rpm !== undefined) set.push(`${name('#req')} = ${value(':r', amounts.requests)}`);
      if (limits.tpm !== undefined) set.push(`${name('#tok')} = ${value(':t', amounts.tokens)}`);
    } else {
      set.push(`${name('#exp')} = if_not_exists(#exp, ${value(':ttl', windowExpiresAt(nowMs))})`);
    }
    if (limits.monthlyTokens !== undefined) {
      add.push(`${name('#mon')} ${value(':c', amounts.cost)}`);
      within('#mon', limits.monthlyTokens - amounts.cost, ':monMax');
    }
    const expr = [set.length ? `SET ${set.join(', ')}` : '', add.length ? `ADD ${add.join(', ')}` : ''].filter(Boolean).join(' ');
    try {
      const out = await this.client.send(
        new UpdateItemCommand({
          TableName: this.tableName,
          Key: key,
          UpdateExpression: expr,
          ConditionExpression: cond.join(' AND '),
          ExpressionAttributeNames: names,
          ExpressionAttributeValues: values,
          ReturnValues: 'ALL_NEW',
          ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
        }),
      );
      return { ok: true, counts: decodeCounts(out.Attributes) };
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException) return { ok: false, old: err.Item ? decodeCounts(err.Item) : undefined };
      throw storeFailure(err);
    }
  }
}
