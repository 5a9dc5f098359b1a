/**
 * Pools with several simulator endpoints behind the gateway, driven by the official `openai`
 * client: an endpoint killed mid-run, a circuit breaker opening and recovering, and
 * least-outstanding selection against round robin under a skewed load.
 */
import { createServer } from 'node:http';
import OpenAI from 'openai';
import { afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import type { SimFaults, SimulatorHandle } from '../../sim/index.ts';
import { mulberry32, startSimulator } from '../../sim/index.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

const KEY = 'sk-ss-test-multi-0123456789abcdef0123456789';
const MODEL = 'llama-3.1-8b';

const running: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const close of running.splice(0).reverse()) await close().catch(() => undefined);
});

async function sims(n: number, faults: Array<SimFaults | undefined> = []): Promise<SimulatorHandle[]> {
  const out = await Promise.all(
    Array.from({ length: n }, (_, i) => startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 50, seed: 20 + i, faults: faults[i] })),
  );
  running.push(async () => void (await Promise.all(out.map((s) => s.close()))));
  return out;
}

async function gateway(pools: Record<string, Record<string, unknown>>): Promise<{ local: LocalGateway; client: OpenAI }> {
  const names = Object.keys(pools);
  const config = parseConfig({
    pools: Object.fromEntries(names.map((n) => [n, { protocol: 'openai', timeoutMs: 10_000, ...pools[n] }])),
    models: { [MODEL]: { pools: names } },
    tiers: {
      default: { route: { mode: 'aggregated', pool: names[0] } },
      ...(names[1] ? { priority: { route: { mode: 'aggregated', pool: names[1] } } } : {}),
    },
    tenants: [{ id: 'multi', apiKeys: [KEY], tiers: names[1] ? ['default', 'priority'] : ['default'] }],
  });
  const local = await startLocal({ config, port: 0, logger: silentLogger });
  running.push(() => local.close());
  return { local, client: new OpenAI({ baseURL: `${local.url}/v1`, apiKey: KEY, maxRetries: 0 }) };
}

/** One streamed request; resolves with its TTFT, or rejects. */
async function streamOnce(client: OpenAI, tier: 'default' | 'priority' = 'default', maxTokens = 4): Promise<number> {
  const started = performance.now();
  let ttft = -1;
  const stream = await client.chat.completions.create({
    model: MODEL,
    messages: [{ role: 'user', content: 'hello pool' }],
    service_tier: tier,
    stream: true,
    max_tokens: maxTokens,
  });
  for await (const chunk of stream) {
    if (ttft < 0 && chunk.choices[0]?.delta.content) ttft = performance.now() - started;
  }
  if (ttft < 0) throw new Error('no token');
  return ttft;
}

async function until(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Runs `count` requests with `concurrency` workers; returns outcomes in completion order. */
async function load(count: number, concurrency: number, one: (i: number) => Promise<number>, onDone?: (done: number) => void) {
  const results: Array<{ ok: boolean; ttft: number }> = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const i = next++;
        try {
          results.push({ ok: true, ttft: await one(i) });
        } catch {
          results.push({ ok: false, ttft: Number.NaN });
        }
        onDone?.(results.length);
      }
    }),
  );
  return results;
}

function p99(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.ceil(0.99 * sorted.length) - 1]!;
}

