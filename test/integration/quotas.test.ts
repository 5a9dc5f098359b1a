/**
 * Quotas through the whole gateway, called with the official `openai` client: rate-limit headers on
 * every answer, 429 `rate_limit_exceeded` with retry-after (which the client's own retry honours),
 * 429 `insufficient_quota` that the client does not retry, and exact admission under concurrency.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { LOCAL_TABLE_NAMES } from '../../lambda/store/table-schema.ts';
import { windowItemKey } from '../../lambda/store/usage-items.ts';
import { localDynamoClient } from '../../local/embedded-dynamo.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import { startSimulator } from '../../sim/index.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { startMinuteGateway } from '../helpers/minute-gateway.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

const MODEL = 'llama-3.1-8b';
const KEYS = {
  rpm: 'sk-ss-test-rpm-0123456789abcdef0123456789abcd',
  tpm: 'sk-ss-test-tpm-0123456789abcdef0123456789abcd',
  budget: 'sk-ss-test-budget-0123456789abcdef0123456789a',
  retry: 'sk-ss-test-retry-0123456789abcdef0123456789ab',
};

/** How close to a minute's end the admission clock of the retry tenant starts. */
const MINUTE_EDGE_MS = 600;

describe('quotas through the gateway', () => {
  let gpu: SimulatorHandle;
  let local: LocalGateway;
  let now: () => number = Date.now;
  const client = (key: string, maxRetries = 0) => new OpenAI({ baseURL: `${local.url}/v1`, apiKey: key, maxRetries });
  const ask = { model: MODEL, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 4, service_tier: 'default' as const };

  beforeAll(async () => {
    // The gateway's clock has just entered a minute, so that no test here straddles two minutes.
    ({ gpu, local, now } = await startMinuteGateway(MODEL, { schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 1000 }, {
      tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
      tenants: [
        { id: 'rpm', apiKeys: [KEYS.rpm], tiers: ['default'], limits: { default: { rpm: 50 } } },
        { id: 'tpm', apiKeys: [KEYS.tpm], tiers: ['default'], limits: { default: { tpm: 1000 } } },
        // A request of `ask` reserves 90 (its bound, below) and uses 5: a few fit, then the month is spent.
        { id: 'budget', apiKeys: [KEYS.budget], tiers: ['default'], limits: { default: { monthlyTokens: 120 } } },
      ],
      defaultMaxTokens: 40,
    }));
  });
  afterAll(async () => {
    await local?.close();
    await gpu?.close();
  });

  it('admits exactly the rpm limit of 120 concurrent requests; the rest get 429 with retry-after', async () => {
    const c = client(KEYS.rpm);
    const results = await Promise.all(
      Array.from({ length: 120 }, () =>
        c.chat.completions
          .create(ask)
          .withResponse()
          .then(({ response }) => ({ ok: true as const, headers: response.headers }))
          .catch((err: unknown) => ({ ok: false as const, err })),
      ),
    );
    const admitted = results.filter((r) => r.ok);
    const refused = results.filter((r) => !r.ok);
    expect(admitted).toHaveLength(50);
    expect(refused).toHaveLength(70);
    for (const r of refused) {
      const err = r.err as InstanceType<typeof OpenAI.RateLimitError>;
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect(err.code).toBe('rate_limit_exceeded');
      expect(Number(err.headers?.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(err.headers?.get('retry-after-ms'))).toBeGreaterThan(0);
    }
    const remaining = admitted.map((r) => Number(r.ok && r.headers.get('x-ratelimit-remaining-requests'))).sort((a, b) => a - b);
    expect(remaining[0]).toBe(0);
    for (const r of admitted) if (r.ok) expect(r.headers.get('x-ratelimit-limit-requests')).toBe('50');
  });

  it('reserves tokens at admission and reconciles them with the real usage', async () => {
    const c = client(KEYS.tpm);
    // Without max_tokens a request reserves the upper bound of its prompt (64 per request + 16
    // per message + a token per byte of "user" and "hi": 86) + defaultMaxTokens (40) of the 1000
    // tokens per minute, and the gateway sends that limit, so the backend generates 40, not its own default (16).
    const { max_tokens: _none, ...unbounded } = ask;
    const first = await c.chat.completions.create(unbounded).withResponse();
    expect(first.response.headers.get('x-ratelimit-limit-tokens')).toBe('1000');
    expect(Number(first.response.headers.get('x-ratelimit-remaining-tokens'))).toBe(1000 - 126);
    expect((gpu.stats().recent.at(-1)?.body as Record<string, unknown>).max_completion_tokens).toBe(40);
    await local.runtime.flush();
    const dynamo = localDynamoClient(local.storeEndpoint);
    const item = await dynamo.send(new GetItemCommand({ TableName: LOCAL_TABLE_NAMES.usage, Key: windowItemKey('tpm', 'default', 0, now()), ConsistentRead: true }));
    dynamo.destroy();
    const used = first.data.usage!.total_tokens;
    expect(used).toBe(41);
    expect(Number(item.Item?.tok?.N)).toBe(used);
  });

  it('answers insufficient_quota once the monthly budget is spent, and the client does not retry it', async () => {
    const calls = gpu.stats().calls;
    const c = client(KEYS.budget, 2);
    const outcomes: unknown[] = [];
    for (let i = 0; i < 8; i += 1) outcomes.push(await c.chat.completions.create(ask).catch((e: unknown) => e));
    const quota = outcomes.filter((o) => o instanceof OpenAI.RateLimitError) as Array<InstanceType<typeof OpenAI.RateLimitError>>;
    expect(quota.length).toBeGreaterThan(0);
    for (const e of quota) {
      expect(e.code).toBe('insufficient_quota');
      expect(e.headers?.get('x-should-retry')).toBe('false');
    }
    // Only admitted requests reached the backend: refusals cost no backend call and no retry.
    expect(gpu.stats().calls - calls).toBe(8 - quota.length);
  });
});

describe('retry-after with the openai client', () => {
  let gpu: SimulatorHandle;
  let edge: LocalGateway;
  const ask = { model: MODEL, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 4 };

  beforeAll(async () => {
    gpu = await startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 1000 });
    const config = parseConfig({
      pools: { gpu: { protocol: 'openai', endpoints: [gpu.url] } },
      models: { [MODEL]: { pools: ['gpu'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
      tenants: [{ id: 'retry', apiKeys: [KEYS.retry], tiers: ['default'], limits: { default: { rpm: 1 } } }],
    });
    edge = await startLocal({ port: 0, logger: silentLogger, config, now: () => clock() });
  });
  afterAll(async () => {
    await edge?.close();
    await gpu?.close();
  });

  /** Set by the test: the admission clock, MINUTE_EDGE_MS before a minute ends when the test starts. */
  let clock: () => number = Date.now;

  it('lets the openai client retry a rate-limited request after retry-after, and then be served', async () => {
    const offset = 60_000 - MINUTE_EDGE_MS - (Date.now() % 60_000);
    clock = () => Date.now() + offset;
    // The admission clock sits 600 ms before the end of a minute: the second request of the
    // minute is refused with retry-after-ms ≈ 600, the client waits that long, retries in the
    // next minute, and is served.
    const c = new OpenAI({ baseURL: `${edge.url}/v1`, apiKey: KEYS.retry, maxRetries: 0 });
    await c.chat.completions.create(ask);
    const started = Date.now();
    const attempts: Array<{ at: number; status: number; retryAfterMs: number }> = [];
    const recording = new OpenAI({
      baseURL: `${edge.url}/v1`,
      apiKey: KEYS.retry,
      maxRetries: 1,
      fetch: async (url, init) => {
        const res = await fetch(url, init);
        attempts.push({ at: Date.now() - started, status: res.status, retryAfterMs: Number(res.headers.get('retry-after-ms')) });
        return res;
      },
    });
    const res = await recording.chat.completions.create(ask);
    expect(res.choices.length).toBe(1);
    expect(attempts.map((a) => a.status)).toEqual([429, 200]);
    expect(attempts[0]!.retryAfterMs).toBeGreaterThan(0);
    expect(attempts[0]!.retryAfterMs).toBeLessThanOrEqual(MINUTE_EDGE_MS);
    expect(attempts[1]!.at - attempts[0]!.at).toBeGreaterThanOrEqual(attempts[0]!.retryAfterMs - 20);
  });
});
