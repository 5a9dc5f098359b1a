/**
 * The premium tier under load, one suite for both runtimes (the gateway core over the Node adapter
 * with the in-process executor, and the synthesized stack with the Step Functions executor for
 * non-streamed requests), on a disaggregated route whose prefill engine has one batch slot and
 * schedules by vLLM's priority policy. Every tier shares the one prefill → decode pair:
 * - the tier's engine priority reaches prefill and decode;
 * - a priority request is served before the lower-tier requests queued before it;
 * - a burst of one tenant's default requests is shed with a clean 429 (exact body and headers)
 *   while a light tenant of the same tier is still served, and priority is never shed;
 * - usage records carry TTFT, TPOT, SLO met and cost units (priority's price factor is 2), and
 *   shed requests are recorded as such;
 * - a client that goes away closes the engine's request at once (within 50 ms).
 */
import { ListTablesCommand } from '@aws-sdk/client-dynamodb';
import OpenAI from 'openai';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { UsageRecord } from '../../lambda/core/ports.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import { localDynamoClient } from '../../local/embedded-dynamo.ts';
import type { SimStats } from '../../sim/index.ts';

export const TIER_MODEL = 'llama-3.1-8b';
export const TIER_KEYS = {
  acme: 'sk-ss-test-tiers-acme-0123456789abcdef01234',
  light: 'sk-ss-test-tiers-light-0123456789abcdef0123',
  burst: 'sk-ss-test-tiers-burst-0123456789abcdef0123',
} as const;

/**
 * The suite's config. The prefill engine: one slot, ~125 ms per 1,000-token prompt (Trainium
 * profile, 8,000 prompt tokens/s), polled every 25 ms. Default's queueing budget is 500 ms (half
 * its 1,000 ms TTFT target); flex has no SLO (it never yields); priority costs twice the tokens.
 */
export const TIER_CONFIG = {
  pools: {
    prefill: {
      protocol: 'vllm-nixl',
      role: 'prefill',
      simulate: { profile: 'trainium-prefill', replicas: 1, speedup: 1, slots: 1, schedulingPolicy: 'priority' },
      load: { intervalMs: 25 },
    },
    decode: { protocol: 'vllm-nixl', role: 'decode', simulate: { profile: 'cerebras-decode', replicas: 1, speedup: 1, schedulingPolicy: 'priority' }, load: { intervalMs: 25 } },
  },
  models: { [TIER_MODEL]: { pools: ['prefill', 'decode'] } },
  tiers: {
    priority: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' }, slo: { ttftMs: 2000, tpotMs: 50 }, priceFactor: 2 },
    default: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' }, slo: { ttftMs: 1000, tpotMs: 50 } },
    flex: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' } },
  },
  tenants: [
    { id: 'acme', apiKeys: [TIER_KEYS.acme], tiers: ['priority', 'default', 'flex'] },
    { id: 'light', apiKeys: [TIER_KEYS.light], tiers: ['default'] },
    { id: 'burst', apiKeys: [TIER_KEYS.burst], tiers: ['default'] },
  ],
};

/** A running gateway over {@link TIER_CONFIG}. */
export interface TierTarget {
  readonly url: string;
  /** The store's endpoint, where the usage records are. */
  readonly storeEndpoint: string;
  /** Pool name → the simulators' endpoints. */
  readonly simulators: Readonly<Record<string, readonly string[]>>;
  close(): Promise<void>;
}

/** About 1,000 prompt tokens (4 characters a token): ~125 ms of prefill. */
const LONG = 'Prefill is compute-bound and decode is bandwidth-bound, so they run on different hardware. '.repeat(45);

type Tier = 'priority' | 'default' | 'flex';

