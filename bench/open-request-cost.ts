/**
 * What crash-safe metering (open-request markers, lambda/store/open-requests.ts) costs in store
 * traffic: the gateway core behind its Node adapter, on an embedded store, serving the same
 * streamed requests with markers off and on; DynamoDB calls per request by operation, and the write
 * units of the marker items (DynamoDB bills a write and a delete by the item's size, 1 KB units).
 *
 * usage: npx tsx bench/open-request-cost.ts [requests=2000] [concurrency=16] [simulator speed-up=10]
 *
 * Then the gateway-side CPU of a marker's life (open, ready, recorded, the delete pass) against
 * a store in its own process (`splitserve store`), so that the store's work is not counted:
 * `process.cpuUsage()` over `requests` markers opened `concurrency` at a time, minus the same loop
 * without markers.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { DynamoDBClient, type AttributeValue } from '@aws-sdk/client-dynamodb';
import { OpenRequestJournal } from '../lambda/store/open-requests.ts';
import { withEndpoints } from '../lambda/backends/pool-directory.ts';
import { parseConfig } from '../lambda/core/config.ts';
import type { GatewayLogger } from '../lambda/core/logger.ts';
import { assembleGateway } from '../lambda/handlers/gateway-runtime.ts';
import { seedFromConfig } from '../lambda/store/seed.ts';
import { createTables, tableDefinitions } from '../lambda/store/tables.ts';
import { USAGE_KEYS } from '../lambda/store/usage-items.ts';
import { startEmbeddedDynamo } from '../local/embedded-dynamo.ts';
import { serveGateway } from '../local/http-adapter.ts';
import { startSimulator } from '../sim/index.ts';

const requests = Number(process.argv[2] ?? 2000);
const concurrency = Number(process.argv[3] ?? 16);
const speedup = Number(process.argv[4] ?? 10);
const KEY = 'sk-ss-bench-markers-0123456789abcdef01234567';
const MODEL = 'llama-3.1-8b';
const quiet: GatewayLogger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: () => undefined };

/** Size of an item as DynamoDB counts it: attribute names plus values. */
function itemBytes(item: Record<string, AttributeValue>): number {
  let n = 0;
  for (const [name, v] of Object.entries(item)) n += Buffer.byteLength(name) + (v.S !== undefined ? Buffer.byteLength(v.S) : v.N !== undefined ? v.N.length : v.B !== undefined ? v.B.length : 8);
  return n;
}

