/**
 * Child processes of the bench: spawn a server and wait for its "listening on" line, fork the load
 * generator, stop everything (whole process groups) on exit, Ctrl-C or error, and read the CPU time
 * of a process tree from /proc.
 */
import { execFileSync, fork, spawn } from 'node:child_process';
import type { ChildProcess } from 'node:child_process';
import { existsSync, fstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root (bench/ is one level below it). */
export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');

/**
 * The Node 22 binary to run children with: the pinned devDependency (`node_modules/.bin/node`)
 * when present, else the running binary.
 */
export function nodeBinary(): string {
  const pinned = join(REPO_ROOT, 'node_modules', '.bin', 'node');
  return existsSync(pinned) ? realpathSync(pinned) : process.execPath;
}

/** A server child that printed its URL. */
export interface Service {
  readonly name: string;
  readonly pid: number;
  readonly url: string;
  /** The last lines it printed (stdout and stderr), for error messages. */
  recentOutput(): string;
}

/** How to start a server child. */
export interface ServiceSpec {
  readonly name: string;
  /** The executable. @default the Node binary of {@link nodeBinary} */
  readonly command?: string;
  /** Arguments after the executable, e.g. `['--import', 'tsx', 'bench/fake-vllm.ts']`. */
  readonly args: readonly string[];
  /** Group 1 must capture the base URL. */
  readonly ready: RegExp;
  /** @default 30000 */
  readonly timeoutMs?: number;
}

const KEEP_LINES = 40;
const STOP_GRACE_MS = 2_000;

/**
 * Owns every child the bench starts. Each child gets its own process group, so stopping it stops
 * whatever it spawned too; {@link ProcessGroup.installSignalHandlers} makes Ctrl-C and `exit` clean up.
 */
export class ProcessGroup {
  private readonly children = new Set<ChildProcess>();

  /** Spawns a server and resolves once it prints a line matching `spec.ready`. */
  async spawnService(spec: ServiceSpec): Promise<Service> {
    const child = spawn(spec.command ?? nodeBinary(), [...spec.args], { cwd: REPO_ROOT, detached: true, stdio: ['pipe', 'pipe', 'pipe'] });
    this.track(child);
    const lines: string[] = [];
    const keep = (text: string): void => {
      for (const line of text.split('\n')) if (line.length > 0) lines.push(line);
      if (lines.length > KEEP_LINES) lines.splice(0, lines.length - KEEP_LINES);
    };
    const recentOutput = (): string => lines.join('\n');
    const url = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(() => fail(new Error(`${spec.name} printed no ready line within ${spec.timeoutMs ?? 30_000} ms`)), spec.timeoutMs ?? 30_000);
      let tail = '';
      const onData = (buf: Buffer): void => {
        const text = buf.toString('utf8');
        keep(text);
        tail = (tail + text).slice(-4096); // a ready line may arrive split across chunks
        const m = spec.ready.exec(tail);
        if (m?.[1]) {
          clearTimeout(timer);
          child.off('exit', onExit);
          resolve(m[1]);
        }
      };
      const onExit = (code: number | null, signal: string | null): void => fail(new Error(`${spec.name} exited (${signal ?? code}) before it was ready`));
      const fail = (err: Error): void => {
        clearTimeout(timer);
        child.off('exit', onExit);
        reject(new Error(`${err.message}\n--- ${spec.name} output ---\n${recentOutput()}`));
      };
      child.stdout?.on('data', onData);
      child.stderr?.on('data', onData);
      child.once('exit', onExit);
      child.once('error', fail);
    });
    // Keep draining both pipes (a full pipe would stall a chatty server) and keep the tail.
    child.stdout?.removeAllListeners('data').on('data', (b: Buffer) => keep(b.toString('utf8')));
    child.stderr?.removeAllListeners('data').on('data', (b: Buffer) => keep(b.toString('utf8')));
    if (child.pid === undefined) throw new Error(`${spec.name} has no pid`);
    return { name: spec.name, pid: child.pid, url, recentOutput };
  }

  /** Forks a TypeScript module with an IPC channel (`process.send`), in its own process group. */
  forkModule(modulePath: string): ChildProcess {
    const child = fork(modulePath, [], {
      cwd: REPO_ROOT,
      execPath: nodeBinary(),
      execArgv: ['--import', 'tsx'],
      detached: true,
      stdio: ['pipe', 'inherit', 'inherit', 'ipc'],
    });
    this.track(child);
    return child;
  }

  /** Stops every child: SIGTERM to its group, SIGKILL after a grace period. */
  async stopAll(): Promise<void> {
    const running = [...this.children];
    await Promise.all(running.map((child) => new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      const timer = setTimeout(() => { signalGroup(child, 'SIGKILL'); resolve(); }, STOP_GRACE_MS);
      child.once('exit', () => { clearTimeout(timer); resolve(); });
      signalGroup(child, 'SIGTERM');
    })));
  }

  /** Synchronous last resort (from `process.on('exit')`): SIGKILL every group still alive. */
  killAllNow(): void {
    for (const child of this.children) if (child.exitCode === null && child.signalCode === null) signalGroup(child, 'SIGKILL');
  }

  /**
   * Stops the children on Ctrl-C / SIGTERM (then exits 130 / 143) and on process exit.
   * Returns a function that removes the handlers.
   */
  installSignalHandlers(): () => void {
    const onSignal = (signal: NodeJS.Signals): void => {
      process.stderr.write(`\nsplitserve bench: ${signal}: stopping ${this.children.size} child process(es)\n`);
      void this.stopAll().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    const onExit = (): void => this.killAllNow();
    process.once('SIGINT', onSignal);
    process.once('SIGTERM', onSignal);
    process.once('exit', onExit);
    return () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      process.off('exit', onExit);
    };
  }

  private track(child: ChildProcess): void {
    this.children.add(child);
    child.once('exit', () => this.children.delete(child));
  }
}

function signalGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try { child.kill(signal); } catch { /* already gone */ }
  }
}

/**
 * For server children of the bench: exit cleanly on SIGTERM/SIGINT (a clean exit lets
 * `node --cpu-prof` write its profile), and exit when the parent goes away (stdin is a pipe or
 * socket from the parent and reaches end-of-file), so a killed bench leaves none of these servers
 * behind (the simulator and gateway processes it starts through the CLI do not use this yet).
 */
export function exitWhenParentGone(beforeExit?: () => void): void {
  const leave = (): void => { beforeExit?.(); process.exit(0); };
  process.once('SIGTERM', leave);
  process.once('SIGINT', leave);
  let isPipe = false;
  try { const st = fstatSync(0); isPipe = st.isFIFO() || st.isSocket(); } catch { isPipe = false; }
  if (!isPipe) return;
  process.stdin.on('end', leave);
  process.stdin.on('error', leave);
  process.stdin.resume();
}

let clockTicks: number | undefined;

/** Clock ticks per second of /proc times (`getconf CLK_TCK`), read once. */
export function clockTicksPerSecond(): number {
  if (clockTicks === undefined) {
    const n = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    clockTicks = Number.isFinite(n) && n > 0 ? n : 100;
  }
  return clockTicks;
}

interface ProcStat { readonly ppid: number; readonly ticks: number }

function readStat(pid: string): ProcStat | undefined {
  let text: string;
  try { text = readFileSync(`/proc/${pid}/stat`, 'utf8'); } catch { return undefined; }
  // Fields after the command name "(…)", which may itself contain spaces or parentheses.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  const ppid = Number(rest[1]);
  const ticks = Number(rest[11]) + Number(rest[12]); // utime (field 14) + stime (field 15)
  return Number.isFinite(ppid) && Number.isFinite(ticks) ? { ppid, ticks } : undefined;
}

/**
 * CPU time (user + system, ms) used so far by `rootPid` and all its descendants, found through
 * the parent pid of every process in /proc. 0 when the process is gone.
 */
export function treeCpuMs(rootPid: number): number {
  const stats = new Map<number, ProcStat>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const stat = readStat(name);
    if (stat) stats.set(Number(name), stat);
  }
  const children = new Map<number, number[]>();
  for (const [pid, { ppid }] of stats) {
    const list = children.get(ppid);
    if (list) list.push(pid); else children.set(ppid, [pid]);
  }
  let ticks = 0;
  const queue = [rootPid];
  const seen = new Set<number>();
  while (queue.length > 0) {
    const pid = queue.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    ticks += stats.get(pid)?.ticks ?? 0;
    for (const c of children.get(pid) ?? []) queue.push(c);
  }
  return (ticks * 1000) / clockTicksPerSecond();
}
