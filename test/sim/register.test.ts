/**
 * A simulator heartbeating itself into a gateway's pool: the module (registers, renews before the
 * TTL, deregisters on stop) and `npm run sim -- --register` as a process, against the local node
 * runtime with a pool that takes registrations.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseConfig } from '../../lambda/core/config.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import { registerWithGateway, startSimulator } from '../../sim/index.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const KEY = 'sk-ss-test-sim-register-0123456789abcdef012345';
const SECRET_ENV = 'SS_TEST_SIM_WORKER_SECRET';
const SECRET = 'sim-register-secret-0123456789';
const MODEL = 'llama-3.1-8b';

let local: LocalGateway;
let client: OpenAI;

beforeAll(async () => {
  process.env[SECRET_ENV] = SECRET;
  local = await startLocal({
    config: parseConfig({
      pools: { elastic: { protocol: 'openai', timeoutMs: 10_000, load: false, registration: { heartbeatTtlS: 5, refreshMs: 100, drainS: 30 } } },
      models: { [MODEL]: { pools: ['elastic'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'elastic' } } },
      tenants: [{ id: 'sim-register', apiKeys: [KEY], tiers: ['default'] }],
      workers: { secret: { env: SECRET_ENV } },
    }),
    port: 0,
    logger: silentLogger,
  });
  client = new OpenAI({ baseURL: `${local.url}/v1`, apiKey: KEY, maxRetries: 0 });
}, 60_000);
afterAll(async () => {
  await local?.close();
  delete process.env[SECRET_ENV];
});

const ask = () => client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 });
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('registerWithGateway', () => {
  it('registers, renews before the TTL runs out, and deregisters on stop', async () => {
    const sim = await startSimulator({ profile: 'gpu-aggregated', speedup: 1000, schedulingPolicy: 'priority' });
    try {
      await expect(registerWithGateway({ gateway: local.url, pool: 'elastic', url: sim.url, secret: 'wrong' })).rejects.toThrow(/HTTP 401/);
      const registration = await registerWithGateway({ gateway: local.url, pool: 'elastic', url: sim.url, secret: SECRET });
      const first = registration.expiresAt();
      expect(first).toBeGreaterThan(Date.now() / 1000);
      await pause(2200);
      // A heartbeat came at a third of the 5 s TTL.
      expect(registration.expiresAt()).toBeGreaterThan(first);
      await ask();
      expect(sim.stats().calls).toBe(1);
      await registration.stop();
      await pause(250);
      await expect(ask()).rejects.toMatchObject({ status: 503 });
      expect(sim.stats().calls).toBe(1);
    } finally {
      await sim.close();
    }
  }, 20_000);
});

describe('npm run sim -- --register', () => {
  it('heartbeats into the pool while it runs, and deregisters when stopped', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'bin/splitserve.ts', 'sim', '--port', '0', '--speedup', '1000', '--scheduling-policy', 'priority', '--register', local.url, '--pool', 'elastic', '--secret-env', SECRET_ENV], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: process.env,
    });
    let stdout = '';
    child.stdout!.setEncoding('utf8');
    const registered = new Promise<void>((resolve, reject) => {
      child.stdout!.on('data', (d: string) => {
        stdout += d;
        if (/^registered http:\/\/127\.0\.0\.1:\d+ in pool elastic/m.test(stdout)) resolve();
      });
      child.once('exit', (code) => reject(new Error(`exited ${code} before registering`)));
    });
    try {
      await registered;
      expect(stdout).not.toContain(SECRET);
      await pause(250);
      expect((await ask()).choices[0]?.message.content).toBeTruthy();
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    await pause(250);
    await expect(ask()).rejects.toMatchObject({ status: 503 });
  }, 30_000);

  it('refuses --register without --pool or without the secret (exit 2)', async () => {
    const run = async (args: string[], env: NodeJS.ProcessEnv) => {
      const child = spawn(process.execPath, ['--import', 'tsx', 'bin/splitserve.ts', 'sim', '--port', '0', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env });
      let stderr = '';
      child.stderr!.setEncoding('utf8');
      child.stderr!.on('data', (d: string) => void (stderr += d));
      const [code] = (await once(child, 'exit')) as [number | null];
      return { code, stderr };
    };
    const noPool = await run(['--register', local.url], process.env);
    expect(noPool).toMatchObject({ code: 2 });
    expect(noPool.stderr).toContain('--pool');
    const { [SECRET_ENV]: _secret, ...withoutSecret } = process.env;
    const noSecret = await run(['--register', local.url, '--pool', 'elastic', '--secret-env', SECRET_ENV], withoutSecret);
    expect(noSecret).toMatchObject({ code: 2 });
    expect(noSecret.stderr).toContain(SECRET_ENV);
  }, 30_000);
});
