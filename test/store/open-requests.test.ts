import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { hostname } from 'node:os';
import { GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OpenRequest, Tenant, UsageRecord } from '../../lambda/core/ports.ts';
import { DynamoAdmission } from '../../lambda/store/admission.ts';
import { deadLocalInstance, interruptedRecord, newInstanceId, OPEN_REQUEST_DEADLINE_MS, OpenRequestJournal, sweepAtStart, sweepOpenRequests } from '../../lambda/store/open-requests.ts';
import type { TableNames } from '../../lambda/store/tables.ts';
import { OPEN_PARTITIONS, openItemPk, windowItemKey } from '../../lambda/store/usage-items.ts';
import { DynamoUsageMeter } from '../../lambda/store/usage-meter.ts';
import { usageRecords, usageReport } from '../../lambda/store/usage-report.ts';
import { localDynamoClient, startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { countCalls, faultSwitch, freshTables } from './helpers.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

let store: EmbeddedDynamo;
const quiet = silentLogger;

beforeAll(async () => {
  store = await startEmbeddedDynamo();
});
afterAll(async () => {
  await store.close();
});

/** The pid of a process that has exited: an instance id of this host with it is a dead instance. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', '']);
  await once(child, 'exit');
  return child.pid!;
}

function marker(tenantId: string, i: number, startedAt = Date.now()): OpenRequest {
  return {
    requestId: `${tenantId}-r${i}`,
    tenantId,
    tierAsked: 'auto',
    tierServed: 'priority',
    route: 'aggregated',
    pools: ['gpu'],
    model: 'llama-3.1-8b',
    promptTokens: 20,
    reservedTokens: 120,
    reservedCost: 240,
    startedAt,
  };
}

function okRecord(m: OpenRequest): UsageRecord {
  return { ...interruptedRecord(m), completionTokens: 7, costUnits: 54, ttftMs: 10, totalMs: 30, outcome: 'ok' };
}

/** Every marker item in the table (all partitions). */
async function markerItems(names: TableNames): Promise<number> {
  let n = 0;
  for (let p = 0; p < OPEN_PARTITIONS; p++) {
    const out = await store.client.send(new QueryCommand({ TableName: names.usage, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: openItemPk(p) } } }));
    n += out.Items?.length ?? 0;
  }
  return n;
}

describe('open-request journal', () => {
  it('writes the markers opened together in one item, and deletes it once their records are durable', async () => {
    const names = await freshTables(store);
    const calls = countCalls(store.client);
    const journal = new OpenRequestJournal(store.client, names.usage, { logger: quiet });
    const meter = new DynamoUsageMeter(store.client, names.usage, { logger: quiet, flushIntervalMs: 0, onDurable: (ids) => journal.recorded(ids) });
    const markers = Array.from({ length: 20 }, (_, i) => marker('grp', i));
    const handles = markers.map((m) => journal.open(m));
    await Promise.all(handles.map((h) => h.ready()));
    expect(calls.byOp.get('PutItemCommand')).toBe(1);
    expect(await markerItems(names)).toBe(1);
    expect(journal.openCount).toBe(20);

    // Half the records durable: the item stays (its other requests are still open).
    for (const m of markers.slice(0, 10)) meter.record(okRecord(m));
    await meter.flush();
    await journal.flush();
    expect(await markerItems(names)).toBe(1);
    for (const m of markers.slice(10)) meter.record(okRecord(m));
    await meter.flush();
    await journal.flush();
    expect(await markerItems(names)).toBe(0);
    expect(journal.openCount).toBe(0);
    expect(calls.byOp.get('BatchWriteItemCommand')).toBe(3); // two record flushes, one delete
  });

  it('group commit: a marker is written as its request starts, and those opened during that write share the next one', async () => {
    const names = await freshTables(store);
    const calls = countCalls(store.client);
    const journal = new OpenRequestJournal(store.client, names.usage, { logger: quiet });
    const first = journal.open(marker('gc', 1));
    await Promise.resolve(); // this turn's opens have joined: its write is in flight
    expect(calls.byOp.get('PutItemCommand')).toBe(1);
    const next = [2, 3, 4].map((i) => journal.open(marker('gc', i)));
    expect(new Set(next).size).toBe(1);
    await first.ready();
    await journal.flush(); // no ready() for the second group: it went when the first write ended
    expect(calls.byOp.get('PutItemCommand')).toBe(2);
    expect(await markerItems(names)).toBe(2);
  });

  it('writes a group when one of its requests is ready or its gather window ends, and no marker for requests recorded before that', async () => {
    const names = await freshTables(store);
    const calls = countCalls(store.client);
    const journal = new OpenRequestJournal(store.client, names.usage, { logger: quiet, gatherMs: 20 });
    const first = journal.open(marker('seq', 1));
    const written = first.ready(); // ready to answer: written at once, alone
    const second = [journal.open(marker('seq', 2)), journal.open(marker('seq', 3))];
    expect(second[0]).not.toBe(first);
    const gone = journal.open(marker('seq', 4));
    expect(second[0]).toBe(gone);
    journal.recorded(['seq-r4']);
    await written;
    expect(calls.byOp.get('PutItemCommand')).toBe(1);
    await new Promise((r) => setTimeout(r, 60)); // the second group's window ends: written without ready()
    expect(calls.byOp.get('PutItemCommand')).toBe(2);
    journal.open(marker('seq', 5));
    journal.recorded(['seq-r5']);
    await new Promise((r) => setTimeout(r, 60));
    await journal.flush();
    expect(calls.byOp.get('PutItemCommand')).toBe(2); // r5 was recorded before its group's write
    const all: string[] = [];
    for (let p = 0; p < OPEN_PARTITIONS; p++) {
      const out = await store.client.send(new QueryCommand({ TableName: names.usage, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: openItemPk(p) } } }));
      for (const item of out.Items ?? []) all.push(...(JSON.parse(item.entries!.S!) as unknown[][]).map((row) => String(row[0])));
    }
    expect(all.sort()).toEqual(['seq-r1', 'seq-r2', 'seq-r3']);
  });
});

