/**
 * Open-request markers on the assembled gateway (what the Lambda handler and the node runtime
 * run): a served request's marker is in the store before its first byte is handed to the adapter,
 * and gone once `flush()` (what the Lambda handler awaits after each response) resolves; a refused
 * request leaves none.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { GatewayRuntime } from '../../lambda/handlers/gateway-runtime.ts';
import { assembleGateway } from '../../lambda/handlers/gateway-runtime.ts';
import { InProcessExecutor } from '../../lambda/core/executor.ts';
import { seedFromConfig } from '../../lambda/store/seed.ts';
import { createTables, tableDefinitions } from '../../lambda/store/tables.ts';
import { OPEN_PARTITIONS, openItemPk } from '../../lambda/store/usage-items.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { startSimulator, type SimulatorHandle } from '../../sim/index.ts';
import { capturingLogger } from '../helpers/silent-logger.ts';

const KEY = 'sk-ss-test-markers-0123456789abcdef0123456789';
const TABLES = { config: 'mk-config', usage: 'mk-usage' };
const MODEL = 'llama-3.1-8b';

describe('open-request markers of the assembled gateway', () => {
  let store: EmbeddedDynamo;
  let sim: SimulatorHandle;
  let runtime: GatewayRuntime;

  /** Request ids of the markers in the store. */
  async function openIds(): Promise<string[]> {
    const ids: string[] = [];
    for (let p = 0; p < OPEN_PARTITIONS; p++) {
      const out = await store.client.send(new QueryCommand({ TableName: TABLES.usage, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: openItemPk(p) } }, ConsistentRead: true }));
      for (const item of out.Items ?? []) ids.push(...(JSON.parse(item.entries!.S!) as unknown[][]).map((row) => String(row[0])));
    }
    return ids;
  }

  const request = (body: Record<string, unknown>, key = KEY) =>
    runtime.gateway({
      method: 'POST',
      path: '/v1/chat/completions',
      headers: { authorization: `Bearer ${key}` },
      body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...body }),
      signal: new AbortController().signal,
    });

  beforeAll(async () => {
    [store, sim] = await Promise.all([startEmbeddedDynamo(), startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 1000 })]);
    const config = parseConfig({
      pools: { gpu: { protocol: 'openai', endpoints: [sim.url] } },
      models: { [MODEL]: { pools: ['gpu'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
      tenants: [{ id: 'mk', apiKeys: [KEY], tiers: ['default'] }],
    });
    await createTables(store.client, tableDefinitions(TABLES));
    await seedFromConfig(store.client, TABLES, config);
    runtime = assembleGateway({ config, dynamo: store.client, tables: TABLES, logger: capturingLogger() });
  });
  afterAll(async () => {
    await runtime?.close();
    await Promise.all([store?.close(), sim?.close()]);
  });

  it("has a stream's marker in the store before its first byte, and none once flush() resolves", async () => {
    const response = await request({ stream: true });
    expect(response.status).toBe(200);
    const id = response.headers['x-request-id']!;
    expect(await openIds()).toContain(id); // nothing of the body has been read yet
    let text = '';
    for await (const chunk of response.body as AsyncIterable<string>) text += chunk;
    expect(text).toContain('data: [DONE]');
    await runtime.flush();
    expect(await openIds()).toEqual([]);
    expect((await usageRecords(store.client, TABLES.usage, 'mk', Date.now())).map((r) => r.requestId)).toContain(id);
  });

  it('has a non-streamed answer marked before it is returned, and unmarked after flush()', async () => {
    const response = await request({});
    expect(response.status).toBe(200);
    expect(await openIds()).toContain(response.headers['x-request-id']);
    await runtime.flush();
    expect(await openIds()).toEqual([]);
  });

  it('marks no refused request', async () => {
    expect((await request({}, 'sk-ss-not-a-key-0123456789abcdef0123456789')).status).toBe(401);
    expect((await request({ model: 'no-such-model' })).status).toBe(404);
    await runtime.flush();
    expect(await openIds()).toEqual([]);
  });

  it('writes no marker for a non-streamed request whose executor meters it (the state machine), one for its streams', async () => {
    const config = parseConfig({
      pools: { gpu: { protocol: 'openai', endpoints: [sim.url] } },
      models: { [MODEL]: { pools: ['gpu'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
      tenants: [{ id: 'mk', apiKeys: [KEY], tiers: ['default'] }],
    });
    let markerPuts = 0;
    store.client.middlewareStack.add(
      (next, context) => async (args) => {
        const input = (args as { input?: { Item?: { pk?: { S?: string } } } }).input;
        if (context.commandName === 'PutItemCommand' && input?.Item?.pk?.S?.startsWith('OPEN#')) markerPuts += 1;
        return next(args);
      },
      { step: 'initialize', name: 'count-marker-puts' },
    );
    // An executor whose plans are metered outside this process, as the Step Functions one's are
    // (its state machine's Meter step): it opens no marker and meters here only what that step could not.
    const metering = assembleGateway({
      config,
      dynamo: store.client,
      tables: TABLES,
      logger: capturingLogger(),
      executor: (steps) => {
        const inner = new InProcessExecutor(steps);
        return { name: 'self-metering', runJson: (state, signal) => inner.runJson(state, signal, { open: () => undefined, meter: () => undefined }) };
      },
    });
    try {
      const ask = (body: Record<string, unknown>) =>
        metering.gateway({
          method: 'POST',
          path: '/v1/chat/completions',
          headers: { authorization: `Bearer ${KEY}` },
          body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4, ...body }),
          signal: new AbortController().signal,
        });
      expect((await ask({})).status).toBe(200);
      expect(markerPuts).toBe(0);
      const streamed = await ask({ stream: true });
      for await (const _ of streamed.body as AsyncIterable<string>) void _;
      expect(markerPuts).toBe(1);
    } finally {
      store.client.middlewareStack.remove('count-marker-puts');
      await metering.close();
    }
  });
});
