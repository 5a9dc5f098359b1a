/**
 * splitserve commands run as child processes (`node --import tsx bin/splitserve.ts …`), for tests
 * of what outlives a process: each resolves once its ready line is printed.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** A running splitserve child process. */
export interface ChildCommand {
  /** The URL its ready line names. */
  readonly url: string;
  readonly child: ChildProcess;
  /** What it printed on stdout so far. */
  stdout(): string;
  /** Sends `signal` and resolves with the exit code (null when killed by a signal). */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/**
 * Runs `splitserve <args>` and resolves once a stdout line matches `ready` (its first group is the
 * URL); rejects if the process exits first.
 *
 * @example
 * const store = await startCommandProcess(['store', '--port', '0'], /^splitserve store listening on (http:\S+)$/m);
 */
export async function startCommandProcess(args: readonly string[], ready: RegExp): Promise<ChildCommand> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'bin/splitserve.ts', ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stdout!.setEncoding('utf8');
  child.stderr!.setEncoding('utf8');
  child.stderr!.on('data', (d: string) => (err += d));
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: string) => {
      out += d;
      const m = ready.exec(out);
      if (m) resolve(m[1]!);
    });
    child.once('exit', (code) => reject(new Error(`splitserve ${args[0]} exited ${code} before ready: ${err.slice(-2000)}`)));
  });
  return {
    url,
    child,
    stdout: () => out,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      const exited = once(child, 'exit') as Promise<[number | null]>;
      child.kill(signal);
      const [code] = await exited;
      return code;
    },
  };
}

/** `splitserve store --port 0`. */
export function startStoreProcess(): Promise<ChildCommand> {
  return startCommandProcess(['store', '--port', '0'], /^splitserve store listening on (http:\/\/127\.0\.0\.1:\d+)$/m);
}

/** `splitserve start --runtime node --port 0 --store <store> --config <configPath> [extra…]`. */
export function startGatewayProcess(configPath: string, store: string, extra: readonly string[] = []): Promise<ChildCommand> {
  return startCommandProcess(['start', '--runtime', 'node', '--port', '0', '--store', store, '--config', configPath, ...extra], /^splitserve listening on (http:\/\/127\.0\.0\.1:\d+)/m);
}

/**
 * Writes the config file of a one-pool gateway (an OpenAI-compatible pool at `endpoint` serving
 * `model` on the default tier) with `tenants`, into `dir`; resolves its path.
 *
 * @example
 * const configPath = await writeGpuConfig(dir, sim.url, 'llama-3.1-8b', [{ id: 't', apiKeys: [KEY], tiers: ['default'] }]);
 */
export async function writeGpuConfig(dir: string, endpoint: string, model: string, tenants: readonly object[]): Promise<string> {
  const path = join(dir, 'config.json');
  await writeFile(
    path,
    JSON.stringify({
      pools: { gpu: { protocol: 'openai', endpoints: [endpoint] } },
      models: { [model]: { pools: ['gpu'] } },
      tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
      tenants,
    }),
  );
  return path;
}
