/**
 * Admission against a tenant's per-tier windows (requests/minute, tokens/minute, and the monthly
 * budget in cost units: tokens × the tier's price factor, lambda/core/cost.ts),
 * held in window items of the Usage table (usage-items.ts), with the single-UpdateItem protocol of
 * window-counter.ts. One conditional update per admission in the steady state (a request may first wait for the one
 * in flight, and a group that does not fit costs its members one more: up to three round trips);
 * reconciliation and lease returns go through an off-path queue (adjustment-queue.ts).
 *
 * Guarantees and trade-offs:
 * - Exact: never over-admits any configured limit, under any concurrency, across instances
 *   (conditional update of one item). A refusal for one limit consumes no other.
 * - Unlimited tiers (no limits configured for the tier) cost zero DynamoDB calls.
 * - Coalescing: exact admissions of one (tenant, tier) that arrive while one is in flight wait for
 *   it, then go together in one conditional update of their sum (at most 64), when what the last
 *   admission left holds them; when the sum does not fit after all, each is admitted on its own.
 *   Still exact (the counters only ever hold what fits), and under concurrency one call admits
 *   many requests. Near a limit, or before anything is known of the window, each goes at once, as
 *   a lone request does. The cost: a request that arrives during a call waits for it, and if its
 *   group does not fit after all, goes alone after that (two extra round trips at most).
 * - Reservations: a request reserves `reserveTokens` (an upper bound of its tokens, lambda/core/token-estimate.ts) at admission,
 *   and ⌈reserveTokens × priceFactor⌉ cost units of the month; `settle(used)` adds `used −
 *   reserved` (usually negative) to the tokens of that minute (if it is still current) and the
 *   cost units of the served tier to the month, unconditionally, off the request path, queued
 *   until applied.
 *   A request that used more than it reserved is counted in full (it may push a window past its
 *   limit; later requests are then refused until the window ends).
 * - Sharding (`shards: N`): a hot tenant's window is spread over N items (pk suffix `#0…#N-1`),
 *   each holding its share of every limit (floor(L/N), the remainder to the first shards; the
 *   shares sum to L). Each shard is exact, so the tenant is never over-admitted overall. The cost:
 *   a request may be refused while another shard still has room (and a request larger than a
 *   shard's share of tpm is never admitted); a refused request tries a second random shard.
 * - Leases (`leaseSize`): an instance takes a block of the minute window (requests and tokens,
 *   counted in the month too) with one conditional update, and admits locally, with no call,
 *   until it is spent. Blocks are reserved in the shared counters, so instances together never
 *   over-admit; a block that does not fit falls back to an exact single admission. At the minute's
 *   end (seen on the next admission) or on `releaseLeases()` the unused tokens go back to the
 *   month (and requests/tokens to the minute if it is still current). An instance that stops
 *   without releasing under-admits the rest of that minute; it never over-admits.
 * - Month and minute windows are UTC; retry-after is the time to the refusing window's end.
 *
 * @example
 * const admission = new DynamoAdmission(client, process.env.USAGE_TABLE!);
 * const ticket = await admission.admit({ requestId, tenant, tier: 'priority', reserveTokens: 1200 });
 * // … serve; set headers from ticket.rateLimit …
 * ticket.settle(usage.total_tokens);
 * await admission.drain(); // after the response
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { TenantLimits, TierName } from '../core/config.ts';
import { InsufficientQuotaError, RATE_LIMIT_TYPES, RateLimitError, type GatewayError } from '../core/errors.ts';
import { addRateLimitHeaders } from '../core/rate-limit-headers.ts';
import { neverFitRefusal } from '../core/request-fit.ts';
import { costUnits } from '../core/cost.ts';
import type { Admission, AdmissionRequest, AdmissionTicket, RateLimitState, Tenant, UsedAmounts } from '../core/ports.ts';
import { AdjustmentQueue, type AdjustmentQueueOptions, type WindowAdjustment } from './adjustment-queue.ts';
import { MINUTE_MS, monthEndMs, monthKey, windowItemKey, type ItemKey } from './usage-items.ts';
import { hasLimits, tracksMinute, WindowCounter, type ReserveResult, type WindowCounts, type WindowLimits } from './window-counter.ts';

/** Size of a lease block. */
export interface LeaseSize {
  /** Requests per block (used when the tier has an rpm limit). */
  readonly requests: number;
  /** Tokens per block (used when the tier has a tpm or monthly limit); at least one request's reservation is taken. */
  readonly tokens: number;
}