describe('multi-endpoint pools through the gateway', () => {
  it('keeps serving when one of 3 endpoints is killed mid-run; only its in-flight requests may fail; later ones never reach it', async () => {
    const [a, b, c] = await sims(3);
    const { local, client } = await gateway({ gpu: { endpoints: [a!.url, b!.url, c!.url], health: { intervalMs: 100, timeoutMs: 200 } } });
    const pools = local.runtime.pools;
    let inFlightOnKilled = -1;
    let killing: Promise<void> | undefined;
    // Long enough replies (~30 ms each) that requests are in flight on every endpoint at the kill.
    const phase1 = await load(60, 6, () => streamOnce(client, 'default', 200), (done) => {
      // Kill b once a quarter of the run is done, at a moment when it has calls in flight.
      const onB = pools.snapshot('gpu').find((e) => e.url === b!.url)!.outstanding;
      if (done >= 15 && !killing && onB >= 1) {
        inFlightOnKilled = onB;
        killing = b!.close();
      }
    });
    expect(killing).toBeDefined();
    await killing;
    const failed = phase1.filter((r) => !r.ok).length;
    expect(inFlightOnKilled).toBeGreaterThanOrEqual(1);
    expect(failed).toBeLessThanOrEqual(inFlightOnKilled);
    expect(phase1.filter((r) => r.ok).length).toBeGreaterThanOrEqual(60 - inFlightOnKilled);
    await until(() => pools.snapshot('gpu').find((e) => e.url === b!.url)!.healthy === false);

    // A decoy on the killed endpoint's port counts any completion call still sent there.
    let reached = 0;
    const decoy = createServer((req, res) => {
      if (req.method === 'POST') reached += 1;
      res.writeHead(500).end();
    });
    await new Promise<void>((resolve) => decoy.listen(b!.port, '127.0.0.1', resolve));
    // Close its connections too: the health checker keeps one alive, and close() alone would wait for it.
    running.push(
      () =>
        new Promise<void>((resolve) => {
          decoy.close(() => resolve());
          decoy.closeAllConnections();
        }),
    );
    const phase2 = await load(30, 6, () => streamOnce(client));
    expect(phase2.every((r) => r.ok)).toBe(true);
    expect(reached).toBe(0);
    expect(a!.stats().completed + c!.stats().completed).toBeGreaterThanOrEqual(phase2.length);
  });

  it('opens the breaker after N failures (requests still succeed elsewhere) and closes it after a successful probe', async () => {
    const [bad, good] = await sims(2, [{ errorRate: 1, errorStatus: 500 }]);
    // Round robin: the probe after the cool-down reaches the bad endpoint for sure (the default
    // policy draws two endpoints at random, so four requests could all miss it, ~6% of runs).
    const { local, client } = await gateway({ gpu: { endpoints: [bad!.url, good!.url], policy: 'round-robin', breaker: { failures: 3, coolDownMs: 400 } } });
    const pools = local.runtime.pools;
    const first = await load(8, 8, () => streamOnce(client));
    expect(first.every((r) => r.ok)).toBe(true);
    expect(pools.snapshot('gpu')[0]!.breaker).toBe('open');
    const callsWhenOpen = bad!.stats().calls;
    expect(callsWhenOpen).toBeGreaterThanOrEqual(3);
    const whileOpen = await load(8, 4, () => streamOnce(client));
    expect(whileOpen.every((r) => r.ok)).toBe(true);
    expect(bad!.stats().calls).toBe(callsWhenOpen); // open: no call reaches it

    bad!.setFaults({});
    await new Promise((r) => setTimeout(r, 1100)); // cool-down and the short retry-avoid mark both passed
    for (let i = 0; i < 4; i++) await streamOnce(client);
    expect(bad!.stats().calls).toBeGreaterThan(callsWhenOpen);
    expect(pools.snapshot('gpu')[0]).toMatchObject({ breaker: 'closed', consecutiveFailures: 0 });
  });

  it('least-outstanding beats round robin on p99 TTFT when one endpoint is much slower', async () => {
    const STALL_MS = 3000;
    const [slow, f1, f2] = await sims(3, [{ stallMs: STALL_MS }]);
    const endpoints = [slow!.url, f1!.url, f2!.url];
    const { client } = await gateway({
      rr: { endpoints, policy: 'round-robin' },
      lor: { endpoints, policy: 'least-outstanding' },
    });
    // The same seeded open-loop arrivals for both policies; the first WARM_UP requests of each run
    // (the transient while every endpoint is idle) are left out of the percentile.
    const WARM_UP = 20;
    const rnd = mulberry32(99);
    const gaps = Array.from({ length: 220 }, () => 4 + Math.floor(rnd() * 8));
    const run = async (tier: 'default' | 'priority') => {
      const pending: Array<Promise<number>> = [];
      for (const gap of gaps) {
        pending.push(streamOnce(client, tier));
        await new Promise((r) => setTimeout(r, gap));
      }
      return (await Promise.all(pending)).slice(WARM_UP);
    };
    const rr = await run('default');
    const slowRr = slow!.stats().calls;
    const lor = await run('priority');
    expect(p99(rr)).toBeGreaterThan(STALL_MS);
    expect(p99(lor)).toBeLessThan(STALL_MS / 5);
  });
});
