/**
 * `GET /metrics`, `/status.json` and `/status` on both local runtimes (the synthesized stack, and
 * `--runtime node`), with traffic from the official `openai` client: the Prometheus text parses
 * with a Prometheus text parser, carries every catalogue metric, and its figures follow the
 * traffic, including a failed backend call inside a Step Functions task function and a quota 429.
 */
import OpenAI, { APIError } from 'openai';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { PrometheusFamily } from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { METRICS } from '../../lambda/core/metric-catalogue.ts';
import type { StatusSnapshot } from '../../lambda/core/metrics-aggregate.ts';
import { startLocal } from '../../local/start-local.ts';
import { silentLogger } from '../helpers/silent-logger.ts';
import { CONFIG, KEY, MODEL, startTestStack } from './stack/fixture.ts';

const LIMITED_KEY = 'sk-ss-test-limited-0123456789abcdef0123456789';

interface Runtime {
  readonly url: string;
  readonly simulators: Record<string, string[]>;
  close(): Promise<void>;
}

async function scrape(url: string): Promise<{ text: string; families: PrometheusFamily[]; contentType: string | null }> {
  const res = await fetch(`${url}/metrics`);
  expect(res.status).toBe(200);
  const text = await res.text();
  return { text, families: parsePrometheusTextFormat(text), contentType: res.headers.get('content-type') };
}