/** Options of {@link DynamoAdmission}. */
export interface DynamoAdmissionOptions {
  /** Clock in milliseconds. @default Date.now */
  readonly now?: () => number;
  /** Random source in [0, 1) for shard choice. @default Math.random */
  readonly random?: () => number;
  /** Counter shards per (tenant, tier): a number for all, or per tenant and tier. @default 1 */
  readonly shards?: number | ((tenant: Tenant, tier: TierName) => number);
  /** Lease block per (tenant, tier); undefined (the default) admits every request in DynamoDB. */
  readonly leaseSize?: (tenant: Tenant, tier: TierName) => LeaseSize | undefined;
  /** Retry and logging of the off-path adjustment queue. */
  readonly adjustments?: Omit<AdjustmentQueueOptions, 'now'>;
}

interface Lease {
  /** `<tenantId>#<tier>`. */
  readonly id: string;
  readonly key: ItemKey;
  readonly limits: WindowLimits;
  readonly shards: number;
  /** Minute (or, without minute limits, `monthKey`) the lease belongs to. */
  readonly window: string;
  readonly minute: number;
  reqLeft: number;
  tokLeft: number;
  /** Cost units left of the block's monthly share. */
  costLeft: number;
  counts: WindowCounts;
}

/** What one request reserves: tokens (per minute) and cost units (per month). */
interface Reserve {
  readonly tokens: number;
  readonly cost: number;
}

/** What an exact admission left of each limit of its item (Infinity: no such limit). */
interface Room {
  readonly window: string;
  /** The item's limits (a shard's share). */
  readonly limits: WindowLimits;
  req: number;
  tok: number;
  mon: number;
}

/** True when `room` holds at least {@link AMPLE_ROOM} of every limit. */
function ample(room: Room): boolean {
  const { rpm, tpm, monthlyTokens } = room.limits;
  return (rpm === undefined || room.req >= rpm * AMPLE_ROOM) && (tpm === undefined || room.tok >= tpm * AMPLE_ROOM) && (monthlyTokens === undefined || room.mon >= monthlyTokens * AMPLE_ROOM);
}

/** An exact admission waiting for the one in flight on its (tenant, tier). */
interface ExactWaiter {
  readonly request: AdmissionRequest;
  readonly full: TenantLimits;
  readonly reserve: Reserve;
  readonly resolve: (ticket: AdmissionTicket) => void;
  readonly reject: (err: unknown) => void;
}

/**
 * Share of every limit the last exact admission must have left for the next to count as all but
 * certain ({@link DynamoAdmission.admitsLikely}): a tenant would have to spend a tenth of its
 * window between two of its requests for a speculative start to be refused.
 */
const AMPLE_ROOM = 0.1;

/** What a request reserves: its token bound (a whole number) and the cost units of it at its price factor. */
function reserveOf(request: AdmissionRequest): Reserve {
  const tokens = Math.max(0, Math.ceil(request.reserveTokens));
  return { tokens, cost: costUnits(tokens, request.priceFactor ?? 1) };
}

/**
 * The key of a (tenant, tier) and its limits, for the admissions waiting to be coalesced and the
 * room remembered: a change of limits starts afresh.
 */
function exactKey(request: AdmissionRequest, full: TenantLimits): string {
  return `${request.tenant.id}#${request.tier}#${full.rpm ?? ''}/${full.tpm ?? ''}/${full.monthlyTokens ?? ''}`;
}

/** Admissions in one coalesced update at most. */
const MAX_GROUP = 64;

type Admitted = { readonly key: ItemKey; readonly minute: number; readonly counts: WindowCounts; readonly limits: WindowLimits; readonly shards: number };
type Refused = { readonly refused: GatewayError };

