/**
 * Registered workers in the pool directory: merged with the static endpoints, state kept across
 * reads, a draining worker gets no new calls while its call in flight completes, a lapsed one is
 * dropped at selection, health checks cover registered workers; and WorkerDiscovery reading the
 * Config table of an embedded DynamoDB at most once per `refreshMs`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PoolDirectory } from '../../lambda/backends/pool-directory.ts';
import { WorkerDiscovery } from '../../lambda/backends/worker-discovery.ts';
import type { SplitserveConfig } from '../../lambda/core/config.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { UpstreamError } from '../../lambda/core/errors.ts';
import type { TableNames } from '../../lambda/store/tables.ts';
import { WorkerRegistry } from '../../lambda/store/worker-registry.ts';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { capturingLogger, silentLogger } from '../helpers/silent-logger.ts';
import { countCalls, faultSwitch, freshTables, manualClock } from '../store/helpers.ts';

const S = 'http://127.0.0.1:1';
const W1 = 'http://127.0.0.1:2';
const W2 = 'http://127.0.0.1:3';

function pools(elastic: Record<string, unknown> = {}): SplitserveConfig['pools'] {
  return parseConfig({
    pools: {
      mixed: { protocol: 'openai', endpoints: [S], registration: {}, load: false, ...elastic },
      only: { protocol: 'openai', registration: { refreshMs: 1000 }, load: false },
    },
    models: { m: { pools: ['mixed', 'only'] } },
    tiers: { default: { route: { mode: 'aggregated', pool: 'mixed' } } },
  }).pools;
}

function picks(dir: PoolDirectory, pool: string, n: number): string[] {
  return Array.from({ length: n }, () => {
    const lease = dir.acquire(pool);
    lease.release(true);
    return lease.target.endpoint;
  });
}

describe('PoolDirectory with registered workers', () => {
  it('a pool with registration alone starts empty and answers 503 until a worker registers', () => {
    const clock = manualClock();
    const dir = new PoolDirectory(pools(), { now: clock.now });
    expect(() => dir.acquire('only')).toThrow(UpstreamError);
    expect(() => dir.acquire('only')).toThrow(/No worker is registered in the only pool/);
    dir.setRegisteredEndpoints('only', [{ url: W1, expiresAtMs: clock.now() + 30_000 }]);
    expect(picks(dir, 'only', 2)).toEqual([W1, W1]);
  });

  it('merges registered workers with the static endpoints, a static URL staying static', () => {
    const clock = manualClock();
    const dir = new PoolDirectory(pools(), { now: clock.now });
    dir.setRegisteredEndpoints('mixed', [
      { url: W1, expiresAtMs: clock.now() + 30_000 },
      { url: S, expiresAtMs: clock.now() + 1 },
      { url: W2, expiresAtMs: clock.now() + 30_000 },
    ]);
    expect(dir.snapshot('mixed').map((e) => e.url)).toEqual([S, W1, W2]);
    expect(new Set(picks(dir, 'mixed', 6))).toEqual(new Set([S, W1, W2]));
    clock.advance(10);
    // S is static: its registration lapsing does not remove it.
    expect(dir.snapshot('mixed').map((e) => e.url)).toEqual([S, W1, W2]);
    dir.setRegisteredEndpoints('mixed', []);
    expect(dir.snapshot('mixed').map((e) => e.url)).toEqual([S]);
    expect(picks(dir, 'mixed', 3)).toEqual([S, S, S]);
  });

  it('keeps the state of an endpoint that stays across reads (calls in flight, breaker)', () => {
    const clock = manualClock();
    const dir = new PoolDirectory(pools({ breaker: { failures: 1, coolDownMs: 60_000 } }), { now: clock.now });
    const until = clock.now() + 30_000;
    dir.setRegisteredEndpoints('mixed', [{ url: W1, expiresAtMs: until }, { url: W2, expiresAtMs: until }]);
    const held = dir.acquire('mixed', W1);
    expect(held.target.endpoint).toBe(W1);
    const failed = dir.acquire('mixed', W2);
    failed.release(false);
    dir.setRegisteredEndpoints('mixed', [{ url: W1, expiresAtMs: until + 10_000 }, { url: W2, expiresAtMs: until + 10_000 }]);
    const state = Object.fromEntries(dir.snapshot('mixed').map((e) => [e.url, e]));
    expect(state[W1]!.outstanding).toBe(1);
    expect(state[W2]!.breaker).toBe('open');
    // The open breaker still keeps W2 out after the read.
    expect(picks(dir, 'mixed', 4)).not.toContain(W2);
    held.release(true);
    expect(dir.inFlight('mixed')).toBe(0);
  });

  it('a worker that leaves (draining) gets no new calls while its call in flight completes', () => {
    const clock = manualClock();
    const dir = new PoolDirectory(pools(), { now: clock.now });
    dir.setRegisteredEndpoints('only', [{ url: W1, expiresAtMs: clock.now() + 30_000 }, { url: W2, expiresAtMs: clock.now() + 30_000 }]);
    const inFlight = dir.acquire('only', W1);
    dir.setRegisteredEndpoints('only', [{ url: W2, expiresAtMs: clock.now() + 30_000 }]);
    expect(picks(dir, 'only', 5)).toEqual([W2, W2, W2, W2, W2]);
    // Its lease still names W1 and releases cleanly: the call finishes where it started.
    expect(inFlight.target.endpoint).toBe(W1);
    inFlight.release(true);
    expect(dir.snapshot('only').map((e) => e.url)).toEqual([W2]);
    // Coming back (registered again) starts fresh.
    dir.setRegisteredEndpoints('only', [{ url: W1, expiresAtMs: clock.now() + 30_000 }, { url: W2, expiresAtMs: clock.now() + 30_000 }]);
    expect(dir.snapshot('only').find((e) => e.url === W1)!.outstanding).toBe(0);
  });

  it('drops a registration at its expiresAt without waiting for the next read', () => {
    const clock = manualClock();
    const dir = new PoolDirectory(pools(), { now: clock.now });
    dir.setRegisteredEndpoints('only', [{ url: W1, expiresAtMs: clock.now() + 5000 }, { url: W2, expiresAtMs: clock.now() + 30_000 }]);
    expect(new Set(picks(dir, 'only', 4))).toEqual(new Set([W1, W2]));
    clock.advance(5000);
    expect(picks(dir, 'only', 4)).toEqual([W2, W2, W2, W2]);
    clock.advance(25_000);
    expect(() => dir.acquire('only')).toThrow(/No worker is registered/);
  });

  it('health checks cover registered workers', async () => {
    const hits = new Map<string, number>();
    const servers: Server[] = [];
    const start = async (status: number): Promise<string> => {
      const server = createServer((req, res) => {
        const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
        hits.set(url, (hits.get(url) ?? 0) + 1);
        res.writeHead(status).end();
      });
      await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
      servers.push(server);
      return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    };
    const [good, bad] = [await start(200), await start(500)];
    const dir = new PoolDirectory(pools({ endpoints: [good], health: { intervalMs: 30, timeoutMs: 500 } }));
    try {
      dir.start();
      dir.setRegisteredEndpoints('mixed', [{ url: bad, expiresAtMs: Date.now() + 60_000 }]);
      const deadline = Date.now() + 3000;
      while (dir.snapshot('mixed').find((e) => e.url === bad)?.healthy !== false) {
        if (Date.now() > deadline) throw new Error('the registered worker was never checked');
        await new Promise((r) => setTimeout(r, 10));
      }
      expect(hits.get(bad)).toBeGreaterThan(0);
      expect(picks(dir, 'mixed', 3)).toEqual([good, good, good]);
    } finally {
      dir.close();
      for (const s of servers) s.close();
    }
  });
});

describe('WorkerDiscovery on the Config table', () => {
  let store: EmbeddedDynamo;
  let names: TableNames;

  beforeAll(async () => {
    store = await startEmbeddedDynamo();
    names = await freshTables(store);
  });
  afterAll(async () => {
    await store.close();
  });

  it('reads each pool at most once per refreshMs, shares a read, and hands active workers only to the directory', async () => {
    const clock = manualClock(Date.now());
    const registry = new WorkerRegistry(store.client, names.config, { now: clock.now });
    const calls = countCalls(store.client);
    const config = pools();
    const dir = new PoolDirectory(config, { now: clock.now });
    const discovery = new WorkerDiscovery(config, registry, dir, { logger: silentLogger, now: clock.now });
    await registry.register('only', W1, 30);
    await registry.register('only', W2, 30);
    await registry.deregister('only', W2, 60);
    calls.reset();
    await Promise.all([discovery.ready(), discovery.ready(), discovery.ready()]);
    // One Query per registration pool (mixed and only), shared by the three callers.
    expect(calls.byOp.get('QueryCommand')).toBe(2);
    expect(dir.snapshot('only').map((e) => e.url)).toEqual([W1]);
    await registry.register('only', W2, 30);
    clock.advance(999);
    await discovery.ready();
    expect(calls.byOp.get('QueryCommand')).toBe(2);
    expect(dir.snapshot('only').map((e) => e.url)).toEqual([W1]);
    clock.advance(1);
    await discovery.ready();
    // `only` refreshes every 1000 ms, `mixed` every 5000 ms (the default).
    expect(calls.byOp.get('QueryCommand')).toBe(3);
    expect(dir.snapshot('only').map((e) => e.url)).toEqual([W1, W2]);
    discovery.close();
  });

  it('leaves out a registration at a host the pool no longer allows (written before its allowedHosts changed)', async () => {
    const registry = new WorkerRegistry(store.client, names.config);
    const config = parseConfig({
      pools: { only: { protocol: 'openai', registration: { allowedHosts: ['127.0.0.2'] }, load: false } },
      models: { m: { pools: ['only'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'only' } } },
    }).pools;
    const dir = new PoolDirectory(config);
    await registry.register('only', 'http://127.0.0.2:9000', 30);
    await registry.register('only', 'http://127.0.0.3:9000', 30);
    await new WorkerDiscovery(config, registry, dir, { logger: silentLogger }).ready();
    expect(dir.snapshot('only').map((e) => e.url)).toEqual(['http://127.0.0.2:9000']);
  });

  it('keeps the set in hand when a read fails, and reads again after refreshMs', async () => {
    const clock = manualClock(Date.now());
    const client = await startEmbeddedDynamo();
    try {
      const tables = await freshTables(client);
      const registry = new WorkerRegistry(client.client, tables.config, { now: clock.now });
      const fault = faultSwitch(client.client);
      const config = pools();
      const dir = new PoolDirectory(config, { now: clock.now });
      const logger = capturingLogger();
      const discovery = new WorkerDiscovery(config, registry, dir, { logger, now: clock.now });
      await registry.register('only', W1, 30);
      await discovery.ready();
      expect(dir.snapshot('only').map((e) => e.url)).toEqual([W1]);
      fault.on = true;
      clock.advance(1000);
      await discovery.ready();
      clock.advance(1000);
      await discovery.ready();
      expect(dir.snapshot('only').map((e) => e.url)).toEqual([W1]);
      // `only` failed twice (every 1000 ms), warned once: once per failure streak, not per read.
      expect(logger.records.filter((r) => r.level === 'warn').map((r) => r.fields.pool)).toEqual(['only']);
      fault.on = false;
      await registry.register('only', W2, 30);
      clock.advance(5000);
      await discovery.ready();
      expect(dir.snapshot('only').map((e) => e.url)).toEqual([W1, W2]);
      discovery.close();
    } finally {
      await client.close();
    }
  });
});
