/**
 * A gateway on a store in another process (`splitserve store`, `splitserve start --store URL`):
 * tables are created when missing, tenants seeded, usage lands in that store and outlives the
 * gateway, and a second gateway on the same store starts and serves.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { storeCommand } from '../../bin/commands/store.ts';
import { startCommand } from '../../bin/commands/start.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { LOCAL_TABLE_NAMES } from '../../lambda/store/table-schema.ts';
import { usageRecords } from '../../lambda/store/usage-report.ts';
import { connectDynamo } from '../../local/embedded-dynamo.ts';
import { startLocal } from '../../local/start-local.ts';
import { startSimulator } from '../../sim/index.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { silentLogger } from '../helpers/silent-logger.ts';
import { withStderr } from '../helpers/stderr.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const READY = /^splitserve store listening on (http:\/\/127\.0\.0\.1:\d+)$/m;
const MODEL = 'llama-3.1-8b';
const KEY = 'sk-ss-test-store-0123456789abcdef0123456789ab';

/** Starts `splitserve store --port 0` as a child process; resolves its URL once ready. */
async function startStoreProcess(): Promise<{ url: string; stop: () => Promise<number | null> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/splitserve.ts', 'store', '--port', '0'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] });
  let out = '';
  child.stdout!.setEncoding('utf8');
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: string) => {
      out += d;
      const m = READY.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`store exited ${code} before ready`)));
  });
  return {
    url,
    stop: async () => {
      child.kill('SIGTERM');
      const [code] = (await once(child, 'exit')) as [number | null];
      return code;
    },
  };
}

describe('a gateway on a store in its own process', () => {
  let sim: SimulatorHandle;
  let store: Awaited<ReturnType<typeof startStoreProcess>>;
  const config = () =>
    parseConfig({
      pools: { gpu: { protocol: 'openai', endpoints: [sim.url] } },
      models: { [MODEL]: { pools: ['gpu'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
      tenants: [{ id: 'ext', apiKeys: [KEY], tiers: ['default'] }],
    });

  beforeAll(async () => {
    [sim, store] = await Promise.all([startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 1000 }), startStoreProcess()]);
  });
  afterAll(async () => {
    await sim?.close();
  });

  it('creates the tables, seeds the tenant, and keeps the usage after the gateway stops', async () => {
    const first = await startLocal({ config: config(), port: 0, logger: silentLogger, storeEndpoint: store.url });
    expect(first.storeEndpoint).toBe(store.url);
    const client = new OpenAI({ baseURL: `${first.url}/v1`, apiKey: KEY, maxRetries: 0 });
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      const { response } = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 4 }).withResponse();
      ids.push(response.headers.get('x-request-id')!);
    }
    await first.close();

    // The data is in the other process: read it with a fresh client after the gateway is gone.
    const reader = connectDynamo(store.url);
    try {
      const records = await usageRecords(reader.client, LOCAL_TABLE_NAMES.usage, 'ext', Date.now());
      expect(records.map((r) => r.requestId).sort()).toEqual([...ids].sort());
    } finally {
      await reader.close();
    }

    // A second gateway on the same store: tables exist, seeding is idempotent, the key still works.
    const second = await startLocal({ config: config(), port: 0, logger: silentLogger, storeEndpoint: store.url });
    try {
      const again = new OpenAI({ baseURL: `${second.url}/v1`, apiKey: KEY, maxRetries: 0 });
      const done = await again.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
      expect(done.choices[0]!.message.content).toBeTruthy();
    } finally {
      await second.close();
    }
    expect(await store.stop()).toBe(0);
  });

  it('refuses a --store that is not an http(s) URL, and a bad store port, with exit code 2', async () => {
    const { result, written } = await withStderr(async () => [
      await startCommand(['--runtime', 'node', '--store', 'localhost:4567']),
      await storeCommand(['--port', 'x']),
    ]);
    expect(result).toEqual([2, 2]);
    expect(written).toContain('invalid --store "localhost:4567"');
    expect(written).toContain('splitserve store: invalid --port "x": expected a port number, 0 to 65535\nsee: npm run store -- --help\n');
  });
});