const UNLIMITED: AdmissionTicket = Object.freeze({ rateLimit: Object.freeze({}), settle: () => undefined });

/** Share of `limit` held by shard `k` of `n` (the shares sum to `limit`). */
export function shardShare(limit: number, n: number, k: number): number {
  return Math.floor(limit / n) + (k < limit % n ? 1 : 0);
}

/**
 * {@link Admission} over DynamoDB window items. One instance per process; share it across requests.
 */
export class DynamoAdmission implements Admission {
  private readonly counter: WindowCounter;
  private readonly queue: AdjustmentQueue;
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly leases = new Map<string, Lease>();
  private readonly acquiring = new Map<string, Promise<boolean>>();
  /** Per lease id, the window in which a block was last refused: no more blocks are tried in it. */
  private readonly blockRefused = new Map<string, string>();
  /** Per (tenant, tier, limits), what its last exact admission here left of each limit, in which window. */
  private readonly room = new Map<string, Room>();
  /** Per (tenant, tier, limits) with an exact admission in flight, the admissions waiting for it. */
  private readonly exactWaiting = new Map<string, ExactWaiter[]>();

  constructor(
    client: DynamoDBClient,
    tableName: string,
    private readonly options: DynamoAdmissionOptions = {},
  ) {
    this.now = options.now ?? Date.now;
    this.random = options.random ?? Math.random;
    this.counter = new WindowCounter(client, tableName);
    this.queue = new AdjustmentQueue(client, tableName, { ...options.adjustments, now: this.now });
  }

  /**
   * Admits or rejects with RateLimitError / InsufficientQuotaError. The common answers (no
   * limits, a live lease with room) need no store round trip.
   */
  async admit(request: AdmissionRequest): Promise<AdmissionTicket> {
    const full = request.tenant.limits[request.tier];
    if (!hasLimits(full)) return UNLIMITED;
    const reserve = reserveOf(request);
    const lease = this.options.leaseSize?.(request.tenant, request.tier);
    if (!lease) return this.admitOnce(request, full, reserve);
    return this.fromLiveLease(`${request.tenant.id}#${request.tier}`, full, reserve) ?? this.admitLeased(request, full, reserve, lease, request.priceFactor ?? 1);
  }

  /**
   * One exact admission in the store, coalesced: when an admission of the same (tenant, tier,
   * limits) is in flight, this one waits for it and goes with the others that arrived meanwhile,
   * in one conditional update of their sum (see {@link admitGroup}).
   */
  private admitOnce(request: AdmissionRequest, full: TenantLimits, reserve: Reserve): Promise<AdmissionTicket> {
    const id = exactKey(request, full);
    const waiting = this.exactWaiting.get(id);
    if (waiting && this.roomForGroup(request, full, waiting, reserve)) {
      return new Promise((resolve, reject) => waiting.push({ request, full, reserve, resolve, reject }));
    }
    if (!waiting) this.exactWaiting.set(id, []);
    return this.admitAlone(request, full, reserve).finally(() => this.nextGroup(id));
  }

  /**
   * True when what the last admission left in the window holds the waiting group with this request
   * and the one in flight (counted as this one's size): only then is waiting worth it. Near a
   * limit, or before anything is known, each goes at once (a group that does not fit costs its
   * members a second round trip, and its refusals come later).
   */
  private roomForGroup(request: AdmissionRequest, full: TenantLimits, waiting: readonly ExactWaiter[], reserve: Reserve): boolean {
    const room = this.room.get(exactKey(request, full));
    if (!room || room.window !== this.windowOf(full, this.now())) return false;
    let tokens = 2 * reserve.tokens;
    let cost = 2 * reserve.cost;
    for (const w of waiting) {
      tokens += w.reserve.tokens;
      cost += w.reserve.cost;
    }
    return room.req >= waiting.length + 2 && room.tok >= tokens && room.mon >= cost;
  }

