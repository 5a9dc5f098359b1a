/**
 * SGLang PD end to end: the official `openai` client → the gateway → an SGLang prefill simulator
 * and an SGLang decode simulator, paired by `bootstrap_room` (the decode simulator polls the
 * prefill simulator's bootstrap route, which it serves on its main port).
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { startSimulator } from '../../sim/index.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

const KEY = 'sk-ss-test-sglang-0123456789abcdef01234567';
const MODEL = 'llama-3.1-8b';

describe('SGLang PD through the gateway', () => {
  let prefill: SimulatorHandle;
  let decode: SimulatorHandle;
  let local: LocalGateway;
  let client: OpenAI;

  beforeAll(async () => {
    [prefill, decode] = await Promise.all([
      startSimulator({ priorityOrder: 'high-first', profile: 'trainium-prefill', role: 'prefill', speedup: 20, seed: 11 }),
      startSimulator({ priorityOrder: 'high-first', profile: 'cerebras-decode', role: 'decode', speedup: 20, seed: 12, bootstrapTimeoutMs: 3000 }),
    ]);
    const config = parseConfig({
      pools: {
        'sg-prefill': { protocol: 'sglang', role: 'prefill', endpoints: [prefill.url], bootstrapPort: prefill.port, timeoutMs: 10_000 },
        'sg-decode': { protocol: 'sglang', role: 'decode', endpoints: [decode.url], timeoutMs: 10_000 },
      },
      models: { [MODEL]: { pools: ['sg-prefill', 'sg-decode'] } },
      tiers: { priority: { route: { mode: 'disaggregated', prefill: 'sg-prefill', decode: 'sg-decode' } } },
      tenants: [{ id: 'sg', apiKeys: [KEY], tiers: ['priority'] }],
    });
    local = await startLocal({ config, port: 0, logger: silentLogger });
    client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await local?.close();
    await Promise.all([prefill?.close(), decode?.close()]);
  });

  const lastBodies = () => [prefill.stats().recent.at(-1)!.body, decode.stats().recent.at(-1)!.body] as Array<Record<string, unknown>>;

  it('streams decode\'s answer; both simulators got the same room, host and port', async () => {
    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: 'user', content: 'Why pair prefill and decode by room?' }],
      service_tier: 'priority',
      stream: true,
      max_tokens: 6,
      stream_options: { include_usage: true },
    });
    let text = '';
    let usage: OpenAI.CompletionUsage | null | undefined;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage = chunk.usage ?? usage;
      expect(chunk.service_tier).toBe('priority');
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBe(6);
    const [p, d] = lastBodies();
    expect(p!.bootstrap_room).toBe(d!.bootstrap_room);
    expect(p).toMatchObject({ bootstrap_host: '127.0.0.1', bootstrap_port: prefill.port });
    expect(d).toMatchObject({ bootstrap_host: '127.0.0.1', bootstrap_port: prefill.port });
    // Both calls carry the tier's engine priority in SGLang's polarity (higher first): priority is 10.
    expect([p!.priority, d!.priority]).toEqual([10, 10]);
    expect(prefill.stats().byKind.prefill).toBeGreaterThanOrEqual(1);
    expect(decode.stats().byKind['decode-remote']).toBeGreaterThanOrEqual(1);
  });

  it('serves non-streaming requests, a fresh room each', async () => {
    const rooms = new Set<unknown>();
    for (let i = 0; i < 3; i++) {
      const done = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: `question ${i}` }],
        service_tier: 'priority',
        max_tokens: 3,
      });
      expect(done.choices[0]?.message.content?.length).toBeGreaterThan(0);
      const [p, d] = lastBodies();
      expect(p!.bootstrap_room).toBe(d!.bootstrap_room);
      rooms.add(d!.bootstrap_room);
    }
    expect(rooms.size).toBe(3);
  });

  it('retries a failed prefill once with a fresh room, and the client never sees it', async () => {
    const before = prefill.stats().calls;
    prefill.setFaults({ failNth: [before + 1], errorStatus: 503 });
    try {
      const done = await client.chat.completions.create({
        model: MODEL,
        messages: [{ role: 'user', content: 'retry me' }],
        service_tier: 'priority',
        max_tokens: 3,
      });
      expect(done.choices[0]?.message.content?.length).toBeGreaterThan(0);
      const calls = prefill.stats().recent.slice(-2).map((r) => (r.body as Record<string, unknown>).bootstrap_room);
      expect(prefill.stats().calls).toBe(before + 2);
      expect(calls[0]).not.toBe(calls[1]);
      expect(decode.stats().recent.at(-1)!.body).toMatchObject({ bootstrap_room: calls[1] });
    } finally {
      prefill.setFaults({});
    }
  });
});
