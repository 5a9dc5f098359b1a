/**
 * What every subcommand prints when it cannot run: a bad command line as one line and where the
 * help is (exit code 2); a port in use as one line and a hint (exit code 1), never a stack. In
 * process where the command returns, in child processes where it has to listen.
 */
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer, type Server } from 'node:net';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { benchCommand } from '../../bin/commands/bench.ts';
import { expectedFailure } from '../../bin/commands/command-line.ts';
import { simCommand } from '../../bin/commands/sim.ts';
import { startCommand } from '../../bin/commands/start.ts';
import { storeCommand } from '../../bin/commands/store.ts';
import { withStderr } from '../helpers/stderr.ts';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** Runs `splitserve <args>` to its end; resolves its exit code and output. */
async function runCli(args: readonly string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/splitserve.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const [code] = (await once(child, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** The stderr lines after the start-up progress lines (`splitserve:   0.3 s  …`). */
const finalLines = (stderr: string): string[] => stderr.split('\n').filter((l) => l !== '' && !/^splitserve: +\d+\.\d s {2}/.test(l));

describe('a bad command line', () => {
  it('is one line naming the problem, then where the help is, with exit code 2', async () => {
    const cases: Array<[() => Promise<number>, string, string]> = [
      [() => startCommand(['--bogus']), "splitserve start: Unknown option '--bogus'", 'see: npm start -- --help'],
      [() => startCommand(['--log-level', 'loud']), 'splitserve start: invalid --log-level "loud": expected debug, info, warn, error', 'see: npm start -- --help'],
      [() => startCommand(['--store-port', '99999']), 'splitserve start: invalid --store-port "99999": expected a port number, 0 to 65535', 'see: npm start -- --help'],
      [() => startCommand(['extra']), 'splitserve start: unexpected argument "extra"', 'see: npm start -- --help'],
      [() => storeCommand(['--port', 'x']), 'splitserve store: invalid --port "x": expected a port number, 0 to 65535', 'see: npm run store -- --help'],
      [() => simCommand(['--profile', 'tpu']), 'splitserve sim: unknown profile "tpu" (one of trainium-prefill, cerebras-decode, gpu-aggregated)', 'see: npm run sim -- --help'],
      [() => benchCommand(['--routes', 'sideways']), 'splitserve bench: --routes: unknown "sideways"', 'see: npm run bench -- --help'],
      [() => benchCommand(['goodput', '--units', '1']), 'splitserve bench goodput: --units: bad value "1"', 'see: npm run bench -- goodput --help'],
      [() => benchCommand(['overload', '--priority-share', '2']), 'splitserve bench overload: invalid --priority-share "2" (between 0 and 1)', 'see: npm run bench -- overload --help'],
      [() => benchCommand(['soak', '--minutes', '1', '--seconds', '5']), 'splitserve bench soak: give --minutes or --seconds, not both', 'see: npm run bench -- soak --help'],
    ];
    for (const [run, first, second] of cases) {
      const { result, written } = await withStderr(run);
      expect(result).toBe(2);
      const lines = written.trimEnd().split('\n');
      expect(lines).toHaveLength(2);
      expect(lines[0]!.startsWith(first), `${lines[0]} starts with ${first}`).toBe(true);
      expect(lines[1]).toBe(second);
    }
  });

  it('of the CLI itself (an unknown command) is one line and a hint too', async () => {
    const { code, stderr } = await runCli(['serve']);
    expect(code).toBe(2);
    expect(stderr).toBe('splitserve: unknown command "serve" (start, sim, store, admin, bench, plan)\nsee: npx tsx bin/splitserve.ts --help\n');
  });
});

describe('a port in use', () => {
  let taken: Server;
  let port: number;
  beforeAll(async () => {
    taken = createServer().listen(0, '127.0.0.1');
    await once(taken, 'listening');
    port = (taken.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => taken.close(() => resolve())));

  it('stops npm run store with one line, a hint and exit code 1', async () => {
    const { code, stderr } = await runCli(['store', '--port', String(port)]);
    expect(code).toBe(1);
    expect(stderr).toBe(`splitserve store: port ${port} on 127.0.0.1 is in use\n  hint: stop what listens there (another npm start?) or pick another port\n`);
  });

  it("stops npm start with the option to change: --port for the gateway's, --store-port for the store's", async () => {
    const gateway = await runCli(['start', '--runtime', 'node', '--port', String(port), '--store-port', '0']);
    expect(gateway.code).toBe(1);
    expect(finalLines(gateway.stderr)).toEqual([`splitserve start: port ${port} is in use (another npm start?)`, '  hint: stop what listens there, or pass --port N']);
    const store = await runCli(['start', '--runtime', 'node', '--port', '0', '--store-port', String(port)]);
    expect(store.code).toBe(1);
    expect(finalLines(store.stderr)).toEqual([
      `splitserve start: the embedded store's port ${port} is in use (another npm start, or npm run store?)`,
      `  hint: stop it, or pass --store-port N (0: any free port), or use that store with --store http://127.0.0.1:${port}`,
    ]);
    expect(`${gateway.stderr}${store.stderr}`).not.toContain('    at ');
  });

  it('stops the stack runtime before its synth, whichever port is taken', async () => {
    for (const args of [['--port', String(port)], ['--port', '0', '--store-port', String(port)]]) {
      const { code, stderr } = await runCli(['start', ...args]);
      expect(code).toBe(1);
      expect(stderr).toContain(`port ${port} is in use`);
      expect(stderr).not.toMatch(/synth/);
    }
  });
});

describe('expectedFailure', () => {
  it('names listen and connect errors, and leaves anything else to be a bug with its stack', () => {
    const listen = (code: string) => Object.assign(new Error(`listen ${code}`), { code, syscall: 'listen', address: '127.0.0.1', port: 80 });
    expect(expectedFailure(listen('EADDRINUSE'))?.message).toBe('port 80 on 127.0.0.1 is in use');
    expect(expectedFailure(listen('EACCES'))?.hint).toBe('pick a port above 1023');
    expect(expectedFailure(Object.assign(new Error('fetch failed'), { cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }) }))?.message).toMatch(/^nothing answers at/);
    expect(expectedFailure(new TypeError('undefined is not a function'))).toBeUndefined();
  });
});