  /** Sends the admissions that waited on `id` as one group, or marks `id` idle. */
  private nextGroup(id: string): void {
    const waiting = this.exactWaiting.get(id);
    if (!waiting || waiting.length === 0) {
      this.exactWaiting.delete(id);
      return;
    }
    const group = waiting.splice(0, MAX_GROUP);
    void this.admitGroup(group).finally(() => this.nextGroup(id));
  }

  /**
   * Admits a group with ONE conditional update of the sum of its requests, tokens and cost units:
   * all are admitted when the sum fits every limit, so the counters never go past a limit (exact,
   * as for one request). When the sum does not fit, each is admitted on its own (concurrently),
   * so each gets its own exact answer and refusal.
   */
  private async admitGroup(group: readonly ExactWaiter[]): Promise<void> {
    const [first] = group;
    if (!first) return;
    if (group.length > 1) {
      let tokens = 0;
      let cost = 0;
      for (const w of group) {
        tokens += w.reserve.tokens;
        cost += w.reserve.cost;
      }
      const sum: Reserve = { tokens, cost };
      let out: Admitted | Refused;
      try {
        out = await this.admitExact(first.request, first.full, sum, group.length);
      } catch (err) {
        for (const w of group) w.reject(err);
        return;
      }
      if (!('refused' in out)) {
        this.noteRoom(first.request, out);
        for (const w of group) w.resolve(this.ticket(w.full, out, w.reserve, undefined, out.counts));
        return;
      }
    }
    await Promise.all(group.map((w) => this.admitAlone(w.request, w.full, w.reserve).then(w.resolve, w.reject)));
  }

  /** One exact admission of one request in the store. */
  private async admitAlone(request: AdmissionRequest, full: TenantLimits, reserve: Reserve): Promise<AdmissionTicket> {
    const out = await this.admitExact(request, full, reserve);
    this.noteRoom(request, out);
    if ('refused' in out) throw out.refused;
    return this.ticket(full, out, reserve, undefined, out.counts);
  }

  /**
   * True when what the last exact admission of this tenant and tier here left in the current
   * window, less the requests asked about since, is at least {@link AMPLE_ROOM} of every limit:
   * this one is all but certain to be admitted. Each call counts its request against that room.
   * False for tiers admitted without a store write (no limits, leases).
   */
  admitsLikely(request: AdmissionRequest): boolean {
    const full = request.tenant.limits[request.tier];
    if (!hasLimits(full) || this.options.leaseSize?.(request.tenant, request.tier)) return false;
    const room = this.room.get(exactKey(request, full));
    if (!room || room.window !== this.windowOf(full, this.now())) return false;
    // Counted against what is remembered, so that a burst of early starts stops at the margin
    // (the next admission's answer replaces the estimate).
    const reserve = reserveOf(request);
    room.req -= 1;
    room.tok -= reserve.tokens;
    room.mon -= reserve.cost;
    return ample(room);
  }

  /** Remembers what an exact admission left in its window (for coalescing and {@link admitsLikely}). */
  private noteRoom(request: AdmissionRequest, out: Admitted | Refused): void {
    const id = exactKey(request, request.tenant.limits[request.tier] ?? {});
    if ('refused' in out) {
      this.room.delete(id);
      return;
    }
    const { limits: l, counts: c } = out;
    const left = (limit: number | undefined, used: number) => (limit === undefined ? Infinity : limit - used);
    if (this.room.size >= 10_000) this.room.clear();
    this.room.set(id, { window: this.windowOf(l, this.now()), limits: l, req: left(l.rpm, c.req), tok: left(l.tpm, c.tok), mon: left(l.monthlyTokens, c.mon) });
  }

  /** A ticket from the live lease `id` when it is of the current window and has room; else undefined. */
  private fromLiveLease(id: string, full: TenantLimits, reserve: Reserve): AdmissionTicket | undefined {
    const lease = this.leases.get(id);
    if (!lease || lease.window !== this.windowOf(lease.limits, this.now()) || !this.fits(lease, reserve)) return undefined;
    if (lease.limits.rpm !== undefined) lease.reqLeft -= 1;
    if (lease.limits.tpm !== undefined) lease.tokLeft -= reserve.tokens;
    if (lease.limits.monthlyTokens !== undefined) lease.costLeft -= reserve.cost;
    return this.ticket(full, lease, reserve, lease, lease.counts);
  }

