import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { simCommand } from '../../bin/commands/sim.ts';
import { withStderr } from '../helpers/stderr.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const READY = /^splitserve sim (\S+) listening on http:\/\/127\.0\.0\.1:(\d+)$/;

function runCli(args: string[]): ReturnType<typeof spawn> {
  return spawn(process.execPath, ['--import', 'tsx', 'bin/splitserve.ts', 'sim', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('splitserve sim', () => {
  it('prints one ready line with the port, serves, and exits 0 on SIGTERM', async () => {
    const child = runCli(['--profile', 'trainium-prefill', '--port', '0', '--speedup', '1000', '--seed', '4', '--prefix-cache-tokens', '4096']);
    let stdout = '';
    child.stdout!.setEncoding('utf8');
    const ready = new Promise<RegExpExecArray>((resolve, reject) => {
      child.stdout!.on('data', (d: string) => {
        stdout += d;
        const line = stdout.split('\n')[0] ?? '';
        const m = READY.exec(line);
        if (m && stdout.includes('\n')) resolve(m);
      });
      child.once('exit', (code) => reject(new Error(`exited ${code} before ready`)));
    });
    try {
      const match = await ready;
      expect(match[1]).toBe('trainium-prefill');
      const port = Number(match[2]);
      expect(port).toBeGreaterThan(0);
      const health = await fetch(`http://127.0.0.1:${port}/health`);
      expect(health.status).toBe(200);
      const stats = (await (await fetch(`http://127.0.0.1:${port}/sim/stats`)).json()) as { profile: string; role: string };
      expect(stats).toMatchObject({ profile: 'trainium-prefill', role: 'prefill' });
      expect(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()).toContain('vllm:prefix_cache_queries_total');
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
  });

  it('rejects bad arguments with exit code 2 and a message', async () => {
    const { result, written } = await withStderr(async () => [
      await simCommand(['--profile', 'tpu-magic']),
      await simCommand(['--port', '70000']),
      await simCommand(['--speedup', '0']),
      await simCommand(['--bogus']),
      await simCommand(['--prefix-cache-tokens', 'lots']),
    ]);
    expect(result).toEqual([2, 2, 2, 2, 2]);
    expect(written).toContain('invalid --prefix-cache-tokens "lots"');
    expect(written).toContain('unknown profile "tpu-magic"');
    expect(written).toContain('invalid --port "70000"');
    expect(written).toContain("Unknown option '--bogus'");
  });
});
