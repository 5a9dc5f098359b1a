/**
 * Prefix-cache affinity through the gateway, driven by the official `openai` client against
 * simulators with a prefix cache on 127.0.0.1: multi-turn conversations stay on one endpoint and
 * the engines' cached-token hit rate (`usage.prompt_tokens_details.cached_tokens`, and the
 * simulators' own counters on the prefill side of a vLLM NIXL route) is far higher with
 * `affinity` than with round robin or least-outstanding. Requests are sent one at a time, so
 * the endpoint that served each one is the simulator whose cache counter moved.
 */
import OpenAI from 'openai';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { startLocal } from '../../local/start-local.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { startSimulator } from '../../sim/index.ts';
import { mulberry32 } from '../../sim/prng.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

const KEY = 'sk-ss-test-affinity-0123456789abcdef012345';
const MODEL = 'llama-3.1-8b';
const CACHE_TOKENS = 200_000;

const running: Array<() => Promise<void>> = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const close of running.splice(0).reverse()) await close().catch(() => undefined);
});

async function sims(n: number, profile: 'gpu-aggregated' | 'trainium-prefill' | 'cerebras-decode', role?: 'prefill' | 'decode', cache = CACHE_TOKENS): Promise<SimulatorHandle[]> {
  const out = await Promise.all(Array.from({ length: n }, (_, i) => startSimulator({ profile, role, speedup: 1000, seed: 40 + i, prefixCacheTokens: cache })));
  running.push(async () => void (await Promise.all(out.map((s) => s.close()))));
  return out;
}

async function gateway(pools: Record<string, Record<string, unknown>>, route: Record<string, unknown>): Promise<OpenAI> {
  const config = parseConfig({
    pools,
    models: { [MODEL]: { pools: Object.keys(pools) } },
    tiers: { default: { route } },
    tenants: [{ id: 'affinity', apiKeys: [KEY], tiers: ['default'] }],
  });
  const local = await startLocal({ config, port: 0, logger: silentLogger });
  running.push(() => local.close());
  return new OpenAI({ baseURL: `${local.url}/v1`, apiKey: KEY, maxRetries: 0 });
}

type Message = { role: 'system' | 'user' | 'assistant'; content: string };

/** Filler text of `chars` characters, distinct per `tag`. */
const filler = (tag: string, chars: number): string => Array.from({ length: Math.ceil(chars / (tag.length + 1)) }, () => `${tag} `).join('').slice(0, chars);

/** How a run of conversations went. */
interface Run {
  /** Per conversation, the endpoints (simulator indices) its turns were served by. */
  readonly endpoints: Array<Set<number>>;
  /** Cached prompt tokens / prompt tokens over every turn after the first, as the engines reported them. */
  readonly hitRate: number;
}

/**
 * `sessions` conversations of `turns` turns each, turn by turn (every conversation's first turn,
 * then every second turn, …), one request at a time, each turn repeating the whole history.
 */
async function converse(client: OpenAI, engines: readonly SimulatorHandle[], sessions: number, turns: number, opening: (s: number) => Message[], extra: (s: number) => { body?: Record<string, unknown>; headers?: Record<string, string> } = () => ({})): Promise<Run> {
  const history = Array.from({ length: sessions }, (_, s) => opening(s));
  const endpoints = Array.from({ length: sessions }, () => new Set<number>());
  let cached = 0;
  let prompt = 0;
  for (let turn = 0; turn < turns; turn++) {
    for (let s = 0; s < sessions; s++) {
      if (turn > 0) history[s]!.push({ role: 'user', content: `turn ${turn}: ${filler(`q${s}t${turn}`, 300)}` });
      const before = engines.map((e) => e.prefixCache().lookups);
      const { body, headers } = extra(s);
      const answer = await client.chat.completions.create({ model: MODEL, messages: history[s]!, max_tokens: 8, ...body }, headers ? { headers } : undefined);
      const served = engines.map((e, i) => e.prefixCache().lookups - before[i]!).findIndex((d) => d > 0);
      expect(served).toBeGreaterThanOrEqual(0);
      endpoints[s]!.add(served);
      history[s]!.push({ role: 'assistant', content: answer.choices[0]!.message.content ?? '' });
      if (turn > 0) {
        const usage = answer.usage as (OpenAI.CompletionUsage & { prompt_tokens_details?: { cached_tokens?: number } }) | undefined;
        cached += usage?.prompt_tokens_details?.cached_tokens ?? 0;
        prompt += usage?.prompt_tokens ?? 0;
      }
    }
  }
  return { endpoints, hitRate: prompt > 0 ? cached / prompt : 0 };
}