  /** Resolves when every queued reconciliation and lease return is applied. */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  /** Returns every unused lease (e.g. before the process stops), then drains. */
  async releaseLeases(): Promise<void> {
    for (const [id, lease] of this.leases) {
      this.leases.delete(id);
      this.release(lease);
    }
    await this.drain();
  }

  /** Adjustments not yet applied (for metrics and tests). */
  get pendingAdjustments(): number {
    return this.queue.size;
  }

  /**
   * Shards of a (tenant, tier): as configured, but never more than its smallest limit, so that no
   * shard owns a share of 0 (which would refuse every request that lands on it).
   */
  private shardCount(tenant: Tenant, tier: TierName): number {
    const s = this.options.shards;
    const n = typeof s === 'function' ? s(tenant, tier) : (s ?? 1);
    const l = tenant.limits[tier];
    return Math.max(1, Math.min(Math.floor(n), l?.rpm ?? Infinity, l?.tpm ?? Infinity, l?.monthlyTokens ?? Infinity));
  }

  private pickShard(n: number, not?: number): number {
    if (n === 1) return 0;
    if (not === undefined) return Math.min(n - 1, Math.floor(this.random() * n));
    return (not + 1 + Math.min(n - 2, Math.floor(this.random() * (n - 1)))) % n;
  }

  private share(full: TenantLimits, n: number, k: number): WindowLimits {
    const s = (l: number | undefined): number | undefined => (l === undefined ? undefined : shardShare(l, n, k));
    return { rpm: s(full.rpm), tpm: s(full.tpm), monthlyTokens: s(full.monthlyTokens) };
  }

  /** One exact reservation of (requests, tokens) on a random shard, and on a second one if refused. */
  private async admitExact(request: AdmissionRequest, full: TenantLimits, reserve: Reserve, requests = 1): Promise<Admitted | Refused> {
    const n = this.shardCount(request.tenant, request.tier);
    let shard = this.pickShard(n);
    let refused: Refused | undefined;
    for (let attempt = 0; attempt < Math.min(2, n); attempt++) {
      if (attempt > 0) shard = this.pickShard(n, shard);
      const nowMs = this.now();
      const key = windowItemKey(request.tenant.id, request.tier, shard, nowMs);
      const limits = this.share(full, n, shard);
      const res = await this.counter.reserve(key, limits, { requests, tokens: reserve.tokens, cost: reserve.cost }, nowMs);
      if (res.ok) return { key, minute: res.minute, counts: res.counts, limits, shards: n };
      refused = { refused: this.refusal(res, request.tier, full, limits, n, nowMs, reserve) };
      if (res.reason === 'contention') break;
    }
    return refused!;
  }

  /**
   * The error of a refusal, worded as OpenAI's ("Rate limit reached … on tokens per min (TPM):
   * Limit …, Used …, Requested …. Please try again in 1.2s."), with the refusing window's
   * `x-ratelimit-*` headers; a request that can never fit gets no `retry-after` (request-fit.ts).
   */
  private refusal(res: Extract<ReserveResult, { ok: false }>, tier: TierName, full: TenantLimits, share: WindowLimits, shards: number, nowMs: number, reserve: Reserve): GatewayError {
    if (res.tooLarge) {
      const big = neverFitRefusal(tier, full, reserve, share);
      if (big) return big;
    }
    const counts = res.counts;
    if (res.reason === 'month') {
      const used = counts && shards === 1 ? `, Used ${counts.mon}` : '';
      return new InsufficientQuotaError(
        `You exceeded your monthly budget on tier ${tier}: Limit ${full.monthlyTokens} cost units${used}, Requested ${reserve.cost}. It renews on ${new Date(monthEndMs(nowMs)).toISOString().slice(0, 10)}.`,
      );
    }
    const retryAfterMs = Math.max(1, (res.minute + 1) * MINUTE_MS - nowMs);
    const wait = `Please try again in ${(retryAfterMs / 1000).toFixed(1)}s.`;
    const headers = counts ? addRateLimitHeaders({}, rateLimitState(full, share, shards, counts, { req: 0, tok: 0 }, nowMs)) : {};
    if (res.reason === 'requests') {
      const used = counts && shards === 1 ? `, Used ${counts.req}` : '';
      return new RateLimitError(`Rate limit reached on tier ${tier} on requests per min (RPM): Limit ${full.rpm}${used}, Requested 1. ${wait}`, retryAfterMs, RATE_LIMIT_TYPES.requests, headers);
    }
    if (res.reason === 'tokens') {
      const used = counts && shards === 1 ? `, Used ${counts.tok}` : '';
      return new RateLimitError(`Rate limit reached on tier ${tier} on tokens per min (TPM): Limit ${full.tpm}${used}, Requested ${reserve.tokens}. ${wait}`, retryAfterMs, RATE_LIMIT_TYPES.tokens, headers);
    }
    return new RateLimitError(`Too many concurrent requests on tier ${tier}. ${wait}`, Math.min(retryAfterMs, 1000));
  }