describe('open-request sweep', () => {
  it("bills a dead instance's open requests once, at their reservation, which the window holds; skips those already recorded and live ones", async () => {
    const names = await freshTables(store);
    const tenant: Tenant = { id: 'acme', tiers: ['priority'], limits: { priority: { monthlyTokens: 1_000_000 } }, disabled: false };
    const admission = new DynamoAdmission(store.client, names.usage);
    const dead = new OpenRequestJournal(store.client, names.usage, { logger: quiet, instanceId: `${hostname()}/${await deadPid()}/dead` });
    const live = new OpenRequestJournal(store.client, names.usage, { logger: quiet });
    expect(deadLocalInstance(dead.instanceId)).toBe(true);
    expect(deadLocalInstance(live.instanceId)).toBe(false);
    const markers = [0, 1, 2].map((i) => marker('acme', i));
    for (const m of markers) await admission.admit({ requestId: m.requestId, tenant, tier: 'priority', reserveTokens: m.reservedTokens, priceFactor: 2 });
    const opened = markers.map((m) => dead.open(m));
    await Promise.all(opened.map((h) => h.ready()));
    await live.open(marker('acme', 9)).ready();
    // r0's record was written before the kill, its marker not yet deleted.
    const meter = new DynamoUsageMeter(store.client, names.usage, { logger: quiet, flushIntervalMs: 0 });
    meter.record(okRecord(markers[0]!));
    await meter.flush();

    const report = await sweepOpenRequests(store.client, names.usage, { isDead: deadLocalInstance, logger: quiet });
    expect(report).toEqual({ items: 1, markers: 3, interrupted: 2, alreadyRecorded: 1 });
    const records = await usageRecords(store.client, names.usage, 'acme', Date.now());
    expect(records.map((r) => [r.requestId, r.outcome]).sort()).toEqual([['acme-r0', 'ok'], ['acme-r1', 'interrupted'], ['acme-r2', 'interrupted']]);
    const billed = records.find((r) => r.requestId === 'acme-r1')!;
    expect(billed).toMatchObject({ promptTokens: 20, completionTokens: 100, costUnits: 240, tierServed: 'priority', ttftMs: null, sloMet: null });
    // The month window holds the three reservations (settle never ran): 3 × 240 cost units.
    const win = await store.client.send(new GetItemCommand({ TableName: names.usage, Key: windowItemKey('acme', 'priority', 0, Date.now()), ConsistentRead: true }));
    expect(Number(win.Item!.mon!.N)).toBe(3 * 240);
    // The live request's marker is untouched.
    expect(await markerItems(names)).toBe(1);

    // A second sweep finds nothing: still one record per request, aggregates counted once.
    expect(await sweepOpenRequests(store.client, names.usage, { isDead: deadLocalInstance, logger: quiet })).toEqual({ items: 0, markers: 0, interrupted: 0, alreadyRecorded: 0 });
    expect((await usageRecords(store.client, names.usage, 'acme', Date.now())).length).toBe(3);
    const day = new Date().toISOString().slice(0, 10);
    const agg = (await usageReport(store.client, names.usage, 'acme', day, day)).tiers;
    expect(agg).toEqual([expect.objectContaining({ tier: 'priority', interrupted: 2, requests: 3, costUnits: 54 + 2 * 240 })]);
  });

  it("finds a request's record packed behind an older one (the pack's key is its oldest record's start)", async () => {
    const names = await freshTables(store);
    const dead = new OpenRequestJournal(store.client, names.usage, { logger: quiet, instanceId: `${hostname()}/${await deadPid()}/packed` });
    const now = Date.now();
    const m = marker('packed', 1, now);
    await dead.open(m).ready();
    const meter = new DynamoUsageMeter(store.client, names.usage, { logger: quiet, flushIntervalMs: 0 });
    // A 14-minute request ended in the same flush: the pack is keyed by its start, before this one's.
    meter.record({ ...okRecord(marker('packed', 0, now - 14 * 60_000)) });
    meter.record(okRecord(m));
    await meter.flush();
    expect(await sweepOpenRequests(store.client, names.usage, { isDead: deadLocalInstance, logger: quiet })).toEqual({ items: 1, markers: 1, interrupted: 0, alreadyRecorded: 1 });
    expect((await usageRecords(store.client, names.usage, 'packed', now)).map((r) => r.outcome)).toEqual(['ok', 'ok']);
  });

  it('at start-up, a sweep the store fails is logged and does not stop the gateway from starting', async () => {
    const names = await freshTables(store);
    const client = localDynamoClient(store.endpoint, 1);
    const fault = faultSwitch(client);
    fault.on = true;
    const errors: string[] = [];
    await expect(sweepAtStart(client, names.usage, { ...silentLogger, error: (m) => void errors.push(m) })).resolves.toBeUndefined();
    expect(errors).toEqual(['open-request sweep failed; left for the next start']);
    fault.on = false;
    await expect(sweepAtStart(client, names.usage, quiet)).resolves.toEqual({ items: 0, markers: 0, interrupted: 0, alreadyRecorded: 0 });
    client.destroy();
  });

  it('sweeps a marker only past its deadline when no instance is known dead', async () => {
    const names = await freshTables(store);
    const live = new OpenRequestJournal(store.client, names.usage, { logger: quiet, instanceId: newInstanceId() });
    const started = Date.now();
    await live.open(marker('late', 1, started)).ready();
    const before = await sweepOpenRequests(store.client, names.usage, { now: () => started + OPEN_REQUEST_DEADLINE_MS - 1000, logger: quiet });
    expect(before.items).toBe(0);
    const after = await sweepOpenRequests(store.client, names.usage, { now: () => started + OPEN_REQUEST_DEADLINE_MS + 1, logger: quiet });
    expect(after).toEqual({ items: 1, markers: 1, interrupted: 1, alreadyRecorded: 0 });
    expect((await usageRecords(store.client, names.usage, 'late', started)).map((r) => r.outcome)).toEqual(['interrupted']);
  });

  it('two sweeps at once write one record and count it once', async () => {
    const names = await freshTables(store);
    const dead = new OpenRequestJournal(store.client, names.usage, { logger: quiet, instanceId: `${hostname()}/${await deadPid()}/twice` });
    const opened = [1, 2].map((i) => dead.open(marker('twice', i)));
    await Promise.all(opened.map((h) => h.ready()));
    const reports = await Promise.all([1, 2].map(() => sweepOpenRequests(store.client, names.usage, { isDead: deadLocalInstance, logger: quiet })));
    expect(reports.map((r) => r.items).sort()).toEqual([0, 1]);
    expect(reports.reduce((n, r) => n + r.interrupted, 0)).toBe(2);
    const records = await usageRecords(store.client, names.usage, 'twice', Date.now());
    expect(records.map((r) => r.requestId).sort()).toEqual(['twice-r1', 'twice-r2']);
    const day = new Date().toISOString().slice(0, 10);
    expect((await usageReport(store.client, names.usage, 'twice', day, day)).tiers).toEqual([expect.objectContaining({ interrupted: 2, requests: 2 })]);
  });
});