async function main(): Promise<void> {
  const sim = await startSimulator({ profile: 'gpu-aggregated', speedup, schedulingPolicy: 'priority' });
  const store = await startEmbeddedDynamo();
  const calls = new Map<string, number>();
  const markerItems: number[] = [];
  let deleted = 0;
  const client = new DynamoDBClient({ endpoint: store.endpoint, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const op = String(context.commandName);
      calls.set(op, (calls.get(op) ?? 0) + 1);
      const input = args.input as { Item?: Record<string, AttributeValue>; RequestItems?: Record<string, Array<{ DeleteRequest?: { Key: Record<string, AttributeValue> } }>> };
      if (op === 'PutItemCommand' && input.Item?.pk?.S?.startsWith(USAGE_KEYS.openPrefix)) markerItems.push(itemBytes(input.Item));
      for (const reqs of Object.values(input.RequestItems ?? {})) for (const r of reqs) if (r.DeleteRequest?.Key.pk?.S?.startsWith(USAGE_KEYS.openPrefix)) deleted += 1;
      return next(args);
    },
    { step: 'initialize', name: 'count-calls' },
  );
  const config = parseConfig({
    pools: { gpu: { protocol: 'openai', endpoints: [sim.url] } },
    models: { [MODEL]: { pools: ['gpu'] } },
    tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
    tenants: [{ id: 'bench', apiKeys: [KEY], tiers: ['default'], limits: { default: { rpm: 1_000_000, tpm: 100_000_000 } } }],
  });
  const tables = { config: 'cost-config', usage: 'cost-usage' };
  await createTables(client, tableDefinitions(tables));
  await seedFromConfig(client, tables, config);

  for (const markers of [false, true]) {
    const runtime = assembleGateway({ config: withEndpoints(config, {}), dynamo: client, tables, logger: quiet, openRequestMarkers: markers });
    const server = await serveGateway(runtime.gateway, 0);
    const one = async () => {
      const res = await fetch(`${server.url}/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 8, stream: true }),
      });
      await res.text();
      if (res.status !== 200) throw new Error(`status ${res.status}`);
    };
    const run = async (n: number) => {
      let next = 0;
      await Promise.all(Array.from({ length: concurrency }, async () => { while (next++ < n) await one(); }));
      await runtime.flush();
    };
    await run(200); // warm-up: key cache, minute window, connections
    calls.clear();
    markerItems.length = 0;
    deleted = 0;
    await run(requests);
    const perRequest = Object.fromEntries([...calls].sort().map(([op, n]) => [op.replace(/Command$/, ''), +(n / requests).toFixed(4)]));
    const total = [...calls.values()].reduce((a, b) => a + b, 0);
    const wcu = markerItems.reduce((n, b) => n + 2 * Math.ceil(b / 1024), 0); // a put and a delete, each by the item's size
    console.log(
      JSON.stringify({
        markers,
        requests,
        concurrency,
        speedup,
        storeCallsPerRequest: +(total / requests).toFixed(4),
        byOperation: perRequest,
        markerItems: markerItems.length,
        markersPerItem: markerItems.length ? +(requests / markerItems.length).toFixed(2) : 0,
        meanMarkerItemBytes: markerItems.length ? Math.round(markerItems.reduce((a, b) => a + b, 0) / markerItems.length) : 0,
        markerItemsDeleted: deleted,
        markerWriteUnitsPerRequest: +(wcu / requests).toFixed(4),
      }),
    );
    await server.close();
    await runtime.close();
  }
  client.destroy();
  await store.close();
  await sim.close();
  await markerCpu();
}

/** Gateway-side CPU per marker, against `splitserve store` in its own process. */
async function markerCpu(): Promise<void> {
  const root = fileURLToPath(new URL('../', import.meta.url));
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/splitserve.ts', 'store', '--port', '0'], { cwd: root, stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise<string>((resolve) => {
    let out = '';
    child.stdout!.setEncoding('utf8').on('data', (d: string) => {
      out += d;
      const m = /listening on (http:\S+)/.exec(out);
      if (m) resolve(m[1]!);
    });
  });
  const client = new DynamoDBClient({ endpoint: url, region: 'local', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  const tables = { config: 'cpu-config', usage: 'cpu-usage' };
  await createTables(client, tableDefinitions(tables));
  const journal = new OpenRequestJournal(client, tables.usage, { logger: quiet });
  const base = { tenantId: 'bench', tierAsked: 'auto', tierServed: 'default', route: 'aggregated', pools: ['gpu'], model: MODEL, promptTokens: 9, reservedTokens: 17, reservedCost: 17 };
  let seq = 0;
  // One "request": open, ready after a tick (the backend's first byte), then recorded; `concurrency` in flight.
  const life = async (withMarker: boolean) => {
    const id = `cpu-${seq++}`;
    const handle = withMarker ? journal.open({ ...base, requestId: id, startedAt: Date.now() }) : undefined;
    await new Promise((r) => setImmediate(r));
    if (handle) await handle.ready();
    if (withMarker) journal.recorded([id]);
  };
  const loop = async (withMarker: boolean, n: number) => {
    let next = 0;
    const cpu = process.cpuUsage();
    await Promise.all(Array.from({ length: concurrency }, async () => { while (next++ < n) await life(withMarker); }));
    await journal.flush();
    const used = process.cpuUsage(cpu);
    return (used.user + used.system) / n;
  };
  await loop(true, 500); // warm-up
  const without = await loop(false, requests);
  const withMarkers = await loop(true, requests);
  console.log(JSON.stringify({ markerCpuUsPerRequest: +(withMarkers - without).toFixed(1), loopCpuUsWithout: +without.toFixed(1), requests, concurrency }));
  client.destroy();
  child.kill('SIGTERM');
}

await main();