  private async admitLeased(request: AdmissionRequest, full: TenantLimits, reserve: Reserve, size: LeaseSize, priceFactor: number): Promise<AdmissionTicket> {
    const id = `${request.tenant.id}#${request.tier}`;
    for (;;) {
      const nowMs = this.now();
      let lease = this.leases.get(id);
      if (lease && lease.window !== this.windowOf(lease.limits, nowMs)) {
        this.leases.delete(id);
        this.release(lease);
        lease = undefined;
      }
      const local = lease && this.fromLiveLease(id, full, reserve);
      if (local) return local;
      if (this.blockRefused.get(id) === this.windowOf(this.share(full, 1, 0), nowMs)) break;
      const pending = this.acquiring.get(id);
      if (pending) {
        if (await pending) continue;
        break;
      }
      const acquire = this.acquire(request, full, id, reserve, size, priceFactor).finally(() => this.acquiring.delete(id));
      this.acquiring.set(id, acquire);
      if (!(await acquire)) break;
    }
    // The window cannot hold another block: admit this one request exactly.
    return this.admitOnce(request, full, reserve);
  }

  private windowOf(limits: WindowLimits, nowMs: number): string {
    return tracksMinute(limits) ? String(Math.floor(nowMs / MINUTE_MS)) : monthKey(nowMs);
  }

  private fits(lease: Lease, reserve: Reserve): boolean {
    const l = lease.limits;
    return (l.rpm === undefined || lease.reqLeft >= 1) && (l.tpm === undefined || lease.tokLeft >= reserve.tokens) && (l.monthlyTokens === undefined || lease.costLeft >= reserve.cost);
  }

  /** Takes one block on a random shard; true if the lease now exists (merged with a live one). */
  private async acquire(request: AdmissionRequest, full: TenantLimits, id: string, reserve: Reserve, size: LeaseSize, priceFactor: number): Promise<boolean> {
    const n = this.shardCount(request.tenant, request.tier);
    const shard = this.pickShard(n);
    const limits = this.share(full, n, shard);
    const requests = limits.rpm === undefined ? 0 : Math.max(1, Math.min(size.requests, limits.rpm));
    const tokens = limits.tpm === undefined ? 0 : Math.max(reserve.tokens, Math.min(size.tokens, limits.tpm));
    const cost = limits.monthlyTokens === undefined ? 0 : Math.max(reserve.cost, Math.min(costUnits(size.tokens, priceFactor), limits.monthlyTokens));
    const nowMs = this.now();
    const key = windowItemKey(request.tenant.id, request.tier, shard, nowMs);
    const res = await this.counter.reserve(key, limits, { requests, tokens, cost }, nowMs);
    const window = this.windowOf(limits, nowMs);
    if (!res.ok) {
      if (this.blockRefused.size >= 10_000) this.blockRefused.clear();
      this.blockRefused.set(id, window);
      return false;
    }
    const live = this.leases.get(id);
    if (live && live.window === window && live.key.pk.S === key.pk.S && live.key.sk.S === key.sk.S) {
      live.reqLeft += requests;
      live.tokLeft += tokens;
      live.costLeft += cost;
      live.counts = res.counts;
    } else {
      if (live) this.release(live);
      this.leases.set(id, { id, key, limits, shards: n, window, minute: res.minute, reqLeft: requests, tokLeft: tokens, costLeft: cost, counts: res.counts });
    }
    return true;
  }

