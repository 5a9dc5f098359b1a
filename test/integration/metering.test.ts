/**
 * Metering loses nothing: every request, streamed or not, completed or aborted by its client
 * mid-stream, has one usage record with the tokens the backend really produced, and the tenant's
 * admission counters, once reconciled, equal the sum of what was metered.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import { LOCAL_TABLE_NAMES } from '../../lambda/store/table-schema.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import { windowItemKey } from '../../lambda/store/usage-items.ts';
import { localDynamoClient } from '../../local/embedded-dynamo.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import { startSimulator } from '../../sim/index.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { eventually } from '../contract/harness.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

const MODEL = 'llama-3.1-8b';
const KEY = 'sk-ss-test-meter-0123456789abcdef0123456789ab';

describe('metering', () => {
  let sims: SimulatorHandle[];
  let local: LocalGateway;
  let client: OpenAI;

  beforeAll(async () => {
    sims = await Promise.all([
      startSimulator({ schedulingPolicy: 'priority', profile: 'trainium-prefill', role: 'prefill', speedup: 100 }),
      startSimulator({ schedulingPolicy: 'priority', profile: 'cerebras-decode', role: 'decode', speedup: 1 }),
      startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 100 }),
    ]);
    const [prefill, decode, gpu] = sims as [SimulatorHandle, SimulatorHandle, SimulatorHandle];
    local = await startLocal({
      port: 0,
      logger: silentLogger,
      config: parseConfig({
        pools: {
          prefill: { protocol: 'vllm-nixl', role: 'prefill', endpoints: [prefill.url] },
          decode: { protocol: 'vllm-nixl', role: 'decode', endpoints: [decode.url] },
          gpu: { protocol: 'openai', endpoints: [gpu.url] },
        },
        models: { [MODEL]: { pools: ['prefill', 'decode', 'gpu'] } },
        tiers: {
          priority: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' } },
          default: { route: { mode: 'aggregated', pool: 'gpu' } },
        },
        tenants: [{ id: 'meter', apiKeys: [KEY], tiers: ['priority', 'default'], limits: { priority: { tpm: 1_000_000, monthlyTokens: 10_000_000 } } }],
      }),
    });
    client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: KEY, maxRetries: 0 });
  });
  afterAll(async () => {
    await local?.close();
    await Promise.all((sims ?? []).map((s) => s.close()));
  });

  it('records every request with the tokens the backends produced, aborted streams included', async () => {
    const messages = [{ role: 'user' as const, content: 'Tell me about prefill and decode.' }];
    const expected = new Map<string, { prompt: number; completion: number }>();
    const aborted = new Map<string, number>();

    for (let i = 0; i < 6; i += 1) {
      const { data, response } = await client.chat.completions
        .create({ model: MODEL, messages, service_tier: 'priority', stream: true, max_tokens: 5 + i, stream_options: { include_usage: true } })
        .withResponse();
      let usage: OpenAI.CompletionUsage | undefined;
      for await (const chunk of data) if (chunk.usage) usage = chunk.usage;
      expected.set(response.headers.get('x-request-id')!, { prompt: usage!.prompt_tokens, completion: usage!.completion_tokens });
    }
    for (let i = 0; i < 4; i += 1) {
      const { data, response } = await client.chat.completions
        .create({ model: MODEL, messages, service_tier: i % 2 ? 'default' : 'priority', max_tokens: 7 })
        .withResponse();
      expected.set(response.headers.get('x-request-id')!, { prompt: data.usage!.prompt_tokens, completion: data.usage!.completion_tokens });
    }
    const decode = sims[1]!;
    for (let i = 0; i < 3; i += 1) {
      const before = decode.stats().aborted;
      const { data, response } = await client.chat.completions
        .create({ model: MODEL, messages, service_tier: 'priority', stream: true, max_tokens: 3000 })
        .withResponse();
      let seen = 0;
      for await (const chunk of data) {
        if (chunk.choices[0]?.delta.content) seen += 1;
        if (seen === 3) break;
      }
      aborted.set(response.headers.get('x-request-id')!, seen);
      await eventually(() => decode.stats().aborted > before);
    }

    await local.runtime.flush();
    const dynamo = localDynamoClient(local.storeEndpoint);
    try {
      let records = await usageRecords(dynamo, LOCAL_TABLE_NAMES.usage, 'meter', Date.now());
      // The aborted streams' records are written when their relay notices the disconnect.
      for (let i = 0; i < 50 && records.length < expected.size + aborted.size; i += 1) {
        await new Promise((r) => setTimeout(r, 50));
        await local.runtime.flush();
        records = await usageRecords(dynamo, LOCAL_TABLE_NAMES.usage, 'meter', Date.now());
      }
      expect(records).toHaveLength(expected.size + aborted.size);
      const byId = new Map(records.map((r) => [r.requestId, r]));
      for (const [id, usage] of expected) {
        const record = byId.get(id);
        expect(record?.outcome).toBe('ok');
        expect({ prompt: record?.promptTokens, completion: record?.completionTokens }).toEqual(usage);
      }
      for (const [id, seen] of aborted) {
        const record = byId.get(id)!;
        expect(record.outcome).toBe('aborted');
        expect(record.completionTokens).toBeGreaterThanOrEqual(seen);
        expect(record.completionTokens).toBeLessThan(3000);
        expect(record.promptTokens).toBeGreaterThan(0);
      }
      // Reconciliation: the priority window's month counter holds exactly what was metered there.
      const priority = records.filter((r) => r.tierServed === 'priority');
      const metered = priority.reduce((sum, r) => sum + r.promptTokens + r.completionTokens, 0);
      const item = await dynamo.send(new GetItemCommand({ TableName: LOCAL_TABLE_NAMES.usage, Key: windowItemKey('meter', 'priority', 0, Date.now()), ConsistentRead: true }));
      expect(Number(item.Item?.mon?.N)).toBe(metered);
    } finally {
      dynamo.destroy();
    }
  });
});