/** Registers the suite against `start`'s gateway, naming the runtime. */
export function describeTierScenarios(runtime: string, start: () => Promise<TierTarget>): void {
  describe(`tiers under load (${runtime}; disaggregated route, a one-slot prefill engine)`, () => {
    let target: TierTarget;
    const clients = {} as Record<keyof typeof TIER_KEYS, OpenAI>;

    beforeAll(async () => {
      target = await start();
      for (const [name, key] of Object.entries(TIER_KEYS)) clients[name as keyof typeof TIER_KEYS] = new OpenAI({ baseURL: `${target.url}/v1`, apiKey: key, maxRetries: 0 });
    }, 240_000);
    afterAll(async () => {
      await target?.close();
    });

    const simStats = async (pool: string): Promise<SimStats> => (await fetch(`${target.simulators[pool]![0]}/sim/stats`)).json() as Promise<SimStats>;
    const lastBody = async (pool: string) => (await simStats(pool)).recent.at(-1)?.body as Record<string, unknown>;
    const ask = (tier: Tier, content = 'Say hi', max_tokens = 4) => ({ model: TIER_MODEL, messages: [{ role: 'user' as const, content }], max_tokens, service_tier: tier as 'priority' });

    /** A streamed request: its TTFT (ms since it was sent) and tier served; rejects with the API error. */
    const stream = async (client: OpenAI, tier: Tier, content = LONG, maxTokens = 4) => {
      const t0 = performance.now();
      let ttft: number | undefined;
      let served: string | null | undefined;
      for await (const chunk of await client.chat.completions.create({ ...ask(tier, content, maxTokens), stream: true })) {
        served = chunk.service_tier;
        if (ttft === undefined && chunk.choices[0]?.delta.content) ttft = performance.now() - t0;
      }
      return { ttft: ttft!, served, at: t0 + ttft! };
    };

    const usage = async (tenant: string): Promise<UsageRecord[]> => {
      const dynamo = localDynamoClient(target.storeEndpoint);
      const table = (await dynamo.send(new ListTablesCommand({}))).TableNames?.find((n) => /usage/i.test(n));
      return usageRecords(dynamo, table!, tenant, Date.now());
    };

    it('each tier\'s engine priority reaches prefill and decode, streamed and not (vLLM: lower first)', async () => {
      for (const [tier, priority] of [['priority', -10], ['default', 0], ['flex', 10]] as const) {
        for (const streamed of [true, false]) {
          if (streamed) await stream(clients.acme, tier, 'hi');
          else expect((await clients.acme.chat.completions.create(ask(tier))).service_tier).toBe(tier);
          expect((await lastBody('prefill')).priority, `${tier} prefill, stream ${streamed}`).toBe(priority);
          expect((await lastBody('decode')).priority, `${tier} decode, stream ${streamed}`).toBe(priority);
          expect((await lastBody('decode')).service_tier).toBeUndefined();
        }
      }
    });

    it('a priority request is served before the lower-tier requests queued before it', async () => {
      const flex = Array.from({ length: 6 }, () => stream(clients.acme, 'flex'));
      const deadline = Date.now() + 5000;
      while ((await simStats('prefill')).queued < 4 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const queuedBefore = (await simStats('prefill')).queued;
      expect(queuedBefore).toBeGreaterThanOrEqual(4);
      const priority = await stream(clients.acme, 'priority');
      const done = await Promise.all(flex);
      expect(priority.served).toBe('priority');
      // At most the flex request holding the slot (and one more that started as it was sent) finished prefill before it.
      expect(done.filter((f) => f.at < priority.at).length).toBeLessThanOrEqual(2);
      expect(priority.ttft).toBeLessThan(Math.max(...done.map((f) => f.ttft)));
    });

    /** The gateway's own count of sheds at a tier (`GET /metrics`, the local runtimes' Prometheus text). */
    const shedCount = async (tier: Tier): Promise<number> => {
      const families = parsePrometheusTextFormat(await (await fetch(`${target.url}/metrics`)).text());
      const sample = families.find((f) => f.name === 'splitserve_refused_total')?.metrics.find((m) => m.labels?.tier === tier && m.labels.reason === 'overload');
      return Number(sample?.value ?? 0);
    };

    it('sheds a bursting tenant\'s default requests with a clean 429: exact body and headers', async () => {
      // A warm prefill engine: its capacity and completion rate are measured from /metrics.
      await Promise.all(Array.from({ length: 4 }, () => stream(clients.acme, 'flex')));
      const shedBefore = await shedCount('default');
      const burst = await Promise.allSettled(Array.from({ length: 12 }, () => stream(clients.burst, 'default')));
      await new Promise((r) => setTimeout(r, 0));
      const shed = burst.filter((b): b is PromiseRejectedResult => b.status === 'rejected');
      expect(shed.length).toBeGreaterThanOrEqual(1);
      expect(burst.length - shed.length).toBeGreaterThanOrEqual(1);
      // Each shed is counted once, by tier asked and reason.
      expect(await shedCount('default')).toBe(shedBefore + shed.length);
      for (const { reason } of shed) {
        expect(reason).toBeInstanceOf(OpenAI.RateLimitError);
        const err = reason as InstanceType<typeof OpenAI.RateLimitError>;
        expect(err.status).toBe(429);
        expect(err.error).toEqual({
          message: expect.stringMatching(/^Resource unavailable: the 'default' service tier is at capacity \(estimated queue [\d.]+ (ms|s), over its 500 ms bound\)\. Please retry in \d+s, or use a higher service_tier\.$/),
          type: 'resource_unavailable',
          param: null,
          code: 'resource_unavailable',
        });
        expect(Number(err.headers?.get('retry-after'))).toBeGreaterThanOrEqual(1);
        expect(Number(err.headers?.get('retry-after-ms'))).toBeGreaterThanOrEqual(100);
        expect(err.headers?.get('x-should-retry')).toBe('true');
        expect(err.headers?.get('x-request-id')).toMatch(/^req_/);
      }
    });

    it('while one tenant bursts: the light tenant of the same tier and the priority tier are served', async () => {
      await Promise.all(Array.from({ length: 4 }, () => stream(clients.acme, 'flex')));
      const burst = Array.from({ length: 12 }, () => stream(clients.burst, 'default').then(() => 'served', (e: unknown) => (e as { status?: number }).status));
      await new Promise((r) => setTimeout(r, 60));
      const light = [await stream(clients.light, 'default'), await stream(clients.light, 'default')];
      const priority = await stream(clients.acme, 'priority');
      const outcomes = await Promise.all(burst);
      expect(outcomes).toContain(429);
      expect(outcomes.every((o) => o === 'served' || o === 429)).toBe(true);
      expect(light.map((l) => l.served)).toEqual(['default', 'default']);
      expect(priority.served).toBe('priority');
    });

    it('meters TTFT, TPOT, SLO met and cost units per request, and records the sheds', async () => {
      const streamed = await stream(clients.acme, 'priority', 'hello there', 8);
      expect(streamed.served).toBe('priority');
      const whole = await clients.acme.chat.completions.create(ask('priority', 'hello again', 8));
      /** The tenant's records once `enough` holds of them (records are written after the response, batched). */
      const recordsOf = async (tenant: string, enough: (records: UsageRecord[]) => boolean) => {
        let records: UsageRecord[] = [];
        for (let i = 0; i < 100 && !enough((records = await usage(tenant))); i += 1) await new Promise((r) => setTimeout(r, 50));
        return records;
      };
      const eight = (records: UsageRecord[]) => records.filter((r) => r.tierServed === 'priority' && r.completionTokens === 8);
      const acme = eight(await recordsOf('acme', (records) => eight(records).length >= 2));
      const streamRecord = acme.find((r) => r.ttftMs !== null)!;
      const jsonRecord = acme.find((r) => r.ttftMs === null)!;
      expect(streamRecord).toMatchObject({ outcome: 'ok', sloMet: true, costUnits: (streamRecord.promptTokens + 8) * 2 });
      expect(streamRecord.ttftMs).toBeGreaterThan(0);
      expect(streamRecord.tpotMs).toBeGreaterThanOrEqual(0);
      expect(streamRecord.tpotMs).toBeCloseTo((streamRecord.totalMs - streamRecord.ttftMs!) / 7, 0);
      expect(jsonRecord).toMatchObject({ outcome: 'ok', ttftMs: null, tpotMs: null, sloMet: true, costUnits: (whole.usage!.prompt_tokens + 8) * 2 });
      const light = (await recordsOf('light', (records) => records.length >= 2)).filter((r) => r.outcome === 'ok');
      expect(light.length).toBeGreaterThanOrEqual(2);
      for (const r of light) expect(r.costUnits).toBe(r.promptTokens + r.completionTokens);
      const sheds = (await recordsOf('burst', (records) => records.some((r) => r.outcome === 'shed'))).filter((r) => r.outcome === 'shed');
      expect(sheds.length).toBeGreaterThanOrEqual(2);
      for (const r of sheds) expect(r).toMatchObject({ tierServed: 'default', promptTokens: 0, completionTokens: 0, costUnits: 0, sloMet: null, ttftMs: null });
    });

    /** Aborts a stream after its first content chunk; resolves with when (Date.now()). */
    const abortAfterFirstToken = async () => {
      const abort = new AbortController();
      const answer = await clients.acme.chat.completions.create({ ...ask('priority', 'tell me a long story', 4000), stream: true }, { signal: abort.signal });
      for await (const chunk of answer) {
        if (chunk.choices[0]?.delta.content) {
          const at = Date.now();
          abort.abort();
          return at;
        }
      }
      throw new Error('the stream ended before any content');
    };
    /** Waits until a simulator has recorded `count` aborted calls; returns the last one. */
    const nthAbort = async (pool: string, count: number) => {
      const deadline = Date.now() + 2000;
      let seen: SimStats['abortedCalls'] = [];
      while ((seen = (await simStats(pool)).abortedCalls).length < count && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(seen.length).toBe(count);
      return seen.at(-1)!;
    };

    it('a client that goes away mid-stream closes the decode call at once', async () => {
      // Not measured: the first abort in a process pays one-time costs. In a test worker the Lambda
      // bundle's first error stack goes through the test runner's source-map support (39 ms
      // measured), which the Lambda runtime does not have.
      const warm = (await simStats('decode')).abortedCalls.length;
      await abortAfterFirstToken();
      await nthAbort('decode', warm + 1);
      const abortedAt = await abortAfterFirstToken();
      const closed = await nthAbort('decode', warm + 2);
      expect(closed.at - abortedAt).toBeLessThanOrEqual(50);
    });

    it('a client that goes away while its prefill waits closes the prefill call at once', async () => {
      const busy = Array.from({ length: 3 }, () => stream(clients.acme, 'flex'));
      const deadline = Date.now() + 5000;
      while ((await simStats('prefill')).queued < 2 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const before = (await simStats('prefill')).abortedCalls.length;
      const abort = new AbortController();
      const pending = clients.acme.chat.completions.create({ ...ask('flex', LONG), stream: true }, { signal: abort.signal }).catch((e: unknown) => e);
      while ((await simStats('prefill')).queued < 3 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      const abortedAt = Date.now();
      abort.abort();
      expect(await pending).toBeInstanceOf(Error);
      let seen: SimStats['abortedCalls'] = [];
      while ((seen = (await simStats('prefill')).abortedCalls).length === before && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      expect(seen.length).toBe(before + 1);
      expect(seen.at(-1)!.at - abortedAt).toBeLessThanOrEqual(50);
      await Promise.all(busy);
    });
  });
}
