/**
 * The discovery bound of worker registration, measured on the local node runtime (embedded store,
 * simulators on loopback ports, the `openai` client): ten workers register one after another at
 * random moments over HTTP (the time until the first call reaches each), then nine deregister (the
 * time until the last call reaches each). A long-running process reads every 0.8 × refreshMs, so
 * both stay under refreshMs plus a read (docs/worker-registration.md).
 *
 * usage: npx tsx bench/registration-bound.ts [refreshMs=1000]
 */
import OpenAI from 'openai';
import { parseConfig } from '../lambda/core/config.ts';
import { startLocal } from '../local/start-local.ts';
import { startSimulator } from '../sim/index.ts';

const KEY = 'sk-ss-measure-0123456789abcdef0123456789abcd';
process.env.MEASURE_SECRET = 'measure-secret-0123456789';
/** How often each gateway instance reads the pool's registrations. */
const refreshMs = Number(process.argv[2] ?? 1000);
const sims = await Promise.all(Array.from({ length: 10 }, (_, i) => startSimulator({ profile: 'gpu-aggregated', speedup: 1000, seed: i, schedulingPolicy: 'priority' })));
const local = await startLocal({
  config: parseConfig({
    pools: { elastic: { protocol: 'openai', load: false, registration: { heartbeatTtlS: 60, refreshMs } } },
    models: { m: { pools: ['elastic'] } },
    tiers: { default: { route: { mode: 'aggregated', pool: 'elastic' } } },
    tenants: [{ id: 't', apiKeys: [KEY], tiers: ['default'] }],
    workers: { secret: { env: 'MEASURE_SECRET' } },
  }),
  port: 0,
  logger: { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined },
});
const client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: KEY, maxRetries: 0 });
const workers = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: process.env.MEASURE_SECRET, maxRetries: 0 });
const join: number[] = [];
const leave: number[] = [];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
for (const sim of sims) {
  await sleep(Math.random() * refreshMs);
  await workers.post('/workers/register', { body: { pool: 'elastic', url: sim.url } });
  const t0 = performance.now();
  while (sim.stats().calls === 0) {
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 }).catch(() => undefined);
  }
  join.push(performance.now() - t0);
}
for (const sim of sims.slice(0, 9)) {
  await sleep(Math.random() * refreshMs);
  await workers.post('/workers/deregister', { body: { pool: 'elastic', url: sim.url } });
  const t0 = performance.now();
  // Calls until none has reached it for 2 × refreshMs: the time until it left the selection.
  let last = performance.now();
  let before = sim.stats().calls;
  while (performance.now() - last < refreshMs * 2) {
    await client.chat.completions.create({ model: 'm', messages: [{ role: 'user', content: 'x' }], max_tokens: 1 });
    if (sim.stats().calls !== before) { before = sim.stats().calls; last = performance.now(); }
  }
  leave.push(last - t0);
}
const fmt = (a: number[]) => `max ${Math.max(...a).toFixed(0)} ms, mean ${(a.reduce((x, y) => x + y, 0) / a.length).toFixed(0)} ms (n=${a.length})`;
console.log(`refreshMs=${refreshMs}: register → first call on it: ${fmt(join)}; deregister → last call on it: ${fmt(leave)}`);
await local.close();
await Promise.all(sims.map((s) => s.close()));
