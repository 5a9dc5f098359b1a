/**
 * A stream its client abandons is metered at what the engine counted, on an aggregated route and
 * disaggregated ones (vLLM NIXL, SGLang PD): the gateway asks the engine for running usage
 * (`continuous_usage_stats`), hides it from a client that did not ask, and meters the last
 * figures it saw, the prompt as the engine counted it (not the gateway's estimate). The engine
 * (the simulator) stops after a known number of tokens with its socket open (`stallAfterTokens`),
 * so the client has seen every token the engine produced when it goes away.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { estimatePromptTokens as gatewayEstimate } from '../../lambda/core/token-estimate.ts';
import { LOCAL_TABLE_NAMES } from '../../lambda/store/table-schema.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import { localDynamoClient } from '../../local/embedded-dynamo.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import { startSimulator } from '../../sim/index.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { estimatePromptTokens as engineCount } from '../../sim/text.ts';
import { eventually } from '../contract/harness.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

const MODEL = 'llama-3.1-8b';
const KEY = 'sk-ss-test-abort-0123456789abcdef0123456789ab';
/** Tokens the engine produces before it goes silent. */
const PRODUCED = 10;

/** Four short messages: the engine joins them with line feeds, so it counts more than the gateway estimates. */
const messages = [
  { role: 'system' as const, content: 'Be brief.' },
  { role: 'user' as const, content: 'abc' },
  { role: 'assistant' as const, content: 'def' },
  { role: 'user' as const, content: 'ghi' },
];

describe('aborted streams are metered at the engine count', () => {
  let sims: { prefill: SimulatorHandle; decode: SimulatorHandle; gpu: SimulatorHandle; sgPrefill: SimulatorHandle; sgDecode: SimulatorHandle };
  let local: LocalGateway;
  let client: OpenAI;

  beforeAll(async () => {
    const [prefill, decode, gpu, sgPrefill, sgDecode] = await Promise.all([
      startSimulator({ schedulingPolicy: 'priority', profile: 'trainium-prefill', role: 'prefill', speedup: 100 }),
      startSimulator({ schedulingPolicy: 'priority', profile: 'cerebras-decode', role: 'decode', speedup: 100, faults: { stallAfterTokens: PRODUCED } }),
      startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 100, faults: { stallAfterTokens: PRODUCED } }),
      startSimulator({ priorityOrder: 'high-first', profile: 'trainium-prefill', role: 'prefill', speedup: 100 }),
      startSimulator({ priorityOrder: 'high-first', profile: 'cerebras-decode', role: 'decode', speedup: 100, bootstrapTimeoutMs: 3000, faults: { stallAfterTokens: PRODUCED } }),
    ]);
    sims = { prefill, decode, gpu, sgPrefill, sgDecode };
    local = await startLocal({
      port: 0,
      logger: silentLogger,
      config: parseConfig({
        pools: {
          prefill: { protocol: 'vllm-nixl', role: 'prefill', endpoints: [prefill.url] },
          decode: { protocol: 'vllm-nixl', role: 'decode', endpoints: [decode.url] },
          gpu: { protocol: 'openai', endpoints: [gpu.url] },
          'sg-prefill': { protocol: 'sglang', role: 'prefill', endpoints: [sgPrefill.url], bootstrapPort: sgPrefill.port },
          'sg-decode': { protocol: 'sglang', role: 'decode', endpoints: [sgDecode.url] },
        },
        models: { [MODEL]: { pools: ['prefill', 'decode', 'gpu', 'sg-prefill', 'sg-decode'] } },
        tiers: {
          priority: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' } },
          default: { route: { mode: 'aggregated', pool: 'gpu' } },
          flex: { route: { mode: 'disaggregated', prefill: 'sg-prefill', decode: 'sg-decode' } },
        },
        tenants: [
          {
            id: 'abort',
            apiKeys: [KEY],
            tiers: ['priority', 'default', 'flex'],
            limits: { priority: { monthlyTokens: 1_000_000 }, default: { monthlyTokens: 1_000_000 }, flex: { monthlyTokens: 1_000_000 } },
          },
        ],
      }),
    });
    client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await local?.close();
    await Promise.all(Object.values(sims ?? {}).map((s) => s.close()));
  });

  for (const [tier, engine, route] of [
    ['default', 'gpu', 'aggregated'],
    ['priority', 'decode', 'vLLM NIXL disaggregated'],
    ['flex', 'sgDecode', 'SGLang PD disaggregated'],
  ] as const) {
    it(`${route} route: the record holds the engine's prompt and completion counts`, async () => {
      const sim = sims[engine];
      const before = sim.stats().aborted;
      const { data, response } = await client.chat.completions
        .create({ model: MODEL, messages, service_tier: tier, stream: true, max_tokens: 500 })
        .withResponse();
      const id = response.headers.get('x-request-id')!;
      let seen = 0;
      for await (const chunk of data) {
        // The client did not ask for usage: the running figures the gateway asked for are hidden.
        expect(chunk.usage).toBeUndefined();
        expect(Object.keys(chunk)).not.toContain('usage');
        if (chunk.choices[0]?.delta.content) seen += 1;
        if (seen === PRODUCED) break; // every token the engine produced; it is silent from here
      }
      await eventually(() => sim.stats().aborted > before);

      // What reached the engine: the running usage asked for, on the decode call only.
      const sent = sim.stats().recent.at(-1)!.body as Record<string, unknown>;
      expect(sent.stream_options).toEqual({ include_usage: true, continuous_usage_stats: true });
      if (tier === 'priority') {
        const prefillBody = sims.prefill.stats().recent.at(-1)!.body as Record<string, unknown>;
        expect(prefillBody.stream_options).toBeUndefined();
      }

      const engineBody = { messages };
      const prompt = engineCount(engineBody);
      // The engine's count differs from the gateway's own estimate, so the record shows whose it is.
      expect(prompt).not.toBe(gatewayEstimate('chat', { model: MODEL, messages }));
      const dynamo = localDynamoClient(local.storeEndpoint);
      try {
        let record;
        for (let i = 0; i < 60 && !record; i += 1) {
          await local.runtime.flush();
          record = (await usageRecords(dynamo, LOCAL_TABLE_NAMES.usage, 'abort', Date.now())).find((r) => r.requestId === id);
          if (!record) await new Promise((r) => setTimeout(r, 50));
        }
        expect(record).toMatchObject({ outcome: 'aborted', tierServed: tier, promptTokens: prompt, completionTokens: PRODUCED });
      } finally {
        dynamo.destroy();
      }
    });
  }
});
