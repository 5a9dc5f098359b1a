/**
 * What `npm start` prints per request, by log level, in a child process as a user runs it: at
 * info one readable access-log line per request and no metrics lines, at warn none; and the hints
 * of its banner are commands that run from a clone.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startSimulator, type SimulatorHandle } from '../../sim/index.ts';
import { startCommandProcess, writeGpuConfig, type ChildCommand } from '../helpers/child-processes.ts';

const KEY = 'sk-ss-test-logging-0123456789abcdef0123456789';
const MODEL = 'llama-3.1-8b';
const ACCESS_LINE = /^\d\d:\d\d:\d\d POST \/v1\/chat\/completions 200 \d+ ms req_\S+$/m;

describe('npm start logging', () => {
  let sim: SimulatorHandle;
  let dir: string;
  let configPath: string;

  beforeAll(async () => {
    sim = await startSimulator({ profile: 'gpu-aggregated', speedup: 1000 });
    dir = await mkdtemp(join(tmpdir(), 'splitserve-logging-'));
    configPath = await writeGpuConfig(dir, sim.url, MODEL, [{ id: 'logs', apiKeys: [KEY], tiers: ['default'] }]);
  }, 60_000);
  afterAll(async () => {
    await sim?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const start = (level: string): Promise<ChildCommand> =>
    startCommandProcess(['start', '--runtime', 'node', '--port', '0', '--store-port', '0', '--config', configPath, '--log-level', level], /^splitserve listening on (http:\/\/127\.0\.0\.1:\d+)/m);
  const ask = async (url: string, stream: boolean): Promise<void> => {
    const res = await fetch(`${url}/v1/chat/completions`, {
      method: 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: MODEL, max_tokens: 2, stream, messages: [{ role: 'user', content: 'hi' }] }),
    });
    expect(res.status).toBe(200);
    await res.text();
  };
  const until = async (check: () => boolean): Promise<void> => {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 50));
  };

  it('at info: one access-log line per request, streamed or not, and no EMF lines', async () => {
    const gateway = await start('info');
    try {
      const banner = gateway.stdout();
      expect(banner).toMatch(/\(try: npm run admin -- tenant list --endpoint http:\/\/127\.0\.0\.1:\d+\)/);
      expect(banner).toContain('log level info: one line per request below');
      await ask(gateway.url, false);
      await ask(gateway.url, true);
      await until(() => gateway.stdout().match(new RegExp(ACCESS_LINE.source, 'gm'))?.length === 2);
      expect(gateway.stdout().match(new RegExp(ACCESS_LINE.source, 'gm'))).toHaveLength(2);
      expect(gateway.stdout()).not.toContain('"_aws"');
    } finally {
      expect(await gateway.stop('SIGTERM')).toBe(0);
    }
  });

  it('at warn: no access log', async () => {
    const gateway = await start('warn');
    try {
      expect(gateway.stdout()).toContain('log level warn\n');
      await ask(gateway.url, false);
      await new Promise((r) => setTimeout(r, 300));
      expect(gateway.stdout()).not.toMatch(ACCESS_LINE);
    } finally {
      expect(await gateway.stop('SIGTERM')).toBe(0);
    }
  });
});
