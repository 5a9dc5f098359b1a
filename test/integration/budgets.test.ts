/**
 * Budgets never overspend beyond one request, under concurrency, through the whole gateway called
 * with the official `openai` client against the simulator: waves of 60 concurrent requests
 * (streamed and not, with and without max_tokens, multi-byte prompts, a price factor) against a
 * monthly budget in cost units, and one wave against a tokens-per-minute limit. Each refusal is
 * the right 429: status, body, headers.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { costUnits } from '../../lambda/core/cost.ts';
import { tokenBounds } from '../../lambda/core/token-estimate.ts';
import type { GenerationBody } from '../../lambda/core/request-schema.ts';
import { LOCAL_TABLE_NAMES } from '../../lambda/store/table-schema.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import { windowItemKey } from '../../lambda/store/usage-items.ts';
import { localDynamoClient } from '../../local/embedded-dynamo.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { startMinuteGateway } from '../helpers/minute-gateway.ts';

const MODEL = 'llama-3.1-8b';
const KEYS = {
  month: 'sk-ss-test-month-0123456789abcdef0123456789ab',
  tpm: 'sk-ss-test-tpm2-0123456789abcdef0123456789abc',
  rpm: 'sk-ss-test-rpm2-0123456789abcdef0123456789abc',
  tpm400: 'sk-ss-test-tpm400-0123456789abcdef0123456789',
  tiny: 'sk-ss-test-tiny-0123456789abcdef0123456789abc',
  spent: 'sk-ss-test-spent-0123456789abcdef0123456789ab',
};
/** The monthly budget, in cost units, and the tier's price factor. */
const BUDGET = 3000;
const PRICE = 2;
const TPM = 3000;
/** The gateway's default completion limit, below the simulator's own default (16): it must be sent. */
const DEFAULT_MAX_TOKENS = 8;

type Ask = OpenAI.Chat.ChatCompletionCreateParamsNonStreaming | OpenAI.Chat.ChatCompletionCreateParamsStreaming;

/** Request `i` of a wave: varied text (ASCII, accented, CJK, emoji), length, limits, streaming. */
function request(i: number): Ask {
  const texts = ['Tell me about prefill.', 'Ça coûte combien, déjà ?', '日本語で説明してください。', '👋🏽 hi there '.repeat(3)];
  // Every sixth is a conversation of 30 one-character turns: the engine's prompt (joined with line
  // feeds, as a chat template adds its markers) is twice a characters / 4 estimate.
  const messages =
    i % 6 === 5
      ? Array.from({ length: 30 }, (_, k) => ({ role: k % 2 ? ('assistant' as const) : ('user' as const), content: 'abcdefgh'[k % 8]! }))
      : [{ role: 'user' as const, content: texts[i % 4]!.repeat(1 + (i % 3)) }];
  const base = { model: MODEL, service_tier: 'default' as const, messages };
  const limit = i % 5 === 0 ? {} : { max_tokens: 4 + (i % 7) };
  return i % 2 === 0 ? { ...base, ...limit, stream: true, stream_options: { include_usage: true } } : { ...base, ...limit };
}

/** What the gateway reserves for a request (the same bound, in cost units at the tier's price). */
function reservedCost(ask: Ask): number {
  const { total } = tokenBounds('chat', structuredClone(ask) as unknown as GenerationBody, DEFAULT_MAX_TOKENS);
  return costUnits(total, PRICE);
}

async function send(c: OpenAI, ask: Ask): Promise<{ ok: true } | { ok: false; err: unknown }> {
  try {
    if (ask.stream) {
      const stream = await c.chat.completions.create(ask);
      for await (const _chunk of stream) void _chunk;
    } else {
      await c.chat.completions.create(ask);
    }
    return { ok: true };
  } catch (err) {
    return { ok: false, err };
  }
}