async function status(url: string): Promise<StatusSnapshot> {
  const res = await fetch(`${url}/status.json`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  return (await res.json()) as StatusSnapshot;
}

function sample(families: PrometheusFamily[], name: string, labels: Record<string, string>): number {
  const family = families.find((f) => f.name === name);
  const found = family?.metrics.find((m) => JSON.stringify(m.labels) === JSON.stringify(labels));
  return found ? Number(found.value) : 0;
}

async function setFaults(runtime: Runtime, pool: string, faults: object): Promise<void> {
  for (const endpoint of runtime.simulators[pool] ?? []) {
    const res = await fetch(`${endpoint}/sim/faults`, { method: 'POST', body: JSON.stringify(faults) });
    expect(res.status).toBe(200);
  }
}

async function simCalls(runtime: Runtime, pool: string): Promise<number> {
  const res = await fetch(`${runtime.simulators[pool]![0]}/sim/stats`);
  return ((await res.json()) as { calls: number }).calls;
}

async function streamOnce(client: OpenAI): Promise<void> {
  const stream = await client.chat.completions.create({
    model: MODEL,
    service_tier: 'priority',
    max_tokens: 8,
    stream: true,
    messages: [{ role: 'user', content: 'Why split prefill and decode?' }],
  });
  for await (const chunk of stream) void chunk;
}

function describeObservability(name: string, start: () => Promise<Runtime>, more?: (runtime: () => Runtime) => void) {
  describe(`GET /metrics and /status.json: ${name}`, () => {
    let runtime: Runtime;
    let client: OpenAI;

    beforeAll(async () => {
      runtime = await start();
      client = new OpenAI({ baseURL: `${runtime.url}/v1`, apiKey: KEY, maxRetries: 0 });
    }, 240_000);

    afterAll(async () => {
      await runtime?.close();
    });

    it('answers without a key: Prometheus text with every catalogue metric, the status page and its figures', async () => {
      // The gateway's pools are counted from its start: on the stack runtime, its first invocation (a cold start).
      expect((await fetch(`${runtime.url}/health`)).status).toBe(200);
      const { families, contentType } = await scrape(runtime.url);
      expect(contentType).toBe('text/plain; version=0.0.4; charset=utf-8');
      for (const spec of Object.values(METRICS)) expect(families.map((f) => f.name), spec.prometheus).toContain(spec.prometheus);
      // The pools are there before any generation, all healthy, nothing in flight.
      for (const pool of Object.keys(CONFIG.pools)) {
        const role = (CONFIG.pools as Record<string, { role?: string }>)[pool]!.role ?? 'both';
        expect(sample(families, 'splitserve_pool_healthy_endpoints', { pool, role }), pool).toBe(1);
        expect(sample(families, 'splitserve_pool_in_flight', { pool, role }), pool).toBe(0);
      }
      const page = await fetch(`${runtime.url}/status`);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(await page.text()).toContain('/status.json');
      const snapshot = await status(runtime.url);
      expect(snapshot.tiers.map((t) => t.tier)).toEqual(expect.arrayContaining(['priority', 'default']));
    });

    it('counts requests, TTFT and TPOT per tier as traffic flows, tenant-free', async () => {
      const before = await scrape(runtime.url);
      const okBefore = sample(before.families, 'splitserve_requests_total', { tier: 'priority', route: 'disaggregated', outcome: 'ok' });
      for (let i = 0; i < 3; i++) await streamOnce(client);
      await client.chat.completions.create({ model: MODEL, service_tier: 'priority', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });

      const after = await scrape(runtime.url);
      expect(sample(after.families, 'splitserve_requests_total', { tier: 'priority', route: 'disaggregated', outcome: 'ok' })).toBe(okBefore + 4);
      expect(sample(after.families, 'splitserve_completion_tokens_total', { tier: 'priority' })).toBeGreaterThan(0);
      // Streams have a TTFT; the non-streamed answer has none.
      const ttftCount = after.text.split('\n').find((l) => l.startsWith('splitserve_ttft_seconds_count{tier="priority"}'));
      expect(Number(ttftCount?.split(' ')[1])).toBeGreaterThanOrEqual(3);
      expect(after.text).toContain('splitserve_tpot_seconds_count{tier="priority"}');

      const snapshot = await status(runtime.url);
      const priority = snapshot.tiers.find((t) => t.tier === 'priority')!;
      expect(priority.requests).toBeGreaterThanOrEqual(4);
      expect(priority.ttftMs.samples).toBeGreaterThanOrEqual(3);
      expect(priority.ttftMs.p50).toBeGreaterThan(0);
      expect(priority.tpotMs.p99).not.toBeNull();
      expect(priority.requestsPerSecond).toBeGreaterThan(0);
      for (const text of [after.text, JSON.stringify(snapshot)]) {
        expect(text).not.toContain('stack-test');
        expect(text).not.toContain(KEY);
      }
    });

    it('counts a failed backend call by pool and class, and lists it among the pool\'s recent errors', async () => {
      const before = await scrape(runtime.url);
      const errorsBefore = sample(before.families, 'splitserve_backend_errors_total', { pool: 'prefill', class: 'http-5xx' });
      // The next prefill call fails (500); its retry succeeds. Not streamed: on the stack runtime the
      // Prefill task function makes the call, and reports it.
      await setFaults(runtime, 'prefill', { failNth: [(await simCalls(runtime, 'prefill')) + 1] });
      try {
        await client.chat.completions.create({ model: MODEL, service_tier: 'priority', max_tokens: 8, messages: [{ role: 'user', content: 'hi' }] });
      } finally {
        await setFaults(runtime, 'prefill', {});
      }
      const after = await scrape(runtime.url);
      expect(sample(after.families, 'splitserve_backend_errors_total', { pool: 'prefill', class: 'http-5xx' })).toBe(errorsBefore + 1);
      const prefill = (await status(runtime.url)).pools.find((p) => p.pool === 'prefill')!;
      expect(prefill.recentErrors[0]).toMatchObject({ errorClass: 'http-5xx', upstreamStatus: 500 });
    });

    more?.(() => runtime);
  });
}

/** A tenant limited to one request a minute at the default tier: its second request is refused. */
function quotaRefusal(runtime: () => Runtime) {
  it('counts a quota 429 by tier and reason', async () => {
    const { url } = runtime();
    const limited = new OpenAI({ baseURL: `${url}/v1`, apiKey: LIMITED_KEY, maxRetries: 0 });
    const ask = { model: MODEL, max_tokens: 4, messages: [{ role: 'user' as const, content: 'hi' }] };
    await limited.chat.completions.create(ask);
    const refused = await limited.chat.completions.create(ask).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(refused).toBeInstanceOf(APIError);
    expect((refused as APIError).status).toBe(429);
    const { families } = await scrape(url);
    expect(sample(families, 'splitserve_refused_total', { tier: 'default', reason: 'requests' })).toBe(1);
    expect((await status(url)).tiers.find((t) => t.tier === 'default')!.refused.requests).toBe(1);
  });
}

describeObservability('the synthesized stack (npm start)', () => startTestStack());

describeObservability(
  'the node runtime (--runtime node)',
  () =>
    startLocal({
      config: parseConfig({
        ...CONFIG,
        tenants: [...CONFIG.tenants, { id: 'limited', apiKeys: [LIMITED_KEY], tiers: ['default'], limits: { default: { rpm: 1 } } }],
      }),
      port: 0,
      logger: silentLogger,
    }),
  quotaRefusal,
);
