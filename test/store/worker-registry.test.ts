/**
 * Registered workers in the Config table, on the embedded DynamoDB: register, heartbeat extends,
 * a lapsed registration is ignored before TTL deletes it, deregister drains, and the admin CLI's
 * `workers` commands.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { adminCommand, type AdminIO } from '../../bin/commands/admin.ts';
import { workerItemKey } from '../../lambda/store/config-items.ts';
import type { TableNames } from '../../lambda/store/tables.ts';
import { WorkerRegistry } from '../../lambda/store/worker-registry.ts';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { freshTables, manualClock } from './helpers.ts';

let store: EmbeddedDynamo;
let names: TableNames;
let dir: string;
let configPath: string;

beforeAll(async () => {
  store = await startEmbeddedDynamo();
  names = await freshTables(store);
  dir = await mkdtemp(join(tmpdir(), 'splitserve-workers-'));
  configPath = join(dir, 'config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      pools: {
        elastic: { protocol: 'openai', registration: { heartbeatTtlS: 20 }, timeoutMs: 45_000 },
        fixed: { protocol: 'openai', endpoints: ['http://127.0.0.1:9'] },
      },
      models: { m: { pools: ['elastic', 'fixed'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'elastic' } } },
    }),
  );
});
afterAll(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

describe('WorkerRegistry', () => {
  it('registers a worker active until now + TTL, and a heartbeat pushes expiresAt while keeping registeredAt', async () => {
    const clock = manualClock(Date.UTC(2026, 0, 1, 0, 0, 0));
    const registry = new WorkerRegistry(store.client, names.config, { now: clock.now });
    const first = await registry.register('p1', 'http://10.0.0.1:8000', 30);
    expect(first).toMatchObject({ pool: 'p1', url: 'http://10.0.0.1:8000', state: 'active', expiresAt: clock.now() / 1000 + 30 });
    clock.advance(20_000);
    const beat = (await registry.renew('p1', 'http://10.0.0.1:8000', 30))!;
    expect(beat.expiresAt).toBe(clock.now() / 1000 + 30);
    expect(beat.registeredAt).toBe(first.registeredAt);
    expect(beat.updatedAt).not.toBe(first.updatedAt);
    // The item carries expiresAt as a number (the table's TTL attribute).
    const item = await store.client.send(new GetItemCommand({ TableName: names.config, Key: workerItemKey('p1', 'http://10.0.0.1:8000') }));
    expect(item.Item?.expiresAt?.N).toBe(String(beat.expiresAt));
    expect(await registry.live('p1')).toEqual([beat]);
  });

  it('ignores a registration whose expiresAt passed although the item is still in the table (TTL deletes lazily)', async () => {
    const clock = manualClock(Date.UTC(2026, 0, 2, 0, 0, 0));
    const registry = new WorkerRegistry(store.client, names.config, { now: clock.now });
    await registry.register('p2', 'http://10.0.0.2:8000', 10);
    await registry.register('p2', 'http://10.0.0.3:8000', 60);
    expect((await registry.live('p2')).map((w) => w.url)).toEqual(['http://10.0.0.2:8000', 'http://10.0.0.3:8000']);
    clock.advance(10_000);
    expect((await registry.live('p2')).map((w) => w.url)).toEqual(['http://10.0.0.3:8000']);
    const item = await store.client.send(new GetItemCommand({ TableName: names.config, Key: workerItemKey('p2', 'http://10.0.0.2:8000') }));
    expect(item.Item).toBeDefined();
    // A lapsed worker cannot be deregistered (nothing to drain), but may register again.
    expect(await registry.deregister('p2', 'http://10.0.0.2:8000', 30)).toBeUndefined();
    expect((await registry.renew('p2', 'http://10.0.0.2:8000', 10))?.state).toBe('active');
  });

  it('deregister marks the worker draining for the drain time, then it lapses; a heartbeat does not revive it, a registration does', async () => {
    const clock = manualClock(Date.UTC(2026, 0, 3, 0, 0, 0));
    const registry = new WorkerRegistry(store.client, names.config, { now: clock.now });
    await registry.register('p3', 'http://10.0.0.4:8000', 30);
    const drained = await registry.deregister('p3', 'http://10.0.0.4:8000', 120);
    expect(drained).toMatchObject({ state: 'draining', expiresAt: clock.now() / 1000 + 120 });
    expect(await registry.live('p3')).toEqual([drained]);
    clock.advance(120_000);
    expect(await registry.live('p3')).toEqual([]);
    expect(await registry.deregister('p3', 'http://10.0.0.9:8000', 120)).toBeUndefined();
    clock.advance(1000);
    await registry.register('p3', 'http://10.0.0.4:8000', 30);
    await registry.deregister('p3', 'http://10.0.0.4:8000', 120);
    // A heartbeat sent just before the deregistration and landing after it leaves the worker draining.
    expect(await registry.renew('p3', 'http://10.0.0.4:8000', 30)).toBeUndefined();
    expect((await registry.live('p3')).map((w) => w.state)).toEqual(['draining']);
    expect((await registry.register('p3', 'http://10.0.0.4:8000', 30)).state).toBe('active');
    expect(await registry.remove('p3', 'http://10.0.0.4:8000')).toBe(true);
    expect(await registry.live('p3')).toEqual([]);
  });

  it('keeps pools apart', async () => {
    const registry = new WorkerRegistry(store.client, names.config);
    await registry.register('p4', 'http://10.0.0.5:8000', 30);
    await registry.register('p5', 'http://10.0.0.6:8000', 30);
    expect((await registry.live('p4')).map((w) => w.url)).toEqual(['http://10.0.0.5:8000']);
  });
});

describe('splitserve admin workers', () => {
  async function cli(...args: string[]): Promise<{ code: number; out: string; err: string }> {
    let out = '';
    let err = '';
    const io: AdminIO = { out: (t) => void (out += t), err: (t) => void (err += t) };
    const code = await adminCommand([...args, '--config', configPath, '--endpoint', store.endpoint, '--config-table', names.config, '--usage-table', names.usage], io);
    return { code, out, err };
  }

  it('registers, lists and deregisters a worker of a pool that takes registrations', async () => {
    const reg = await cli('workers', 'register', '--pool', 'elastic', '--url', 'http://10.1.0.1:8000/', '--json');
    expect(reg.code).toBe(0);
    const registered = JSON.parse(reg.out) as { url: string; state: string; expiresAt: number };
    expect(registered).toMatchObject({ url: 'http://10.1.0.1:8000', state: 'active' });
    // The pool's heartbeatTtlS (20 s) is the default TTL.
    expect(registered.expiresAt - Date.now() / 1000).toBeGreaterThan(15);
    expect(registered.expiresAt - Date.now() / 1000).toBeLessThanOrEqual(20);
    const listed = await cli('workers', 'list', '--pool', 'elastic');
    expect(listed.out).toMatch(/http:\/\/10\.1\.0\.1:8000\s+active/);
    const dereg = await cli('workers', 'deregister', '--pool', 'elastic', '--url', 'http://10.1.0.1:8000', '--json');
    expect(dereg.code).toBe(0);
    const draining = JSON.parse(dereg.out) as { state: string; expiresAt: number };
    expect(draining.state).toBe('draining');
    // Drains for the pool's timeoutMs (45 s) by default.
    expect(draining.expiresAt - Date.now() / 1000).toBeGreaterThan(40);
    expect((await cli('workers', 'list', '--pool', 'elastic')).out).toMatch(/http:\/\/10\.1\.0\.1:8000\s+draining/);
  });

  it('refuses an unknown pool, a pool without registration, a bad URL and a bad TTL (exit 2), and an unknown worker (exit 1)', async () => {
    const unknown = await cli('workers', 'register', '--pool', 'nope', '--url', 'http://10.1.0.2:8000');
    expect(unknown.code).toBe(2);
    expect(unknown.err).toContain("pool 'nope' does not exist");
    const fixed = await cli('workers', 'register', '--pool', 'fixed', '--url', 'http://10.1.0.2:8000');
    expect(fixed.code).toBe(2);
    expect(fixed.err).toContain('does not take worker registrations');
    const creds = await cli('workers', 'register', '--pool', 'elastic', '--url', 'http://user:pw@10.1.0.2:8000');
    expect(creds.code).toBe(2);
    expect(creds.err).toContain('credentials');
    const scheme = await cli('workers', 'register', '--pool', 'elastic', '--url', 'ftp://10.1.0.2');
    expect(scheme.code).toBe(2);
    const ttl = await cli('workers', 'register', '--pool', 'elastic', '--url', 'http://10.1.0.2:8000', '--ttl', '1');
    expect(ttl.code).toBe(2);
    expect(ttl.err).toContain('--ttl');
    const missing = await cli('workers', 'deregister', '--pool', 'elastic', '--url', 'http://10.1.0.3:8000');
    expect(missing.code).toBe(1);
    expect(missing.err).toContain('not registered');
  });
});