describe('budgets under concurrency', () => {
  let gpu: SimulatorHandle;
  let local: LocalGateway;
  let now: () => number = Date.now;
  const client = (key: string) => new OpenAI({ baseURL: `${local.url}/v1`, apiKey: key, maxRetries: 0 });

  beforeAll(async () => {
    // The gateway's clock has just entered a minute, so that no test here straddles two minutes.
    ({ gpu, local, now } = await startMinuteGateway(MODEL, { schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 1000, slots: 64 }, {
      tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' }, priceFactor: PRICE } },
      tenants: [
        { id: 'month', apiKeys: [KEYS.month], tiers: ['default'], limits: { default: { monthlyTokens: BUDGET } } },
        { id: 'tpm2', apiKeys: [KEYS.tpm], tiers: ['default'], limits: { default: { tpm: TPM } } },
        { id: 'rpm', apiKeys: [KEYS.rpm], tiers: ['default'], limits: { default: { rpm: 2 } } },
        { id: 'tpm400', apiKeys: [KEYS.tpm400], tiers: ['default'], limits: { default: { tpm: 400, monthlyTokens: 100_000 } } },
        { id: 'tiny', apiKeys: [KEYS.tiny], tiers: ['default'], limits: { default: { monthlyTokens: 100 } } },
        { id: 'spent', apiKeys: [KEYS.spent], tiers: ['default'], limits: { default: { monthlyTokens: 300 } } },
      ],
      defaultMaxTokens: DEFAULT_MAX_TOKENS,
    }));
  });
  afterAll(async () => {
    await local?.close();
    await gpu?.close();
  });

  it('meters at most the monthly budget over waves of 60 concurrent requests until it is spent; every refusal is insufficient_quota', async () => {
    const c = client(KEYS.month);
    const asks = Array.from({ length: 60 }, (_, i) => request(i));
    const largest = Math.max(...asks.map(reservedCost));
    const refusals: unknown[] = [];
    let admitted = 0;
    for (let wave = 0; wave < 40; wave += 1) {
      const results = await Promise.all(asks.map((ask) => send(c, ask)));
      const refused = results.filter((r) => !r.ok).map((r) => (r as { err: unknown }).err);
      refusals.push(...refused);
      admitted += results.length - refused.length;
      await local.runtime.flush();
      if (refused.length === results.length) break; // the rest of the budget holds no request any more
    }
    expect(admitted).toBeGreaterThan(40);
    expect(refusals.length).toBeGreaterThan(0);
    for (const err of refusals) {
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      const e = err as InstanceType<typeof OpenAI.RateLimitError>;
      expect(e.status).toBe(429);
      expect(e.code).toBe('insufficient_quota');
      expect(e.type).toBe('insufficient_quota');
      expect(e.headers?.get('x-should-retry')).toBe('false');
      expect(e.headers?.get('retry-after')).toBeNull();
    }

    const dynamo = localDynamoClient(local.storeEndpoint);
    try {
      const records = (await usageRecords(dynamo, LOCAL_TABLE_NAMES.usage, 'month', now())).filter((r) => r.outcome !== 'shed');
      expect(records).toHaveLength(admitted);
      // Every request stayed within its limit (at most 10 asked, 8 by default: not the simulator's own 16).
      for (const r of records) expect(r.completionTokens).toBeLessThanOrEqual(10);
      const metered = records.reduce((sum, r) => sum + r.costUnits, 0);
      const item = await dynamo.send(new GetItemCommand({ TableName: LOCAL_TABLE_NAMES.usage, Key: windowItemKey('month', 'default', 0, now()), ConsistentRead: true }));
      // The month's counter, once reconciled, is exactly what was metered.
      expect(Number(item.Item?.mon?.N)).toBe(metered);
      // The requirement: at most one request's worth over the budget. In fact never over it (every
      // reservation is an upper bound of its usage) and spent to within one reservation.
      expect(metered).toBeLessThanOrEqual(BUDGET + largest);
      expect(metered).toBeLessThanOrEqual(BUDGET);
      expect(metered).toBeGreaterThan(BUDGET - 2 * largest);
    } finally {
      dynamo.destroy();
    }
  });

  it('keeps a tokens-per-minute limit under 60 concurrent requests; refusals are type tokens with retry-after and x-ratelimit headers', async () => {
    const c = client(KEYS.tpm);
    const asks = Array.from({ length: 60 }, (_, i) => request(i));
    const results = await Promise.all(asks.map((ask) => send(c, ask)));
    const refused = results.filter((r) => !r.ok).map((r) => (r as { err: unknown }).err as InstanceType<typeof OpenAI.RateLimitError>);
    expect(refused.length).toBeGreaterThan(0);
    expect(refused.length).toBeLessThan(60);
    for (const e of refused) {
      expect(e).toBeInstanceOf(OpenAI.RateLimitError);
      expect(e.type).toBe('tokens');
      expect(e.code).toBe('rate_limit_exceeded');
      expect(e.message).toMatch(/^429 Rate limit reached on tier default on tokens per min \(TPM\): Limit 3000, Used \d+, Requested \d+\. Please try again in \d+\.\ds\.$/);
      expect(Number(e.headers?.get('retry-after'))).toBeGreaterThan(0);
      expect(Number(e.headers?.get('retry-after-ms'))).toBeGreaterThan(0);
      expect(e.headers?.get('x-ratelimit-limit-tokens')).toBe(String(TPM));
      expect(Number(e.headers?.get('x-ratelimit-remaining-tokens'))).toBeLessThan(TPM);
      expect(e.headers?.get('x-ratelimit-reset-tokens')).toMatch(/^\d+(ms|s|m\d+s)$/);
    }
    await local.runtime.flush();
    const dynamo = localDynamoClient(local.storeEndpoint);
    try {
      const records = await usageRecords(dynamo, LOCAL_TABLE_NAMES.usage, 'tpm2', now());
      const used = records.reduce((sum, r) => sum + r.promptTokens + r.completionTokens, 0);
      const item = await dynamo.send(new GetItemCommand({ TableName: LOCAL_TABLE_NAMES.usage, Key: windowItemKey('tpm2', 'default', 0, now()), ConsistentRead: true }));
      expect(Number(item.Item?.tok?.N)).toBe(used);
      expect(used).toBeLessThanOrEqual(TPM);
    } finally {
      dynamo.destroy();
    }
  });

  describe('each refusal: status, body, headers', () => {
    /** `hi` with max_tokens 10 reserves 64 + 16 + 4 + 2 + 10 = 96 tokens (192 cost units at the price factor). */
    const small = { model: MODEL, service_tier: 'default' as const, messages: [{ role: 'user' as const, content: 'hi' }], max_tokens: 10 };
    const refusal = async (key: string, ask: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming, times = 1) => {
      const results = await Promise.all(Array.from({ length: times }, () => send(client(key), ask)));
      const errs = results.filter((r) => !r.ok).map((r) => (r as { err: unknown }).err as InstanceType<typeof OpenAI.APIError>);
      expect(errs.length).toBeGreaterThan(0);
      return { admitted: results.length - errs.length, err: errs[0]! };
    };
    const headersOf = (e: InstanceType<typeof OpenAI.APIError>, names: string[]) => Object.fromEntries(names.map((n) => [n, e.headers?.get(n) ?? null]));
    const RETRY = ['retry-after', 'retry-after-ms', 'x-should-retry'];

    it('requests per minute: 429 type requests, Limit/Used/Requested, retry-after to the minute end, x-ratelimit-*-requests', async () => {
      const { admitted, err } = await refusal(KEYS.rpm, small, 3);
      expect(admitted).toBe(2);
      expect(err.status).toBe(429);
      expect(err.error).toEqual({ message: expect.stringMatching(/^Rate limit reached on tier default on requests per min \(RPM\): Limit 2, Used 2, Requested 1\. Please try again in \d+\.\ds\.$/), type: 'requests', param: null, code: 'rate_limit_exceeded' });
      const h = headersOf(err, [...RETRY, 'x-ratelimit-limit-requests', 'x-ratelimit-remaining-requests', 'x-ratelimit-reset-requests']);
      expect(Number(h['retry-after'])).toBe(Math.ceil(Number(h['retry-after-ms']) / 1000));
      expect(Number(h['retry-after-ms'])).toBeGreaterThan(0);
      expect(Number(h['retry-after-ms'])).toBeLessThanOrEqual(60_000);
      expect(h).toMatchObject({ 'x-should-retry': null, 'x-ratelimit-limit-requests': '2', 'x-ratelimit-remaining-requests': '0' });
      expect(h['x-ratelimit-reset-requests']).toMatch(/^\d+(ms|s|m\d+s)$/);
    });

    it('tokens per minute: 429 type tokens, Limit/Used/Requested, retry-after, x-ratelimit-*-tokens', async () => {
      // Twelve concurrent reservations of 96: four fit the 400 at a time.
      const { admitted, err } = await refusal(KEYS.tpm400, small, 12);
      expect(admitted).toBeGreaterThanOrEqual(4);
      expect(err.error).toEqual({ message: expect.stringMatching(/^Rate limit reached on tier default on tokens per min \(TPM\): Limit 400, Used \d+, Requested 96\. Please try again in \d+\.\ds\.$/), type: 'tokens', param: null, code: 'rate_limit_exceeded' });
      const h = headersOf(err, [...RETRY, 'x-ratelimit-limit-tokens', 'x-ratelimit-remaining-tokens']);
      expect(Number(h['retry-after-ms'])).toBeGreaterThan(0);
      expect(h['x-should-retry']).toBeNull();
      expect(h['x-ratelimit-limit-tokens']).toBe('400');
      expect(Number(h['x-ratelimit-remaining-tokens'])).toBeLessThan(96);
    });

    it('never fits the tokens per minute: 429 type tokens, "Request too large", no retry-after, x-should-retry false, and the client does not retry', async () => {
      const calls = gpu.stats().calls;
      const c = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: KEYS.tpm400, maxRetries: 3 });
      const err = (await c.chat.completions.create({ ...small, max_tokens: 1000 }).catch((e: unknown) => e)) as InstanceType<typeof OpenAI.APIError>;
      expect(err).toBeInstanceOf(OpenAI.RateLimitError);
      expect(err.error).toEqual({
        message: 'Request too large for tier default on tokens per min (TPM): Limit 400, Requested 1086. The input or output tokens must be reduced in order to run successfully.',
        type: 'tokens',
        param: null,
        code: 'rate_limit_exceeded',
      });
      expect(headersOf(err, [...RETRY, 'x-ratelimit-limit-tokens'])).toEqual({ 'retry-after': null, 'retry-after-ms': null, 'x-should-retry': 'false', 'x-ratelimit-limit-tokens': '400' });
      expect(gpu.stats().calls).toBe(calls);
    });

    it('never fits the monthly budget: 429 insufficient_quota, "Request too large", no retry-after, x-should-retry false', async () => {
      const { err } = await refusal(KEYS.tiny, small);
      expect(err.error).toEqual({
        message: 'Request too large for the monthly budget on tier default: Limit 100 cost units, Requested 192. The input or output tokens must be reduced in order to run successfully.',
        type: 'insufficient_quota',
        param: null,
        code: 'insufficient_quota',
      });
      expect(headersOf(err, RETRY)).toEqual({ 'retry-after': null, 'retry-after-ms': null, 'x-should-retry': 'false' });
    });

    it('a spent monthly budget: 429 insufficient_quota with Limit/Used/Requested and the renewal date, no retry-after', async () => {
      // 300 cost units hold one reservation of 192 at a time.
      const { admitted, err } = await refusal(KEYS.spent, small, 3);
      expect(admitted).toBe(1);
      expect(err.error).toEqual({
        message: expect.stringMatching(/^You exceeded your monthly budget on tier default: Limit 300 cost units, Used \d+, Requested 192\. It renews on \d{4}-\d{2}-01\.$/),
        type: 'insufficient_quota',
        param: null,
        code: 'insufficient_quota',
      });
      expect(headersOf(err, RETRY)).toEqual({ 'retry-after': null, 'retry-after-ms': null, 'x-should-retry': 'false' });
    });
  });
});