/** Ten conversations, each with its own system prompt. */
const ownOpening = (s: number): Message[] => [
  { role: 'system', content: `You are assistant number ${s}. ${filler(`sys${s}`, 1200)}` },
  { role: 'user', content: filler(`first${s}`, 400) },
];

describe('prefix-cache affinity through the gateway (aggregated pool, three engines)', () => {
  const pool = (engines: SimulatorHandle[], settings: Record<string, unknown>) => ({ gpu: { protocol: 'openai', endpoints: engines.map((e) => e.url), ...settings } });

  it('keeps each conversation on one endpoint, spreads the conversations, and raises the cached-token hit rate over round robin and least-outstanding', async () => {
    // Least-outstanding breaks ties at random (and one request at a time is all ties): seeded, so
    // its hit rate is one fixed draw rather than a coin flip per run.
    vi.spyOn(Math, 'random').mockImplementation(mulberry32(7));
    const rates: Record<string, number> = {};
    for (const [name, settings] of [
      ['affinity', { affinity: {} }],
      ['round-robin', { policy: 'round-robin' }],
      ['least-outstanding', { policy: 'least-outstanding' }],
    ] as const) {
      const engines = await sims(3, 'gpu-aggregated');
      const client = await gateway(pool(engines, settings), { mode: 'aggregated', pool: 'gpu' });
      const run = await converse(client, engines, 10, 4, ownOpening);
      rates[name] = run.hitRate;
      if (name === 'affinity') {
        expect(run.endpoints.every((set) => set.size === 1)).toBe(true);
        expect(new Set(run.endpoints.map((set) => [...set][0])).size).toBeGreaterThan(1);
      } else {
        expect(run.endpoints.some((set) => set.size > 1)).toBe(true);
      }
    }
    // Affinity: every later turn finds its whole history but the last turn's new tail.
    expect(rates['affinity']).toBeGreaterThan(0.75);
    expect(rates['affinity']! - rates['round-robin']!).toBeGreaterThan(0.3);
    expect(rates['affinity']! - rates['least-outstanding']!).toBeGreaterThan(0.2);
  });

  it('routes by session (x-session-id header, or the user field) when conversations open alike', async () => {
    const engines = await sims(3, 'gpu-aggregated');
    const client = await gateway(pool(engines, { affinity: {} }), { mode: 'aggregated', pool: 'gpu' });
    const same = (): Message[] => [
      { role: 'system', content: filler('shared', 1200) },
      { role: 'user', content: 'the same opening question for everyone' },
    ];
    const run = await converse(client, engines, 8, 3, same, (s) => (s % 2 === 0 ? { headers: { 'x-session-id': `session-${s}` } } : { body: { user: `user-${s}` } }));
    expect(run.endpoints.every((set) => set.size === 1)).toBe(true);
    // The same opening would be one prefix key; the sessions are eight keys, spread.
    expect(new Set(run.endpoints.map((set) => [...set][0])).size).toBeGreaterThan(1);
    expect(run.hitRate).toBeGreaterThan(0.75);
  });

  it('routes streamed turns (the in-process executor) by the same key as non-streamed ones', async () => {
    const engines = await sims(3, 'gpu-aggregated');
    const client = await gateway(pool(engines, { affinity: {} }), { mode: 'aggregated', pool: 'gpu' });
    for (let s = 0; s < 4; s++) {
      const messages: Message[] = ownOpening(s);
      const first = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 4 });
      messages.push({ role: 'assistant', content: first.choices[0]!.message.content ?? '' }, { role: 'user', content: filler(`next${s}`, 300) });
      const stream = await client.chat.completions.create({ model: MODEL, messages, max_tokens: 4, stream: true, stream_options: { include_usage: true } });
      let usage: (OpenAI.CompletionUsage & { prompt_tokens_details?: { cached_tokens?: number } }) | undefined;
      for await (const chunk of stream) if (chunk.usage) usage = chunk.usage;
      expect(usage!.prompt_tokens_details?.cached_tokens).toBeGreaterThanOrEqual(Math.floor(first.usage!.prompt_tokens / 16) * 16);
    }
  });

  it('answers 400 to an overlong x-session-id header, and ignores the header where no pool routes by key', async () => {
    const engines = await sims(2, 'gpu-aggregated');
    const client = await gateway(pool(engines, { affinity: {} }), { mode: 'aggregated', pool: 'gpu' });
    await expect(client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }] }, { headers: { 'x-session-id': 'x'.repeat(300) } })).rejects.toMatchObject({ status: 400 });
    const plain = await gateway(pool(engines, {}), { mode: 'aggregated', pool: 'gpu' });
    const answer = await plain.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, { headers: { 'x-session-id': 'x'.repeat(300) } });
    expect(answer.choices[0]!.message.role).toBe('assistant');
  });

  it('polls a self-hosted affinity pool\'s engines for load by default (even one that sends no engine priority), so the bound has engine counts where an instance sees one call at a time', async () => {
    const engines = await sims(2, 'gpu-aggregated');
    const config = parseConfig({
      pools: pool(engines, { affinity: {}, enginePriority: false }),
      models: { [MODEL]: { pools: ['gpu'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
      tenants: [{ id: 'affinity', apiKeys: [KEY], tiers: ['default'] }],
    });
    const local = await startLocal({ config, port: 0, logger: silentLogger });
    running.push(() => local.close());
    const deadline = Date.now() + 5000;
    let loads: Array<number | undefined> = [];
    while (Date.now() < deadline) {
      loads = local.runtime.pools.snapshot('gpu').map((e) => e.load);
      if (loads.every((l) => l !== undefined)) break;
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(loads.every((l) => l !== undefined)).toBe(true);
  });
});

describe('prefix-cache affinity on the prefill side of a vLLM NIXL route', () => {
  it('sends a conversation\'s prefills to one prefill engine, whose cache then serves most of each prompt', async () => {
    const rates: Record<string, number> = {};
    for (const [name, settings] of [
      ['affinity', { affinity: {} }],
      ['round-robin', { policy: 'round-robin' }],
    ] as const) {
      const prefill = await sims(3, 'trainium-prefill', 'prefill');
      const [decode] = await sims(1, 'cerebras-decode', 'decode', 0);
      const client = await gateway(
        {
          prefill: { protocol: 'vllm-nixl', role: 'prefill', endpoints: prefill.map((e) => e.url), ...settings },
          decode: { protocol: 'vllm-nixl', role: 'decode', endpoints: [decode!.url] },
        },
        { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' },
      );
      const run = await converse(client, prefill, 10, 4, ownOpening);
      if (name === 'affinity') expect(run.endpoints.every((set) => set.size === 1)).toBe(true);
      const counters = prefill.map((e) => e.prefixCache());
      rates[name] = counters.reduce((n, c) => n + c.cachedTokens, 0) / counters.reduce((n, c) => n + c.promptTokens, 0);
    }
    // Over every prefill (first turns included, which cannot hit).
    expect(rates['affinity']).toBeGreaterThan(0.5);
    expect(rates['affinity']! - rates['round-robin']!).toBeGreaterThan(0.25);
  });
});
