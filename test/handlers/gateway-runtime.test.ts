/**
 * The assembled gateway's `flush()`: what the Lambda handler awaits after each response (a frozen
 * environment runs no timers). A stream reports its end on the next turn of the event loop, so
 * `flush()` must take in every end reported before it was called.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { GatewayRuntime } from '../../lambda/handlers/gateway-runtime.ts';
import { assembleGateway } from '../../lambda/handlers/gateway-runtime.ts';
import { seedFromConfig } from '../../lambda/store/seed.ts';
import { createTables, tableDefinitions } from '../../lambda/store/tables.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import type { EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { startEmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { startSimulator } from '../../sim/index.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

const KEY = 'sk-ss-test-runtime-0123456789abcdef0123456789';
const TABLES = { config: 'rt-config', usage: 'rt-usage' };

describe('assembled gateway', () => {
  let store: EmbeddedDynamo;
  let sim: SimulatorHandle;
  let runtime: GatewayRuntime;

  beforeAll(async () => {
    [store, sim] = await Promise.all([startEmbeddedDynamo(), startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 1000 })]);
    const config = parseConfig({
      pools: { gpu: { protocol: 'openai', endpoints: [sim.url] } },
      models: { 'llama-3.1-8b': { pools: ['gpu'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
      tenants: [{ id: 'rt', apiKeys: [KEY], tiers: ['default'] }],
    });
    await createTables(store.client, tableDefinitions(TABLES));
    await seedFromConfig(store.client, TABLES, config);
    runtime = assembleGateway({ config, dynamo: store.client, tables: TABLES, logger: silentLogger });
  });
  afterAll(async () => {
    await runtime?.close();
    await Promise.all([store?.close(), sim?.close()]);
  });

  it('has metered a streamed request once flush() resolves, as the Lambda handler relies on', async () => {
    const response = await runtime.gateway({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { authorization: `Bearer ${KEY}` },
      body: JSON.stringify({ model: 'llama-3.1-8b', stream: true, max_tokens: 3, messages: [{ role: 'user', content: 'hi' }] }),
      signal: new AbortController().signal,
    });
    expect(response.status).toBe(200);
    let text = '';
    for await (const chunk of response.body as AsyncIterable<string>) text += chunk;
    expect(text).toContain('data: [DONE]');
    await runtime.flush();
    const records = await usageRecords(store.client, TABLES.usage, 'rt', Date.now());
    expect(records.map((r) => r.requestId)).toEqual([response.headers['x-request-id']]);
    expect(records[0]).toMatchObject({ outcome: 'ok', completionTokens: 3 });
  });
});
