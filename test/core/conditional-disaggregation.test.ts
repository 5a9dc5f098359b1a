/**
 * Conditional disaggregation through the gateway (local Node adapter, official openai client):
 * a short prompt skips the prefill pool, a long one does not, a route without the fields is
 * unchanged, and the decision is in the request's log record (`route`).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { startSimulator } from '../../sim/index.ts';
import { eventually } from '../contract/harness.ts';
import { capturingLogger } from '../helpers/silent-logger.ts';

const KEY = 'sk-ss-test-cond-0123456789abcdef0123456789';
const MODEL = 'llama-3.1-8b';
/** ≈ 1 token by the admission estimate (4 characters a token). */
const SHORT = 'hi';
/** ≈ 250 tokens by the admission estimate. */
const LONG = 'word '.repeat(200);

describe('conditional disaggregation through the gateway', () => {
  let prefill: SimulatorHandle;
  let decode: SimulatorHandle;
  let local: LocalGateway;
  let client: OpenAI;
  const logger = capturingLogger();

  beforeAll(async () => {
    [prefill, decode] = await Promise.all([
      startSimulator({ schedulingPolicy: 'priority', profile: 'trainium-prefill', role: 'prefill', seed: 1, speedup: 10 }),
      startSimulator({ schedulingPolicy: 'priority', profile: 'cerebras-decode', role: 'decode', seed: 2, speedup: 10 }),
    ]);
    const config = parseConfig({
      pools: {
        'trn-prefill': { protocol: 'vllm-nixl', role: 'prefill', endpoints: [prefill.url], timeoutMs: 10_000 },
        'cs3-decode': { protocol: 'vllm-nixl', role: 'decode', endpoints: [decode.url], timeoutMs: 10_000 },
      },
      models: { [MODEL]: { pools: ['trn-prefill', 'cs3-decode'] } },
      tiers: {
        // conditional: prompts under 64 estimated tokens decode alone
        priority: { route: { mode: 'disaggregated', prefill: 'trn-prefill', decode: 'cs3-decode', localPrefillBelowTokens: 64, maxPrefillQueue: 32 } },
        // neither field: always prefill → decode, as before
        default: { route: { mode: 'disaggregated', prefill: 'trn-prefill', decode: 'cs3-decode' } },
        // a bounded prefill queue: with one call in flight on the prefill pool, decode alone
        flex: { route: { mode: 'disaggregated', prefill: 'trn-prefill', decode: 'cs3-decode', maxPrefillQueue: 1 } },
      },
      tenants: [{ id: 'acme', apiKeys: [KEY], tiers: ['priority', 'default', 'flex'] }],
    });
    local = await startLocal({ config, port: 0, logger });
    client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await local?.close();
    await Promise.all([prefill?.close(), decode?.close()]);
  });

  const lastBody = (sim: SimulatorHandle) => sim.stats().recent.at(-1)?.body as Record<string, unknown>;
  const logOf = async (requestId: string | null) => {
    await eventually(() => logger.records.some((r) => r.message === 'request' && r.fields.requestId === requestId));
    return logger.records.find((r) => r.message === 'request' && r.fields.requestId === requestId)!.fields;
  };
  const ask = async (content: string, tier: 'priority' | 'default') => {
    const { data, response } = await client.chat.completions
      .create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: 4, service_tier: tier })
      .withResponse();
    expect(data.usage?.completion_tokens).toBe(4);
    return logOf(response.headers.get('x-request-id'));
  };

  it('serves a short prompt on the decode pool alone: no prefill call, no kv_transfer_params', async () => {
    const prefillCalls = prefill.stats().calls;
    const decodeCalls = decode.stats().calls;
    const log = await ask(SHORT, 'priority');
    expect(prefill.stats().calls).toBe(prefillCalls);
    expect(decode.stats().calls).toBe(decodeCalls + 1);
    expect(lastBody(decode).kv_transfer_params).toBeUndefined();
    expect(decode.stats().recent.at(-1)?.kind).toBe('decode-recompute');
    expect(log).toMatchObject({ route: 'local-prefill-short', pools: ['cs3-decode'], tier: 'priority', outcome: 'ok' });
  });

  it('streams a short prompt the same way', async () => {
    const prefillCalls = prefill.stats().calls;
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: SHORT }],
      max_tokens: 3,
      stream: true,
      service_tier: 'priority',
    });
    let text = '';
    for await (const chunk of stream) text += chunk.choices[0]?.delta.content ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(prefill.stats().calls).toBe(prefillCalls);
    expect(lastBody(decode).kv_transfer_params).toBeUndefined();
    await eventually(() => logger.records.filter((r) => r.fields.route === 'local-prefill-short').length >= 2);
  });

  it('disaggregates a long prompt: prefill, then decode with the KV-transfer parameters', async () => {
    const prefillCalls = prefill.stats().calls;
    const decodeCalls = decode.stats().calls;
    const log = await ask(LONG, 'priority');
    expect(prefill.stats().calls).toBe(prefillCalls + 1);
    expect(decode.stats().calls).toBe(decodeCalls + 1);
    expect((lastBody(decode).kv_transfer_params as Record<string, unknown>).do_remote_prefill).toBe(true);
    expect(log).toMatchObject({ route: 'disaggregated', pools: ['trn-prefill', 'cs3-decode'], kvParams: true });
  });

  it('leaves a route without the fields unchanged: even a one-token prompt is disaggregated', async () => {
    const prefillCalls = prefill.stats().calls;
    const log = await ask(SHORT, 'default');
    expect(prefill.stats().calls).toBe(prefillCalls + 1);
    expect((lastBody(decode).kv_transfer_params as Record<string, unknown>).do_remote_prefill).toBe(true);
    expect(log).toMatchObject({ route: 'disaggregated', tier: 'default', pools: ['trn-prefill', 'cs3-decode'] });
  });

  it('decodes alone when the prefill queue is at its bound, and disaggregates again once it drains', async () => {
    const { calls } = prefill.stats();
    prefill.setFaults({ stallMs: 1500 });
    const slow = client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: LONG }], max_tokens: 2, service_tier: 'flex' }).withResponse();
    await eventually(() => prefill.stats().calls > calls);
    const queued = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: LONG }], max_tokens: 2, service_tier: 'flex' }).withResponse();
    expect(prefill.stats().calls).toBe(calls + 1);
    expect(lastBody(decode)).not.toHaveProperty('kv_transfer_params');
    expect(await logOf(queued.response.headers.get('x-request-id'))).toMatchObject({ route: 'local-prefill-queue', pools: ['cs3-decode'] });
    prefill.setFaults({});
    const first = await slow;
    expect(await logOf(first.response.headers.get('x-request-id'))).toMatchObject({ route: 'disaggregated' });
  });

  it('logs a routine request at DEBUG and a local-prefill decision at INFO', () => {
    const requests = logger.records.filter((r) => r.message === 'request');
    const levelsOf = (route: string) => new Set(requests.filter((r) => r.fields.route === route).map((r) => r.level));
    expect(levelsOf('disaggregated')).toEqual(new Set(['debug']));
    expect(levelsOf('local-prefill-short')).toEqual(new Set(['info']));
    expect(levelsOf('local-prefill-queue')).toEqual(new Set(['info']));
  });
});
