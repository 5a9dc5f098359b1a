/**
 * A gateway killed with SIGKILL while serving loses no usage record: on a store in its own process
 * (`splitserve store`), a gateway (`splitserve start --runtime node --store URL`) serves streams
 * that are mid-answer and requests that have just completed (their records still buffered) when it
 * is killed; the next gateway on that store bills every one of them exactly once, and the capped
 * tenant's month window holds exactly what its records bill.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetItemCommand, QueryCommand } from '@aws-sdk/client-dynamodb';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LOCAL_TABLE_NAMES } from '../../lambda/store/table-schema.ts';
import { OPEN_PARTITIONS, openItemPk, windowItemKey } from '../../lambda/store/usage-items.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import { connectDynamo } from '../../local/embedded-dynamo.ts';
import { startSimulator } from '../../sim/index.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { startGatewayProcess, startStoreProcess, writeGpuConfig, type ChildCommand } from '../helpers/child-processes.ts';

const MODEL = 'llama-3.1-8b';
const CAPPED_KEY = 'sk-ss-test-crash-capped-0123456789abcdef0123';
const FREE_KEY = 'sk-ss-test-crash-free-0123456789abcdef012345';
const STREAMS_PER_TENANT = 6;
const COMPLETED = 3;

interface Served {
  readonly id: string;
  readonly tenant: 'capped' | 'free';
  readonly stream: boolean;
  /** Content chunks its client received. */
  chunks: number;
}

describe('a gateway killed with SIGKILL', () => {
  let sim: SimulatorHandle;
  let store: ChildCommand;
  let dir: string;
  const gateways: ChildCommand[] = [];

  beforeAll(async () => {
    // 40 ms per token: a 200-token answer is mid-stream for 8 s.
    [sim, store] = await Promise.all([startSimulator({ profile: 'gpu-aggregated', speedup: 1000, faults: { trickleMs: 40 } }), startStoreProcess()]);
    dir = await mkdtemp(join(tmpdir(), 'splitserve-crash-'));
  });
  afterAll(async () => {
    for (const g of gateways) await g.stop('SIGKILL');
    await store?.stop();
    await sim?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('leaves every request it served billed exactly once after the next start, and the reservations reconciled', async () => {
    const configPath = await writeGpuConfig(dir, sim.url, MODEL, [
      { id: 'capped', apiKeys: [CAPPED_KEY], tiers: ['default'], limits: { default: { monthlyTokens: 10_000_000 } } },
      { id: 'free', apiKeys: [FREE_KEY], tiers: ['default'] },
    ]);
    const first = await startGatewayProcess(configPath, store.url);
    gateways.push(first);
    const clients = {
      capped: new OpenAI({ baseURL: `${first.url}/v1`, apiKey: CAPPED_KEY, maxRetries: 0 }),
      free: new OpenAI({ baseURL: `${first.url}/v1`, apiKey: FREE_KEY, maxRetries: 0 }),
    };
    const served: Served[] = [];

    // Requests that complete just before the kill: their records are still in the meter's buffer.
    await sim.setFaults({ trickleMs: 0 });
    for (let i = 0; i < COMPLETED; i++) {
      const { data, response } = await clients.free.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `done ${i}` }], max_tokens: 5 }).withResponse();
      served.push({ id: response.headers.get('x-request-id')!, tenant: 'free', stream: false, chunks: data.usage!.completion_tokens });
    }
    await sim.setFaults({ trickleMs: 40 });

    // Streams of both tenants, each killed mid-answer once it has received a few chunks.
    let started = 0;
    let flowing!: () => void;
    const allFlowing = new Promise<void>((resolve) => (flowing = resolve));
    const streams = (['capped', 'free'] as const).flatMap((tenant) =>
      Array.from({ length: STREAMS_PER_TENANT }, async (_, i) => {
        const { data, response } = await clients[tenant].chat.completions
          .create({ model: MODEL, messages: [{ role: 'user', content: `stream ${tenant} ${i}` }], max_tokens: 200, stream: true })
          .withResponse();
        const s: Served = { id: response.headers.get('x-request-id')!, tenant, stream: true, chunks: 0 };
        served.push(s);
        try {
          for await (const chunk of data) {
            if (chunk.choices[0]?.delta?.content) s.chunks += 1;
            if (s.chunks === 3 && ++started === 2 * STREAMS_PER_TENANT) flowing();
          }
        } catch {
          // the gateway is killed under it
        }
        return s;
      }),
    );
    await allFlowing;
    expect(await first.stop('SIGKILL')).toBeNull();
    await Promise.all(streams);
    expect(served).toHaveLength(COMPLETED + 2 * STREAMS_PER_TENANT);

    // The next gateway on the store bills what the killed one left, before it listens.
    const second = await startGatewayProcess(configPath, store.url);
    gateways.push(second);
    const reader = connectDynamo(store.url);
    try {
      const records = [
        ...(await usageRecords(reader.client, LOCAL_TABLE_NAMES.usage, 'capped', Date.now())),
        ...(await usageRecords(reader.client, LOCAL_TABLE_NAMES.usage, 'free', Date.now())),
      ];
      // Exactly one record per request served, and no other.
      expect(records.map((r) => r.requestId).sort()).toEqual(served.map((s) => s.id).sort());
      for (const s of served) {
        const record = records.find((r) => r.requestId === s.id)!;
        expect(record.tenantId).toBe(s.tenant);
        expect(['ok', 'interrupted']).toContain(record.outcome);
        // Billed at least what its client received (an interrupted one: the upper bound).
        expect(record.completionTokens).toBeGreaterThanOrEqual(s.chunks);
      }
      // Streams cut mid-answer are interrupted, billed at their reservation.
      const cut = records.filter((r) => served.some((s) => s.id === r.requestId && s.stream));
      expect(cut).toHaveLength(2 * STREAMS_PER_TENANT);
      for (const s of served.filter((x) => x.stream)) expect(s.chunks).toBeLessThan(200);
      for (const r of cut) {
        // The whole reservation: the prompt estimate, and the rest (max tokens, and the prompt's upper bound over its estimate).
        expect(r.outcome).toBe('interrupted');
        expect(r.completionTokens).toBeGreaterThanOrEqual(200);
        expect(r.costUnits).toBe(r.promptTokens + r.completionTokens);
      }

      // The capped tenant's month window holds its reservations, which is what its records bill.
      const win = await reader.client.send(new GetItemCommand({ TableName: LOCAL_TABLE_NAMES.usage, Key: windowItemKey('capped', 'default', 0, Date.now()), ConsistentRead: true }));
      const billed = records.filter((r) => r.tenantId === 'capped').reduce((n, r) => n + r.costUnits, 0);
      expect(billed).toBeGreaterThan(0);
      expect(Number(win.Item!.mon!.N)).toBe(billed);

      // No marker is left open.
      for (let p = 0; p < OPEN_PARTITIONS; p++) {
        const open = await reader.client.send(new QueryCommand({ TableName: LOCAL_TABLE_NAMES.usage, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': { S: openItemPk(p) } }, ConsistentRead: true }));
        expect(open.Items ?? []).toEqual([]);
      }
    } finally {
      await reader.close();
    }

    // The second gateway serves and meters normally.
    const again = new OpenAI({ baseURL: `${second.url}/v1`, apiKey: FREE_KEY, maxRetries: 0 });
    await sim.setFaults({ trickleMs: 0 });
    const done = await again.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'after' }], max_tokens: 2 });
    expect(done.choices[0]!.message.content).toBeTruthy();
    expect(await second.stop('SIGTERM')).toBe(0);
  }, 60_000);
});
