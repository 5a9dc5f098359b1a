/**
 * Workers registering themselves, end to end through the local node runtime: the embedded store,
 * simulators on loopback ports as workers, the `openai` client as caller (and as the worker's
 * HTTP client for the registration routes, with the shared secret as its key). Registration →
 * traffic reaches the worker within the discovery bound; deregistration → no new traffic while
 * the stream in flight completes; no heartbeat → ignored after the TTL; wrong secret → 401.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { startSimulator } from '../../sim/index.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

const KEY = 'sk-ss-test-workers-0123456789abcdef0123456789';
const SECRET_ENV = 'SPLITSERVE_TEST_WORKER_SECRET';
const SECRET = 'worker-secret-0123456789abcdef';
const MODEL = 'llama-3.1-8b';
const REFRESH_MS = 200;
const TTL_S = 5;

let local: LocalGateway;
let client: OpenAI;
let workers: OpenAI;
let sims: SimulatorHandle[];

beforeAll(async () => {
  process.env[SECRET_ENV] = SECRET;
  sims = await Promise.all([1, 2, 3].map((seed) => startSimulator({ profile: 'gpu-aggregated', speedup: 20, seed, schedulingPolicy: 'priority' })));
  const config = parseConfig({
    pools: {
      elastic: { protocol: 'openai', timeoutMs: 10_000, registration: { heartbeatTtlS: TTL_S, refreshMs: REFRESH_MS, drainS: 30, allowedHosts: ['127.0.0.0/8'] } },
      fixed: { protocol: 'openai', timeoutMs: 10_000, endpoints: [sims[2]!.url] },
    },
    models: { [MODEL]: { pools: ['elastic', 'fixed'] } },
    tiers: { default: { route: { mode: 'aggregated', pool: 'elastic' } } },
    tenants: [{ id: 'workers-test', apiKeys: [KEY], tiers: ['default'] }],
    workers: { secret: { env: SECRET_ENV } },
  });
  local = await startLocal({ config, port: 0, logger: silentLogger });
  client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: KEY, maxRetries: 0 });
  workers = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: SECRET, maxRetries: 0 });
}, 60_000);

afterAll(async () => {
  await local?.close();
  await Promise.all((sims ?? []).map((s) => s.close()));
  delete process.env[SECRET_ENV];
});

async function chat(maxTokens = 4): Promise<string> {
  const out = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hello workers' }], max_tokens: maxTokens });
  return out.choices[0]?.message.content ?? '';
}

const calls = (i: number): number => sims[i]!.stats().calls;

async function until(check: () => boolean | Promise<boolean>, timeoutMs: number): Promise<number> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > timeoutMs) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
  return Date.now() - started;
}

describe('worker registration through the local runtime', () => {
  it('refuses a wrong or missing secret with an OpenAI-shaped 401, and an unknown pool or one without registration with a 4xx', async () => {
    const wrong = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: 'not-the-secret', maxRetries: 0 });
    const err = await wrong.post('/workers/register', { body: { pool: 'elastic', url: sims[0]!.url } }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(OpenAI.AuthenticationError);
    expect((err as InstanceType<typeof OpenAI.AuthenticationError>).error).toMatchObject({ type: 'invalid_request_error', code: 'invalid_api_key', message: 'Incorrect worker secret provided.' });
    // A tenant's API key is not the worker secret either.
    await expect(client.post('/workers/register', { body: { pool: 'elastic', url: sims[0]!.url } })).rejects.toBeInstanceOf(OpenAI.AuthenticationError);
    const missing = await fetch(`${local.url}/v1/workers/register`, { method: 'POST', body: JSON.stringify({ pool: 'elastic', url: sims[0]!.url }) });
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toContain('shared secret');

    const unknown = await workers.post('/workers/register', { body: { pool: 'nope', url: sims[0]!.url } }).catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(OpenAI.NotFoundError);
    expect((unknown as InstanceType<typeof OpenAI.NotFoundError>).error).toMatchObject({ code: 'pool_not_found', param: 'pool' });
    const fixed = await workers.post('/workers/register', { body: { pool: 'fixed', url: sims[0]!.url } }).catch((e: unknown) => e);
    expect(fixed).toBeInstanceOf(OpenAI.PermissionDeniedError);
    expect((fixed as InstanceType<typeof OpenAI.PermissionDeniedError>).error).toMatchObject({ code: 'registration_not_enabled' });
    const badUrl = await workers.post('/workers/register', { body: { pool: 'elastic', url: 'http://u:p@127.0.0.1:1' } }).catch((e: unknown) => e);
    expect(badUrl).toBeInstanceOf(OpenAI.BadRequestError);
    const elsewhere = await workers.post('/workers/register', { body: { pool: 'elastic', url: 'http://10.9.9.9:8000' } }).catch((e: unknown) => e);
    expect(elsewhere).toBeInstanceOf(OpenAI.BadRequestError);
    expect((elsewhere as InstanceType<typeof OpenAI.BadRequestError>).error).toMatchObject({ code: 'url_not_allowed', param: 'url' });
    const longTtl = await workers.post('/workers/register', { body: { pool: 'elastic', url: sims[0]!.url, ttl_seconds: TTL_S + 1 } }).catch((e: unknown) => e);
    expect(longTtl).toBeInstanceOf(OpenAI.BadRequestError);
  });

  it('serves nothing before a worker registers (503), then reaches it within the discovery bound', async () => {
    await expect(chat()).rejects.toMatchObject({ status: 503 });
    const registered = (await workers.post('/workers/register', { body: { pool: 'elastic', url: `${sims[0]!.url}/` } })) as { url: string; state: string };
    expect(registered).toMatchObject({ object: 'worker', pool: 'elastic', url: sims[0]!.url, state: 'active' });
    const registeredAt = Date.now();
    await until(async () => {
      try {
        await chat();
        return true;
      } catch {
        return false;
      }
    }, 2 * REFRESH_MS + 1000);
    // The bound: refreshMs plus a read (and this loop's own step).
    expect(Date.now() - registeredAt).toBeLessThan(REFRESH_MS + 500);
    expect(calls(0)).toBeGreaterThan(0);
  });

  it('spreads calls over two registered workers; a deregistered one gets no new call while its stream in flight completes', async () => {
    await workers.post('/workers/register', { body: { pool: 'elastic', url: sims[0]!.url } });
    await workers.post('/workers/register', { body: { pool: 'elastic', url: sims[1]!.url } });
    await until(() => local.runtime.pools.snapshot('elastic').length === 2, 2 * REFRESH_MS + 1000);
    const before = [calls(0), calls(1)];
    for (let i = 0; i < 6; i++) await chat();
    expect(calls(0) - before[0]!).toBeGreaterThan(0);
    expect(calls(1) - before[1]!).toBeGreaterThan(0);

    // A long stream on whichever worker the next call takes, then that worker deregisters.
    const stream = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'a long answer' }], max_tokens: 400, stream: true });
    const busy = local.runtime.pools.snapshot('elastic').find((e) => e.outstanding > 0)!;
    expect(busy).toBeDefined();
    const leaving = sims.findIndex((s) => s.url === busy.url);
    const staying = 1 - leaving;
    const drained = (await workers.post('/workers/deregister', { body: { pool: 'elastic', url: busy.url } })) as { state: string };
    expect(drained.state).toBe('draining');
    // Its heartbeat, landing after the deregistration, does not bring it back.
    const late = await workers.post('/workers/register', { body: { pool: 'elastic', url: busy.url, heartbeat: true } }).catch((e: unknown) => e);
    expect(late).toBeInstanceOf(OpenAI.ConflictError);
    expect((late as InstanceType<typeof OpenAI.ConflictError>).error).toMatchObject({ code: 'worker_draining', param: 'url' });
    await until(() => local.runtime.pools.snapshot('elastic').every((e) => e.url !== busy.url), 2 * REFRESH_MS + 1000);
    const leavingCalls = calls(leaving);
    const stayingCalls = calls(staying);
    for (let i = 0; i < 4; i++) await chat();
    expect(calls(leaving)).toBe(leavingCalls);
    expect(calls(staying)).toBe(stayingCalls + 4);
    let text = '';
    let finish: string | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      finish = chunk.choices[0]?.finish_reason ?? finish;
    }
    expect(finish).toBe('length');
    expect(text.length).toBeGreaterThan(0);
  }, 30_000);

  it('ignores a worker that stopped heartbeating once its TTL has passed', async () => {
    // Only sims[1] or sims[0] is active now; register both afresh with a short TTL, renew one only.
    await workers.post('/workers/register', { body: { pool: 'elastic', url: sims[0]!.url, ttl_seconds: TTL_S } });
    const lapsed = (await workers.post('/workers/register', { body: { pool: 'elastic', url: sims[1]!.url, ttl_seconds: TTL_S } })) as { expires_at: number };
    await until(() => local.runtime.pools.snapshot('elastic').length === 2, 2 * REFRESH_MS + 1000);
    const heartbeat = setInterval(() => void workers.post('/workers/register', { body: { pool: 'elastic', url: sims[0]!.url } }).catch(() => undefined), 1000);
    try {
      await until(() => Date.now() / 1000 >= lapsed.expires_at, (TTL_S + 1) * 1000);
      const gone = calls(1);
      const kept = calls(0);
      for (let i = 0; i < 4; i++) await chat();
      expect(calls(1)).toBe(gone);
      expect(calls(0)).toBe(kept + 4);
    } finally {
      clearInterval(heartbeat);
    }
  }, 20_000);
});
