import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { InsufficientQuotaError, RateLimitError, RequestTooLargeError } from '../../lambda/core/errors.ts';
import type { TenantLimits, TierName } from '../../lambda/core/config.ts';
import type { AdmissionTicket, Tenant } from '../../lambda/core/ports.ts';
import { DynamoAdmission, shardShare } from '../../lambda/store/admission.ts';
import { NotDurableError } from '../../lambda/store/errors.ts';
import { localDynamoClient, startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { windowItemKey } from '../../lambda/store/usage-items.ts';
import { decodeCounts } from '../../lambda/store/window-counter.ts';
import type { TableNames } from '../../lambda/store/tables.ts';
import { countCalls, faultSwitch, freshTables, manualClock, seededRandom } from './helpers.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

/** What a request used: `n` tokens, at price factor 1 as many cost units. */
const usedTokens = (n: number) => ({ tokens: n, costUnits: n });

let store: EmbeddedDynamo;
let names: TableNames;
let tenantSeq = 0;
const quiet = { logger: silentLogger, baseDelayMs: 1, maxDelayMs: 5, maxDrainPasses: 3 };

beforeAll(async () => {
  store = await startEmbeddedDynamo();
  names = await freshTables(store);
});
afterAll(async () => {
  await store.close();
});

function tenant(limits: Partial<Record<TierName, TenantLimits>>): Tenant {
  tenantSeq += 1;
  return { id: `t${tenantSeq}`, tiers: ['priority', 'default'], limits, disabled: false };
}

async function counts(t: Tenant, tier: TierName, nowMs: number, shard = 0) {
  const out = await store.client.send(new GetItemCommand({ TableName: names.usage, Key: windowItemKey(t.id, tier, shard, nowMs), ConsistentRead: true }));
  return decodeCounts(out.Item);
}

async function settleAll(results: PromiseSettledResult<AdmissionTicket>[]) {
  const ok = results.filter((r): r is PromiseFulfilledResult<AdmissionTicket> => r.status === 'fulfilled');
  const refused = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected').map((r) => r.reason as unknown);
  return { ok: ok.map((r) => r.value), refused };
}

describe('DynamoAdmission', () => {
  it('admits exactly rpm out of 120 concurrent requests; the rest get RateLimitError with retry-after to the minute end', async () => {
    const clock = manualClock(); // 12:00:10
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { rpm: 50 } });
    const results = await Promise.allSettled(
      Array.from({ length: 120 }, (_, i) => admission.admit({ requestId: `r${i}`, tenant: t, tier: 'priority', reserveTokens: 100 })),
    );
    const { ok, refused } = await settleAll(results);
    expect(ok).toHaveLength(50);
    expect(refused).toHaveLength(70);
    for (const e of refused) {
      expect(e).toBeInstanceOf(RateLimitError);
      expect((e as RateLimitError).retryAfterMs).toBe(50_000);
      expect((e as RateLimitError).message).toContain('RPM');
    }
    expect((await counts(t, 'priority', clock.now())).req).toBe(50);
    const remaining = ok.map((tk) => tk.rateLimit.remainingRequests).sort((a, b) => a! - b!);
    expect(remaining[0]).toBe(0);
    expect(ok[0]!.rateLimit.limitRequests).toBe(50);
    expect(ok[0]!.rateLimit.resetRequestsMs).toBe(50_000);
  });

  it('coalesces concurrent exact admissions into few conditional updates, with exact counters', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { rpm: 1000, tpm: 1_000_000 } });
    await admission.admit({ requestId: 'warm', tenant: t, tier: 'priority', reserveTokens: 10 }); // rolls the minute
    const calls = countCalls(store.client);
    calls.reset();
    const tickets = await Promise.all(Array.from({ length: 40 }, (_, i) => admission.admit({ requestId: `r${i}`, tenant: t, tier: 'priority', reserveTokens: 10 + i })));
    expect(tickets).toHaveLength(40);
    // The first goes alone; the 39 that arrived while it was in flight go in one update.
    expect(calls.total()).toBe(2);
    const c = await counts(t, 'priority', clock.now());
    expect(c.req).toBe(41);
    expect(c.tok).toBe(10 + Array.from({ length: 40 }, (_, i) => 10 + i).reduce((a, b) => a + b, 0));
  });

  it('a coalesced group that does not fit after all (another instance spent the room) is admitted one by one: exactly the room is used', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const other = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { rpm: 1000, tpm: 1000 } });
    await admission.admit({ requestId: 'warm', tenant: t, tier: 'priority', reserveTokens: 100 }); // seen: 900 tokens left
    await other.admit({ requestId: 'elsewhere', tenant: t, tier: 'priority', reserveTokens: 600 }); // 300 left in truth
    const calls = countCalls(store.client);
    calls.reset();
    const results = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => admission.admit({ requestId: `r${i}`, tenant: t, tier: 'priority', reserveTokens: 50 })));
    const { ok, refused } = await settleAll(results);
    expect(ok).toHaveLength(6);
    expect(refused).toHaveLength(2);
    for (const e of refused) expect((e as RateLimitError).message).toContain('TPM');
    expect((await counts(t, 'priority', clock.now())).tok).toBe(1000);
    // The first alone, the other seven as one group (refused: 350 > 250), then each on its own.
    expect(calls.byOp.get('UpdateItemCommand')).toBeGreaterThanOrEqual(9);
  });

  it('before anything is known of the window, concurrent admissions go at once (no waiting on each other)', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { monthlyTokens: 300 } });
    let inFlight = 0;
    let most = 0;
    const name = `in-flight-${Math.random()}`;
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName !== 'UpdateItemCommand') return next(args);
        most = Math.max(most, ++inFlight);
        try {
          return await next(args);
        } finally {
          inFlight -= 1;
        }
      },
      { step: 'initialize', name },
    );
    try {
      const results = await Promise.allSettled(Array.from({ length: 3 }, (_, i) => admission.admit({ requestId: `r${i}`, tenant: t, tier: 'priority', reserveTokens: 192 })));
      const { ok, refused } = await settleAll(results);
      expect(ok).toHaveLength(1);
      expect(refused).toHaveLength(2);
      expect(most).toBe(3); // all three updates in flight together, as without coalescing
    } finally {
      store.client.middlewareStack.remove(name);
    }
  });

  it('admitsLikely counts each request it is asked about: a burst of early starts stops at the margin', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { rpm: 100 } });
    const req = (i: number) => ({ requestId: `r${i}`, tenant: t, tier: 'priority' as const, reserveTokens: 10 });
    await admission.admit(req(0)); // 99 left
    const answers = Array.from({ length: 100 }, (_, i) => admission.admitsLikely(req(i + 1)));
    expect(answers.filter(Boolean)).toHaveLength(89); // down to 10 left: a tenth of the limit
    expect(answers.slice(0, 89).every(Boolean)).toBe(true);
    await admission.admit(req(200)); // a fresh answer from the store replaces the estimate: 98 left
    expect(admission.admitsLikely(req(201))).toBe(true);
  });

  it('admitsLikely: only after an admission that left a tenth of every limit, in the same window', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { rpm: 10, tpm: 10_000 } });
    const req = (i: number, tokens = 100) => ({ requestId: `r${i}`, tenant: t, tier: 'priority' as const, reserveTokens: tokens });
    expect(admission.admitsLikely(req(0))).toBe(false);
    await admission.admit(req(1));
    expect(admission.admitsLikely(req(2))).toBe(true); // 9 of 10 requests, 9900 of 10000 tokens left
    await admission.admit(req(3, 8950)); // 950 tokens left: under a tenth of the TPM
    expect(admission.admitsLikely(req(4))).toBe(false);
    clock.advance(60_000);
    await admission.admit(req(5));
    expect(admission.admitsLikely(req(6))).toBe(true);
    clock.advance(60_000); // a new minute: what was seen says nothing about it
    expect(admission.admitsLikely(req(7))).toBe(false);
    const unlimited = tenant({});
    expect(admission.admitsLikely({ requestId: 'u', tenant: unlimited, tier: 'priority', reserveTokens: 1 })).toBe(false);
  });

  it('opens a new window at the next minute', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ default: { rpm: 2 } });
    const admit = () => admission.admit({ requestId: 'x', tenant: t, tier: 'default', reserveTokens: 1 });
    await admit();
    await admit();
    await expect(admit()).rejects.toBeInstanceOf(RateLimitError);
    clock.advance(50_000);
    const ticket = await admit();
    expect(ticket.rateLimit.remainingRequests).toBe(1);
    expect(ticket.rateLimit.resetRequestsMs).toBe(60_000);
  });

  it('reconciles token reservations with real usage on settle', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { tpm: 10_000, monthlyTokens: 1_000_000 } });
    const tickets = await Promise.all(
      Array.from({ length: 10 }, (_, i) => admission.admit({ requestId: `r${i}`, tenant: t, tier: 'priority', reserveTokens: 900 })),
    );
    expect((await counts(t, 'priority', clock.now())).tok).toBe(9000);
    await expect(admission.admit({ requestId: 'big', tenant: t, tier: 'priority', reserveTokens: 1001 })).rejects.toBeInstanceOf(RateLimitError);
    const used = [10, 20, 30, 40, 50, 60, 70, 80, 90, 900];
    tickets.forEach((tk, i) => tk.settle(usedTokens(used[i]!)));
    tickets[0]!.settle(usedTokens(5000)); // a second settle is ignored
    await admission.drain();
    const c = await counts(t, 'priority', clock.now());
    const real = used.reduce((a, b) => a + b, 0);
    expect(c.tok).toBe(real);
    expect(c.mon).toBe(real);
    // The freed tokens are admissible again within the same minute.
    await admission.admit({ requestId: 'after', tenant: t, tier: 'priority', reserveTokens: 10_000 - real });
  });

  it('monthly budgets count cost units: the tier\'s price factor at admission, the served tier\'s when settled; minute limits count tokens', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { tpm: 10_000, monthlyTokens: 1000 } });
    // 300 tokens at price factor 2 reserve 600 of the 1000 cost units, and 300 of the 10,000 tokens a minute.
    const tk = await admission.admit({ requestId: 'a', tenant: t, tier: 'priority', reserveTokens: 300, priceFactor: 2 });
    expect(await counts(t, 'priority', clock.now())).toMatchObject({ tok: 300, mon: 600 });
    // A second one does not fit the month (600 + 600 > 1000), though it fits the minute.
    await expect(admission.admit({ requestId: 'b', tenant: t, tier: 'priority', reserveTokens: 300, priceFactor: 2 })).rejects.toBeInstanceOf(InsufficientQuotaError);
    // Served at a fallback tier of factor 1: it used 200 tokens, 200 cost units.
    tk.settle({ tokens: 200, costUnits: 200 });
    await admission.drain();
    expect(await counts(t, 'priority', clock.now())).toMatchObject({ tok: 200, mon: 200 });
    // A request too large for the budget at its price is told so, in cost units.
    const err = await Promise.resolve().then(() => admission.admit({ requestId: 'c', tenant: t, tier: 'priority', reserveTokens: 600, priceFactor: 2 })).catch((e: unknown) => e);
    expect((err as Error).message).toBe('Request too large for the monthly budget on tier priority: Limit 1000 cost units, Requested 1200. The input or output tokens must be reduced in order to run successfully.');
  });

  it('lease mode keeps the month exact in cost units at a price factor', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, leaseSize: () => ({ requests: 10, tokens: 1000 }), adjustments: quiet });
    const t = tenant({ default: { rpm: 100, tpm: 10_000, monthlyTokens: 100_000 } });
    const first = await admission.admit({ requestId: 'a', tenant: t, tier: 'default', reserveTokens: 300, priceFactor: 1.5 });
    first.settle({ tokens: 100, costUnits: 150 });
    const second = await admission.admit({ requestId: 'b', tenant: t, tier: 'default', reserveTokens: 300, priceFactor: 1.5 });
    second.settle({ tokens: 300, costUnits: 450 });
    await admission.releaseLeases();
    expect(await counts(t, 'default', clock.now())).toMatchObject({ req: 2, tok: 400, mon: 600 });
  });

  it('settles only the month once the minute is over', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { tpm: 1000, monthlyTokens: 100_000 } });
    const tk = await admission.admit({ requestId: 'a', tenant: t, tier: 'priority', reserveTokens: 800 });
    clock.advance(60_000);
    await admission.admit({ requestId: 'b', tenant: t, tier: 'priority', reserveTokens: 100 });
    tk.settle(usedTokens(300));
    await admission.drain();
    const c = await counts(t, 'priority', clock.now());
    expect(c.tok).toBe(100);
    expect(c.mon).toBe(400);
  });

  it('a refusal for tokens consumes no request (and vice versa)', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { rpm: 3, tpm: 1000 } });
    await admission.admit({ requestId: 'a', tenant: t, tier: 'priority', reserveTokens: 900 });
    const err = await Promise.resolve(admission.admit({ requestId: 'b', tenant: t, tier: 'priority', reserveTokens: 200 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(RateLimitError);
    expect((err as RateLimitError).message).toContain('TPM');
    expect(await counts(t, 'priority', clock.now())).toMatchObject({ req: 1, tok: 900 });
    await admission.admit({ requestId: 'c', tenant: t, tier: 'priority', reserveTokens: 50 });
    await admission.admit({ requestId: 'd', tenant: t, tier: 'priority', reserveTokens: 50 });
    const err2 = await Promise.resolve(admission.admit({ requestId: 'e', tenant: t, tier: 'priority', reserveTokens: 0 })).catch((e: unknown) => e);
    expect((err2 as RateLimitError).message).toContain('RPM');
    expect(await counts(t, 'priority', clock.now())).toMatchObject({ req: 3, tok: 1000 });
  });

  it('refuses a spent monthly budget with InsufficientQuotaError, without consuming the minute', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ default: { rpm: 100, monthlyTokens: 1000 } });
    const first = await admission.admit({ requestId: 'a', tenant: t, tier: 'default', reserveTokens: 600 });
    const err = await Promise.resolve(admission.admit({ requestId: 'b', tenant: t, tier: 'default', reserveTokens: 600 })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InsufficientQuotaError);
    expect((err as InsufficientQuotaError).headers['x-should-retry']).toBe('false');
    expect(await counts(t, 'default', clock.now())).toMatchObject({ req: 1, mon: 600 });
    await expect(admission.admit({ requestId: 'huge', tenant: t, tier: 'default', reserveTokens: 5000 })).rejects.toBeInstanceOf(InsufficientQuotaError);
    first.settle(usedTokens(200));
    await admission.drain();
    await admission.admit({ requestId: 'c', tenant: t, tier: 'default', reserveTokens: 600 });
    await expect(admission.admit({ requestId: 'd', tenant: t, tier: 'default', reserveTokens: 300 })).rejects.toBeInstanceOf(InsufficientQuotaError);
    clock.set(Date.UTC(2025, 6, 1, 0, 0, 5)); // next month: a fresh budget
    await admission.admit({ requestId: 'e', tenant: t, tier: 'default', reserveTokens: 900 });
  });

  it('month-only budgets work without minute counters', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { monthlyTokens: 500 } });
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => admission.admit({ requestId: `r${i}`, tenant: t, tier: 'priority', reserveTokens: 100 })),
    );
    const { ok, refused } = await settleAll(results);
    expect(ok).toHaveLength(5);
    expect(refused.every((e) => e instanceof InsufficientQuotaError)).toBe(true);
    expect(await counts(t, 'priority', clock.now())).toMatchObject({ minute: undefined, mon: 500 });
  });

  it('sharded counters never over-admit and fill every shard', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, shards: 4, random: seededRandom(7), adjustments: quiet });
    const t = tenant({ priority: { rpm: 50, tpm: 100_000 } });
    const results = await Promise.allSettled(
      Array.from({ length: 120 }, (_, i) => admission.admit({ requestId: `r${i}`, tenant: t, tier: 'priority', reserveTokens: 10 })),
    );
    const { ok, refused } = await settleAll(results);
    let sum = 0;
    for (let k = 0; k < 4; k++) {
      const c = await counts(t, 'priority', clock.now(), k);
      expect(c.req).toBeLessThanOrEqual(shardShare(50, 4, k));
      sum += c.req;
    }
    expect(sum).toBe(ok.length);
    expect(ok.length).toBeLessThanOrEqual(50);
    expect(ok.length).toBe(50);
    expect(refused.every((e) => e instanceof RateLimitError)).toBe(true);
    expect([0, 1, 2, 3].map((k) => shardShare(50, 4, k))).toEqual([13, 13, 12, 12]);
  });

  it('lease mode across two instances never over-admits, and returned leases leave exact counters', async () => {
    const clock = manualClock();
    const other = localDynamoClient(store.endpoint);
    const callsA = countCalls(store.client);
    const leaseSize = () => ({ requests: 8, tokens: 800 });
    const a = new DynamoAdmission(store.client, names.usage, { now: clock.now, leaseSize, adjustments: quiet });
    const b = new DynamoAdmission(other, names.usage, { now: clock.now, leaseSize, adjustments: quiet });
    const t = tenant({ priority: { rpm: 50, tpm: 5000, monthlyTokens: 1_000_000 } });
    callsA.reset();
    const admitOn = (n: number, from: number) =>
      Promise.allSettled(Array.from({ length: n }, (_, i) => (i % 2 ? a : b).admit({ requestId: `r${from + i}`, tenant: t, tier: 'priority', reserveTokens: 100 })));
    const light = await settleAll(await admitOn(30, 0));
    expect(light.ok).toHaveLength(30);
    expect(callsA.total()).toBeLessThanOrEqual(6); // 15 admissions on A: two blocks of 8, a roll race at most
    const heavy = await settleAll(await admitOn(90, 30));
    const ok = [...light.ok, ...heavy.ok];
    const refused = heavy.refused;
    expect(ok.length).toBeLessThanOrEqual(50);
    expect(ok.length).toBeGreaterThanOrEqual(40);
    expect(refused.every((e) => e instanceof RateLimitError)).toBe(true);
    expect((await counts(t, 'priority', clock.now())).req).toBeLessThanOrEqual(50);
    await a.releaseLeases();
    await b.releaseLeases();
    const c = await counts(t, 'priority', clock.now());
    expect(c.req).toBe(ok.length);
    expect(c.tok).toBe(ok.length * 100);
    expect(c.mon).toBe(ok.length * 100);
    // What the leases gave back is admissible, and no more.
    const plain = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const rest = await Promise.allSettled(
      Array.from({ length: 20 }, (_, i) => plain.admit({ requestId: `p${i}`, tenant: t, tier: 'priority', reserveTokens: 100 })),
    );
    expect(rest.filter((r) => r.status === 'fulfilled')).toHaveLength(50 - ok.length);
    other.destroy();
  });

  it('lease tokens freed by settle are reused locally; expired leases return their tokens to the month', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, leaseSize: () => ({ requests: 10, tokens: 1000 }), adjustments: quiet });
    const t = tenant({ default: { rpm: 100, tpm: 10_000, monthlyTokens: 100_000 } });
    const calls = countCalls(store.client);
    calls.reset();
    const first = await admission.admit({ requestId: 'a', tenant: t, tier: 'default', reserveTokens: 600 });
    first.settle(usedTokens(100)); // 500 back into the lease
    const second = await admission.admit({ requestId: 'b', tenant: t, tier: 'default', reserveTokens: 800 });
    expect(calls.total()).toBe(1);
    second.settle(usedTokens(800));
    clock.advance(60_000);
    await admission.admit({ requestId: 'c', tenant: t, tier: 'default', reserveTokens: 100 });
    await admission.drain();
    const c = await counts(t, 'default', clock.now());
    expect(c.mon).toBe(100 + 800 + 1000); // used by a and b, plus the new minute's lease block
  });

  it('a request that used more than it reserved settles from its lease, with no DynamoDB call, and stays exact', async () => {
    const clock = manualClock();
    const client = localDynamoClient(store.endpoint);
    const admission = new DynamoAdmission(client, names.usage, { now: clock.now, leaseSize: () => ({ requests: 10, tokens: 1000 }), adjustments: quiet });
    const t = tenant({ default: { rpm: 100, tpm: 10_000, monthlyTokens: 100_000 } });
    const calls = countCalls(client);
    for (let i = 0; i < 5; i += 1) (await admission.admit({ requestId: `r${i}`, tenant: t, tier: 'default', reserveTokens: 50 })).settle(usedTokens(70));
    await admission.drain();
    expect(calls.total()).toBe(1); // the lease block, nothing per request
    await admission.releaseLeases();
    const c = await counts(t, 'default', clock.now());
    expect(c.mon).toBe(5 * 70);
    expect(c.tok).toBe(5 * 70);
    client.destroy();
  });

  it('never gives a shard a share of 0: more shards than the limit still admit up to the limit', async () => {
    const admission = new DynamoAdmission(store.client, names.usage, { shards: 16, random: seededRandom(3), adjustments: quiet });
    for (let i = 0; i < 20; i += 1) {
      const t = tenant({ default: { rpm: 10 } });
      const ticket = await admission.admit({ requestId: `s${i}`, tenant: t, tier: 'default', reserveTokens: 1 });
      expect(ticket.rateLimit.limitRequests).toBe(10);
    }
  });

  it('unlimited tiers cost zero DynamoDB calls', async () => {
    const client = localDynamoClient(store.endpoint);
    const calls = countCalls(client);
    const admission = new DynamoAdmission(client, names.usage, { adjustments: quiet });
    const t = tenant({ priority: { rpm: 5 } });
    for (let i = 0; i < 100; i++) {
      const tk = await admission.admit({ requestId: `r${i}`, tenant: t, tier: 'default', reserveTokens: 1000 });
      expect(tk.rateLimit).toEqual({});
      tk.settle(usedTokens(10));
    }
    const none = tenant({ default: {} });
    (await admission.admit({ requestId: 'n', tenant: none, tier: 'default', reserveTokens: 1 })).settle(usedTokens(1));
    await admission.drain();
    expect(calls.total()).toBe(0);
    client.destroy();
  });

  it('never loses a settle: adjustments survive failures and apply after recovery', async () => {
    const clock = manualClock();
    const client = localDynamoClient(store.endpoint, 1);
    const fault = faultSwitch(client);
    const admission = new DynamoAdmission(client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { tpm: 5000, monthlyTokens: 50_000 } });
    const tickets = await Promise.all([1, 2, 3].map((i) => admission.admit({ requestId: `r${i}`, tenant: t, tier: 'priority', reserveTokens: 1000 })));
    fault.on = true;
    tickets.forEach((tk) => tk.settle(usedTokens(250)));
    const err = await admission.drain().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotDurableError);
    expect(admission.pendingAdjustments).toBe(1); // three settles coalesced into one adjustment
    fault.on = false;
    await admission.drain();
    expect(admission.pendingAdjustments).toBe(0);
    expect(await counts(t, 'priority', clock.now())).toMatchObject({ tok: 750, mon: 750 });
    client.destroy();
  });

  it('refuses a request larger than the per-minute token limit without a call', async () => {
    const client = localDynamoClient(store.endpoint);
    const calls = countCalls(client);
    const admission = new DynamoAdmission(client, names.usage, { adjustments: quiet });
    const t = tenant({ priority: { tpm: 100 } });
    const err = await Promise.resolve(admission.admit({ requestId: 'x', tenant: t, tier: 'priority', reserveTokens: 101 })).catch((e: unknown) => e);
    // It can never fit: OpenAI's type and wording, no retry-after, and the client told not to retry.
    expect(err).toBeInstanceOf(RequestTooLargeError);
    const big = err as RequestTooLargeError;
    expect(big.statusCode).toBe(429);
    expect(big.toJSON().error).toEqual({
      message: 'Request too large for tier priority on tokens per min (TPM): Limit 100, Requested 101. The input or output tokens must be reduced in order to run successfully.',
      type: 'tokens',
      param: null,
      code: 'rate_limit_exceeded',
    });
    expect(big.headers).toEqual({ 'x-should-retry': 'false', 'x-ratelimit-limit-tokens': '100' });
    expect(calls.total()).toBe(0);
    client.destroy();
  });

  it('words each refusal as OpenAI does, from the counters it was decided on, with the window\'s x-ratelimit headers', async () => {
    const clock = manualClock();
    const admission = new DynamoAdmission(store.client, names.usage, { now: clock.now, adjustments: quiet });
    const t = tenant({ priority: { rpm: 3, tpm: 1000 }, default: { monthlyTokens: 500 } });
    await admission.admit({ requestId: 'a', tenant: t, tier: 'priority', reserveTokens: 700 });
    const tpm = (await Promise.resolve().then(() => admission.admit({ requestId: 'b', tenant: t, tier: 'priority', reserveTokens: 400 })).catch((e: unknown) => e)) as RateLimitError;
    expect(tpm).toBeInstanceOf(RateLimitError);
    expect(tpm.type).toBe('tokens');
    expect(tpm.message).toBe('Rate limit reached on tier priority on tokens per min (TPM): Limit 1000, Used 700, Requested 400. Please try again in 50.0s.');
    expect(tpm.headers).toEqual({
      'retry-after': '50',
      'retry-after-ms': '50000',
      'x-ratelimit-limit-requests': '3',
      'x-ratelimit-remaining-requests': '2',
      'x-ratelimit-reset-requests': '50s',
      'x-ratelimit-limit-tokens': '1000',
      'x-ratelimit-remaining-tokens': '300',
      'x-ratelimit-reset-tokens': '50s',
    });
    await admission.admit({ requestId: 'c', tenant: t, tier: 'priority', reserveTokens: 100 });
    await admission.admit({ requestId: 'd', tenant: t, tier: 'priority', reserveTokens: 100 });
    const rpm = (await Promise.resolve().then(() => admission.admit({ requestId: 'e', tenant: t, tier: 'priority', reserveTokens: 1 })).catch((e: unknown) => e)) as RateLimitError;
    expect(rpm.type).toBe('requests');
    expect(rpm.message).toBe('Rate limit reached on tier priority on requests per min (RPM): Limit 3, Used 3, Requested 1. Please try again in 50.0s.');
    expect(rpm.headers['x-ratelimit-remaining-requests']).toBe('0');
    await admission.admit({ requestId: 'f', tenant: t, tier: 'default', reserveTokens: 450 });
    const month = (await Promise.resolve().then(() => admission.admit({ requestId: 'g', tenant: t, tier: 'default', reserveTokens: 100 })).catch((e: unknown) => e)) as InsufficientQuotaError;
    expect(month).toBeInstanceOf(InsufficientQuotaError);
    expect(month.message).toMatch(/^You exceeded your monthly budget on tier default: Limit 500 cost units, Used 450, Requested 100\. It renews on \d{4}-\d{2}-01\.$/);
    expect(month.headers).toEqual({ 'x-should-retry': 'false' });
  });

  it('tells a request above a counter shard\'s share that it never fits, naming the share', async () => {
    const admission = new DynamoAdmission(store.client, names.usage, { shards: 4, random: seededRandom(5), adjustments: quiet });
    const t = tenant({ priority: { tpm: 2000 } });
    const err = (await Promise.resolve().then(() => admission.admit({ requestId: 'x', tenant: t, tier: 'priority', reserveTokens: 600 })).catch((e: unknown) => e)) as RequestTooLargeError;
    expect(err).toBeInstanceOf(RequestTooLargeError);
    expect(err.message).toBe('Request too large for tier priority on tokens per min (TPM): Limit 2000 (500 on each counter shard), Requested 600. The input or output tokens must be reduced in order to run successfully.');
    expect(err.headers['x-should-retry']).toBe('false');
    expect(err.headers['retry-after']).toBeUndefined();
  });
});