  private release(lease: Lease): void {
    const adj: WindowAdjustment = {
      key: lease.key,
      ...(tracksMinute(lease.limits) ? { minute: lease.minute } : {}),
      req: lease.limits.rpm !== undefined ? -lease.reqLeft : 0,
      tok: lease.limits.tpm !== undefined ? -lease.tokLeft : 0,
      mon: lease.limits.monthlyTokens !== undefined ? -lease.costLeft : 0,
    };
    lease.reqLeft = 0;
    lease.tokLeft = 0;
    lease.costLeft = 0;
    this.queue.add(adj);
  }

  private ticket(full: TenantLimits, where: Admitted | Lease, reserve: Reserve, lease: Lease | undefined, counts: WindowCounts): AdmissionTicket {
    const nowMs = this.now();
    let settled = false;
    const localLeft = lease ? { req: lease.reqLeft, tok: lease.tokLeft } : { req: 0, tok: 0 };
    return {
      rateLimit: rateLimitState(full, where.limits, where.shards, counts, localLeft, nowMs),
      settle: (used: UsedAmounts) => {
        if (settled) return;
        settled = true;
        const l = where.limits;
        const tok = l.tpm !== undefined ? Math.ceil(used.tokens) - reserve.tokens : 0;
        const mon = l.monthlyTokens !== undefined ? Math.ceil(used.costUnits) - reserve.cost : 0;
        if (tok === 0 && mon === 0) return;
        // A live lease settles locally: what was not used goes back to it, and extra use comes out
        // of it while it has room (the window item already counts the whole block: still exact).
        if (
          lease &&
          (tok < 0 || lease.tokLeft >= tok) &&
          (mon < 0 || lease.costLeft >= mon) &&
          this.leases.get(lease.id) === lease &&
          lease.window === this.windowOf(lease.limits, this.now())
        ) {
          lease.tokLeft -= tok;
          lease.costLeft -= mon;
          return;
        }
        const minute = lease ? lease.minute : (where as Admitted).minute;
        this.queue.add({ key: where.key, ...(tracksMinute(l) ? { minute } : {}), tok, mon });
      },
    };
  }
}

/** What is left of `limit` when a shard of `shareLimit` has `used` (scaled to all `shards`). */
function remaining(limit: number, shareLimit: number, used: number, shards: number): number {
  return Math.max(0, Math.min(limit, Math.floor((shareLimit - used) * shards)));
}

/** `x-ratelimit-*` figures from a window item's counters (scaled by the shard count; estimates when sharded or leased). */
function rateLimitState(
  full: TenantLimits,
  share: WindowLimits,
  shards: number,
  counts: WindowCounts,
  localLeft: { req: number; tok: number },
  nowMs: number,
): RateLimitState {
  const reset = counts.minute === undefined ? undefined : Math.max(0, (counts.minute + 1) * MINUTE_MS - nowMs);
  const out: { -readonly [K in keyof RateLimitState]: RateLimitState[K] } = {};
  if (full.rpm !== undefined && share.rpm !== undefined) {
    out.limitRequests = full.rpm;
    out.remainingRequests = remaining(full.rpm, share.rpm, counts.req - localLeft.req, shards);
    if (reset !== undefined) out.resetRequestsMs = reset;
  }
  if (full.tpm !== undefined && share.tpm !== undefined) {
    out.limitTokens = full.tpm;
    out.remainingTokens = remaining(full.tpm, share.tpm, counts.tok - localLeft.tok, shards);
    if (reset !== undefined) out.resetTokensMs = reset;
  }
  return out;
}
