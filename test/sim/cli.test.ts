import { describe, expect, it, vi } from 'vitest';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { simCommand } from '../../bin/commands/sim.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const READY = /^splitserve sim (\S+) listening on http:\/\/127\.0\.0\.1:(\d+)$/;

function runCli(args: string[]): ReturnType<typeof spawn> {
  return spawn(process.execPath, ['--import', 'tsx', 'bin/splitserve.ts', 'sim', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
}

describe('splitserve sim', () => {
  it('prints one ready line with the port, serves, and exits 0 on SIGTERM', async () => {
    const child = runCli(['--profile', 'trainium-prefill', '--port', '0', '--speedup', '1000', '--seed', '4']);
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
    } finally {
      child.kill('SIGTERM');
    }
    const [code] = (await once(child, 'exit')) as [number | null];
    expect(code).toBe(0);
    expect(stdout.trim().split('\n')).toHaveLength(1);
  });

  it('rejects bad arguments with exit code 2 and a message', async () => {
    const written: string[] = [];
    const spy = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    try {
      expect(await simCommand(['--profile', 'tpu-magic'])).toBe(2);
      expect(await simCommand(['--port', '70000'])).toBe(2);
      expect(await simCommand(['--speedup', '0'])).toBe(2);
      expect(await simCommand(['--bogus'])).toBe(2);
    } finally {
      spy.mockRestore();
    }
    expect(written.join('')).toContain('unknown profile "tpu-magic"');
    expect(written.join('')).toContain('invalid --port "70000"');
  });
});
