import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { UsageRecord } from '../../lambda/core/ports.ts';
import { NotDurableError } from '../../lambda/store/errors.ts';
import { DynamoUsageMeter, MAX_PACKED_BYTES, RECORDS_PER_ITEM, decodeUsageItem, packUsageRecords } from '../../lambda/store/usage-meter.ts';
import { usageRecords, usageReport } from '../../lambda/store/usage-report.ts';
import type { TableNames } from '../../lambda/store/tables.ts';
import { localDynamoClient, startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { countCalls, faultSwitch, freshTables } from './helpers.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

let store: EmbeddedDynamo;
let names: TableNames;
const quiet = silentLogger;
const JUNE = Date.UTC(2025, 5, 15, 12, 0, 0);

beforeAll(async () => {
  store = await startEmbeddedDynamo();
  names = await freshTables(store);
});
afterAll(async () => {
  await store.close();
});

function rec(tenantId: string, i: number, over: Partial<UsageRecord> = {}): UsageRecord {
  return {
    requestId: `${tenantId}-req-${i}`,
    tenantId,
    tierAsked: 'priority',
    tierServed: i % 3 === 0 ? 'default' : 'priority',
    route: 'disaggregated',
    pools: ['trn-prefill', 'cs3-decode'],
    model: 'llama-3.1-8b',
    promptTokens: 100 + i,
    completionTokens: 10 + i,
    ttftMs: i % 5 === 0 ? null : 12.5,
    tpotMs: i % 5 === 0 ? null : 3.1,
    sloMet: i % 5 === 0 ? null : i % 2 === 0,
    costUnits: (110 + 2 * i) * (i % 3 === 0 ? 1 : 2),
    totalMs: 80,
    outcome: i % 7 === 0 ? 'aborted' : i % 11 === 0 ? 'error' : 'ok',
    startedAt: JUNE + i * 1000,
    ...over,
  };
}

/** A TCP port with nothing listening (yet). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** Forwards `port` to the store, from now on. */
async function proxy(port: number, target: number): Promise<Server> {
  const sockets = new Set<Socket>();
  const server = createServer((inbound) => {
    const outbound = connect(target, '127.0.0.1');
    sockets.add(inbound).add(outbound);
    inbound.pipe(outbound).pipe(inbound);
    inbound.on('error', () => outbound.destroy());
    outbound.on('error', () => inbound.destroy());
  });
  server.on('close', () => sockets.forEach((s) => s.destroy()));
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return server;
}

describe('DynamoUsageMeter', () => {
  it('writes every record and the daily per-tier aggregates on flush', async () => {
    const meter = new DynamoUsageMeter(store.client, names.usage, { logger: quiet, flushIntervalMs: 0, flushAtRecords: 1000 });
    const acme = Array.from({ length: 110 }, (_, i) => rec('acme', i));
    const beta = Array.from({ length: 7 }, (_, i) => rec('beta', i));
    [...acme, ...beta].forEach((r) => meter.record(r));
    await meter.flush();
    expect(meter.pending).toBe(0);
    const back = await usageRecords(store.client, names.usage, 'acme', JUNE);
    expect(back).toHaveLength(110);
    expect(back.find((r) => r.requestId === 'acme-req-5')).toEqual(acme[5]);
    expect(back.find((r) => r.requestId === 'acme-req-7')?.outcome).toBe('aborted');
    expect(await usageRecords(store.client, names.usage, 'beta', JUNE)).toHaveLength(7);

    const report = await usageReport(store.client, names.usage, 'acme', '2025-06-01', '2025-06-30');
    const sum = (rs: UsageRecord[], f: (r: UsageRecord) => number) => rs.reduce((a, r) => a + f(r), 0);
    const served = (tier: string) => acme.filter((r) => r.tierServed === tier);
    expect(report.tiers.map((t) => t.tier)).toEqual(['default', 'priority']);
    for (const t of report.tiers) {
      expect(t.requests).toBe(served(t.tier).length);
      expect(t.promptTokens).toBe(sum(served(t.tier), (r) => r.promptTokens));
      expect(t.completionTokens).toBe(sum(served(t.tier), (r) => r.completionTokens));
      expect(t.aborted).toBe(served(t.tier).filter((r) => r.outcome === 'aborted').length);
      expect(t.errors).toBe(served(t.tier).filter((r) => r.outcome === 'error').length);
    }
    expect((await usageReport(store.client, names.usage, 'acme', '2025-07-01', '2025-07-31')).tiers).toEqual([]);
  });

  it('keeps records through an unreachable store and writes them all after recovery', async () => {
    const port = await closedPort();
    const client = localDynamoClient(`http://127.0.0.1:${port}`, 1);
    const meter = new DynamoUsageMeter(client, names.usage, { logger: quiet, flushIntervalMs: 0, flushAtRecords: 1000, baseDelayMs: 1 });
    const records = Array.from({ length: 60 }, (_, i) => rec('gamma', i));
    records.forEach((r) => meter.record(r));
    const err = await meter.flush().catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NotDurableError);
    expect(meter.pending).toBeGreaterThanOrEqual(60);
    meter.record(rec('gamma', 60));
    const server = await proxy(port, store.port);
    try {
      await meter.flush();
      expect(meter.pending).toBe(0);
      expect(await usageRecords(store.client, names.usage, 'gamma', JUNE)).toHaveLength(61);
      const report = await usageReport(store.client, names.usage, 'gamma', '2025-06-15', '2025-06-15');
      expect(report.tiers.reduce((a, t) => a + t.requests, 0)).toBe(61);
    } finally {
      client.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });

  it('survives failing flushes without loss and without double-counting aggregates', async () => {
    const client = localDynamoClient(store.endpoint, 1);
    const calls = countCalls(client);
    const fault = faultSwitch(client);
    const meter = new DynamoUsageMeter(client, names.usage, { logger: quiet, flushIntervalMs: 0, flushAtRecords: 1000 });
    Array.from({ length: 30 }, (_, i) => rec('delta', i)).forEach((r) => meter.record(r));
    await meter.flush();
    fault.on = true;
    Array.from({ length: 40 }, (_, i) => rec('delta', 30 + i)).forEach((r) => meter.record(r));
    await expect(meter.flush()).rejects.toBeInstanceOf(NotDurableError);
    await expect(meter.flush()).rejects.toBeInstanceOf(NotDurableError);
    fault.on = false;
    await meter.flush();
    expect(await usageRecords(store.client, names.usage, 'delta', JUNE)).toHaveLength(70);
    const report = await usageReport(store.client, names.usage, 'delta', '2025-06-01', '2025-06-30');
    expect(report.tiers.reduce((a, t) => a + t.requests, 0)).toBe(70);
    expect(calls.byOp.get('BatchWriteItemCommand')).toBeGreaterThan(0);
    client.destroy();
  });

  it('flushes in the background when the buffer fills', async () => {
    const meter = new DynamoUsageMeter(store.client, names.usage, { logger: quiet, flushIntervalMs: 0, flushAtRecords: 10 });
    Array.from({ length: 10 }, (_, i) => rec('eps', i)).forEach((r) => meter.record(r));
    for (let i = 0; i < 100 && meter.pending > 0; i++) await new Promise((r) => setTimeout(r, 20));
    expect(meter.pending).toBe(0);
    expect(await usageRecords(store.client, names.usage, 'eps', JUNE)).toHaveLength(10);
  });
});

describe('packed usage items', () => {
  it('pack rows that decode back to the same records, at most RECORDS_PER_ITEM per item', () => {
    const records = Array.from({ length: RECORDS_PER_ITEM + 7 }, (_, i) => rec('delta', i));
    const items = packUsageRecords(records, 30);
    expect(items.map((p) => p.count)).toEqual([RECORDS_PER_ITEM, 7]);
    expect(items.flatMap((p) => decodeUsageItem(p.item))).toEqual(records);
    // Rows, not objects: field names appear once per item, not once per record; gzipped.
    const rows = gunzipSync(items[1]!.item.records!.B!).toString('utf8');
    expect(rows.includes('requestId')).toBe(false);
    expect(JSON.parse(rows)).toHaveLength(7);
    const full = items[0]!.item.records!.B!.length;
    expect(full).toBeLessThan(JSON.stringify(records.slice(0, RECORDS_PER_ITEM)).length / 4);
  });

  it('splits a pack whose gzipped rows would be too large for one item (long names in the config)', () => {
    // 1000 records naming 1000 different 800-character pools: ~400 incompressible bytes a row.
    const records = Array.from({ length: RECORDS_PER_ITEM }, (_, i) => rec('zeta', i, { pools: [randomBytes(400).toString('hex')] }));
    const items = packUsageRecords(records, 30);
    expect(items.length).toBeGreaterThan(1);
    for (const { item } of items) expect(item.records!.B!.length).toBeLessThanOrEqual(MAX_PACKED_BYTES);
    expect(items.reduce((n, p) => n + p.count, 0)).toBe(RECORDS_PER_ITEM);
    expect(items.flatMap((p) => decodeUsageItem(p.item))).toEqual(records);
  });

  it('still reads items written before gzip: record objects, or rows in a string', () => {
    const records = [rec('eps', 1), rec('eps', 2)];
    expect(decodeUsageItem({ records: { S: JSON.stringify(records) } })).toEqual(records);
    const [packed] = packUsageRecords(records, 30);
    const rowsText = gunzipSync(packed!.item.records!.B!).toString('utf8');
    expect(decodeUsageItem({ ...packed!.item, records: { S: rowsText } })).toEqual(records);
  });
});
