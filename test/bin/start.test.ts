/**
 * `splitserve start` as a user runs it, in child processes on a store of its own: the banner
 * masks the key, a restart keeps what the admin CLI changed, `--reseed` puts the config back,
 * SIGTERM stops the gateway with exit code 0, and the deploy-only blocks are accepted and ignored.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { maskKey } from '../../bin/commands/start.ts';
import { listKeys, revokeKey } from '../../lambda/store/admin.ts';
import { LOCAL_TABLE_NAMES } from '../../lambda/store/table-schema.ts';
import { connectDynamo } from '../../local/embedded-dynamo.ts';
import { startSimulator, type SimulatorHandle } from '../../sim/index.ts';
import { startGatewayProcess, startStoreProcess, writeGpuConfig, type ChildCommand } from '../helpers/child-processes.ts';

const KEY = 'sk-ss-test-banner-0123456789abcdef0123456789';
const MODEL = 'llama-3.1-8b';

describe('maskKey', () => {
  it('shows the first 7 and last 4 characters of a key, and only the end of a short one', () => {
    expect(maskKey('sk-acme-dev-0000000001')).toBe('sk-acme…0001');
    expect(maskKey(KEY)).toBe('sk-ss-t…6789');
    expect(maskKey('short-key-12')).toBe('…-12'); // a quarter of it at most
  });
});

describe('splitserve start on a store of its own', () => {
  let sim: SimulatorHandle;
  let store: ChildCommand;
  let dir: string;
  let configPath: string;

  beforeAll(async () => {
    [sim, store] = await Promise.all([startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 1000 }), startStoreProcess()]);
    dir = await mkdtemp(join(tmpdir(), 'splitserve-start-'));
    configPath = await writeGpuConfig(dir, sim.url, MODEL, [{ id: 'banner', apiKeys: [KEY], tiers: ['default'] }]);
  }, 60_000);
  afterAll(async () => {
    await store?.stop();
    await sim?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const ask = (url: string) =>
    new OpenAI({ baseURL: `${url}/v1`, apiKey: KEY, maxRetries: 0 }).chat.completions
      .create({ model: MODEL, max_tokens: 2, messages: [{ role: 'user', content: 'hi' }] })
      .then(
        () => 200,
        (err: { status?: number }) => err.status ?? 0,
      );

  it('masks the key in its banner, keeps a revoked key revoked across a restart, and --reseed revives it', async () => {
    const first = await startGatewayProcess(configPath, store.url);
    expect(first.stdout()).toContain(`dev key (tenant "banner"): ${maskKey(KEY)}`);
    expect(first.stdout()).not.toContain(KEY);
    expect(await ask(first.url)).toBe(200);

    const admin = connectDynamo(store.url);
    try {
      const ctx = { client: admin.client, tables: LOCAL_TABLE_NAMES };
      const [key] = await listKeys(ctx, 'banner');
      await revokeKey(ctx, 'banner', key!.keyId);
    } finally {
      await admin.close();
    }
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(first.stdout()).toContain('splitserve: stopping');

    const second = await startGatewayProcess(configPath, store.url);
    try {
      expect(await ask(second.url)).toBe(401);
    } finally {
      expect(await second.stop('SIGTERM')).toBe(0);
    }

    const reseeded = await startGatewayProcess(configPath, store.url, ['--reseed']);
    try {
      expect(await ask(reseeded.url)).toBe(200);
    } finally {
      expect(await reseeded.stop('SIGTERM')).toBe(0);
    }
  }, 60_000);

  it('serves a config with the deploy-only vpc and alarms blocks, and says it ignores them', async () => {
    const deployOnly = {
      vpc: { vpcId: 'vpc-0123456789abcdef0', subnetIds: ['subnet-0123456789abcdef1'], routeTableIds: ['rtb-0123456789abcdef2'] },
      alarms: { createTopic: true },
    };
    const path = join(dir, 'with-vpc.json');
    await writeFile(path, JSON.stringify({ ...JSON.parse(await readFile(configPath, 'utf8')), ...deployOnly }));
    const gateway = await startGatewayProcess(path, store.url);
    try {
      expect(gateway.stdout()).toContain('vpc, alarms: deploy only, ignored by local runs');
      expect(await ask(gateway.url)).toBe(200);
    } finally {
      expect(await gateway.stop('SIGTERM')).toBe(0);
    }
  }, 60_000);
});
