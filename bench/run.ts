/**
 * Orchestration of `splitserve bench`: start the backends, the minimal relay, the gateway and the
 * load generator (each its own process), warm up, run the interleaved rounds, and build the report.
 * Every child is stopped at the end, on error and on Ctrl-C.
 */
import type { ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { SOURCE_CLI, prepareBuild } from './build.ts';
import type { BenchBuild } from './build.ts';
import { TARGETS, requestsFor } from './cli-options.ts';
import type { AdmissionMode, BenchOptions, Route, TargetName } from './cli-options.ts';
import type { BatchProgress, BatchRequest, BatchResult, LoadTarget } from './load-generator.ts';
import { ProcessGroup, REPO_ROOT, clockTicksPerSecond, treeCpuMs } from './processes.ts';
import { cellsOf, comparisonsOf, failedCount } from './report.ts';
import type { BatchFigures, BenchReport } from './report.ts';
import { summarize } from './stats.ts';

/** The API key of the bench tenant in the gateway config the bench writes. */
export const BENCH_API_KEY = 'sk-ss-bench-0123456789abcdef';
const READY = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
const CHAT_PATH = '/v1/chat/completions';
const SERVICE_TIER: Record<Route, string> = { agg: 'default', disagg: 'priority' };
const SIM_PROFILES = { prefill: 'trainium-prefill', decode: 'cerebras-decode', agg: 'gpu-aggregated' } as const;
const BATCH_TIMEOUT_MS = 300_000;

/** Where progress goes; the CLI writes it to stderr. */
export interface BenchIo {
  /** A progress line; `transient` lines may be overwritten by the next one. */
  progress(line: string, transient: boolean): void;
}

/** True when the gateway's `start` command exists in this tree. */
export function gatewayAvailable(): boolean {
  return existsSync(join(REPO_ROOT, 'bin', 'commands', 'start.ts'));
}

interface Backends { readonly prefill: string; readonly decode: string; readonly agg: string }

async function startBackends(procs: ProcessGroup, options: BenchOptions): Promise<Backends> {
  const start = (role: keyof typeof SIM_PROFILES) => {
    if (options.backend === 'fake') {
      return procs.spawnService({ name: `fake-vllm ${role}`, args: ['--import', 'tsx', 'bench/fake-vllm.ts', '--port', '0'], ready: READY });
    }
    return procs.spawnService({
      name: `sim ${SIM_PROFILES[role]}`,
      args: [...SOURCE_CLI, 'sim', '--profile', SIM_PROFILES[role], '--port', '0', '--speedup', String(options.simSpeedup)],
      ready: READY,
    });
  };
  if (options.backend === 'sim' && !existsSync(join(REPO_ROOT, 'bin', 'commands', 'sim.ts'))) {
    throw new Error('--backend sim: the simulator (bin/commands/sim.ts) is not in this tree yet');
  }
  const [prefill, decode, agg] = await Promise.all([start('prefill'), start('decode'), start('agg')]);
  return { prefill: prefill.url, decode: decode.url, agg: agg.url };
}

/** The gateway config (DESIGN.md section 7) pointing at the bench's backends. */
/** Limits far above any bench load: admission runs, never refuses. */
const BENCH_LIMITS = { rpm: 100_000_000, tpm: 1_000_000_000_000 };

export function gatewayConfig(backends: Backends, admission: AdmissionMode = 'lease'): object {
  const limits = admission === 'none' ? {} : { priority: BENCH_LIMITS, default: BENCH_LIMITS };
  return {
    pools: {
      prefill: { protocol: 'vllm-nixl', role: 'prefill', endpoints: [backends.prefill] },
      decode: { protocol: 'vllm-nixl', role: 'decode', endpoints: [backends.decode] },
      agg: { protocol: 'openai', endpoints: [backends.agg] },
    },
    models: { 'llama-3.1-8b': { pools: ['prefill', 'decode', 'agg'] } },
    // The bundled config's SLOs and price factor: overload control and SLO metering run on every
    // request, as for a user with SLOs (the fake backends serve no /metrics, so nothing is shed).
    tiers: {
      priority: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' }, slo: { ttftMs: 300, tpotMs: 5 }, priceFactor: 2 },
      default: { route: { mode: 'aggregated', pool: 'agg' }, slo: { ttftMs: 1000, tpotMs: 50 } },
    },
    tenants: [{ id: 'bench', apiKeys: [BENCH_API_KEY], tiers: ['priority', 'default'], limits }],
    ...(admission === 'lease' ? { admission: { leaseAboveRpm: 1 } } : {}),
  };
}


/** The load generator process, one batch at a time. */
class LoadGenerator {
  private pending: { id: number; resolve: (r: BatchResult) => void; reject: (e: Error) => void; onProgress: (done: number) => void } | undefined;
  private nextId = 1;

  constructor(private readonly child: ChildProcess) {
    child.on('message', (msg: BatchResult | BatchProgress) => {
      const p = this.pending;
      if (!p || msg.id !== p.id) return;
      if (msg.type === 'progress') p.onProgress(msg.done);
      else { this.pending = undefined; p.resolve(msg); }
    });
    child.on('exit', (code, signal) => {
      this.pending?.reject(new Error(`load generator exited (${signal ?? code}) during a batch`));
      this.pending = undefined;
    });
  }

  run(target: LoadTarget, requests: number, concurrency: number, label: string, onProgress: (done: number) => void): Promise<BatchResult> {
    const id = this.nextId++;
    const batch: BatchRequest = { type: 'batch', id, target, requests, concurrency, requestIdPrefix: `bench-${label}-${id}` };
    return new Promise<BatchResult>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`batch ${id} took longer than ${BATCH_TIMEOUT_MS} ms`)), BATCH_TIMEOUT_MS);
      this.pending = {
        id,
        onProgress,
        resolve: (r) => { clearTimeout(timer); resolve(r); },
        reject: (e) => { clearTimeout(timer); reject(e); },
      };
      this.child.send(batch);
    });
  }
}

interface TargetSetup {
  readonly name: TargetName;
  readonly pid: number | undefined;
  /** The gateway's store process (`splitserve store`), measured on its own. */
  readonly storePid?: number;
  readonly load: Record<Route, LoadTarget>;
}

/**
 * Runs the whole benchmark and returns its report (the caller prints and writes it).
 *
 * @example
 * const report = await runBench(parseBenchArgs(['--quick']), { progress: () => {} });
 */
export async function runBench(options: BenchOptions, io: BenchIo): Promise<BenchReport> {
  const startedAt = new Date().toISOString();
  const notes: string[] = [];
  let targets: readonly TargetName[] = options.targets ?? ['direct', 'relay', 'gateway'];
  if (!gatewayAvailable() && targets.includes('gateway')) {
    if (options.targets) throw new Error('--targets gateway: the gateway (bin/commands/start.ts) is not in this tree yet');
    targets = targets.filter((t) => t !== 'gateway');
    notes.push('gateway not measured: bin/commands/start.ts is not in this tree yet');
  }
  if (options.rounds % 2 === 1 && options.rounds > 1) {
    notes.push(`${options.rounds} rounds: an odd count gives the relay the first place once more than the gateway, and the last round has no partner in the paired ΔTTFT`);
  }
  const procs = new ProcessGroup();
  const removeHandlers = procs.installSignalHandlers();
  const scratch = mkdtempSync(join(tmpdir(), 'splitserve-bench-'));
  let build: BenchBuild | undefined;
  // Ctrl-C exits from the signal handler, past the `finally` below: remove the files on exit too.
  const removeFiles = (): void => {
    rmSync(scratch, { recursive: true, force: true });
    // A profiled run keeps its bundles: the profiles point into them.
    if (build?.directory && options.cpuProf === undefined) rmSync(build.directory, { recursive: true, force: true });
  };
  process.once('exit', removeFiles);
  try {
    io.progress(`starting ${options.backend} backends…`, false);
    const backends = await startBackends(procs, options);
    if (targets.includes('relay') || targets.includes('gateway')) {
      io.progress(options.build === 'bundle' ? 'building the relay and the gateway (esbuild bundles, built like the Lambda functions)…' : 'relay and gateway from their sources (tsx)', false);
      build = await prepareBuild(options.build, { readable: options.cpuProf !== undefined });
      if (options.cpuProf !== undefined && build.directory) io.progress(`profiled bundles (not minified), kept: ${build.directory}`, false);
    }
    const setups: TargetSetup[] = [];
    const nodeFlags = options.cpuProf !== undefined ? ['--cpu-prof', '--cpu-prof-dir', resolve(options.cpuProf)] : [];
    if (options.cpuProf !== undefined) {
      notes.push(`CPU profiles of the relay and the gateway in ${resolve(options.cpuProf)}: profiling slows them, compare nothing from this run`);
      if (build?.directory) notes.push(`the profiled bundles (not minified) are kept in ${build.directory}`);
    }
    for (const name of targets) setups.push(await startTarget(procs, name, backends, { scratch, nodeFlags, io, admission: options.admission, build }));
    const loadGen = new LoadGenerator(procs.forkModule(join(REPO_ROOT, 'bench', 'load-generator.ts')));

    const runOne = async (label: string, setup: TargetSetup, route: Route, c: number, n: number, round: number): Promise<BatchFigures> => {
      const prefix = `${label} c=${c} ${route} ${setup.name}`;
      io.progress(`${prefix} 0/${n}…`, true);
      const cpuBefore = setup.pid === undefined ? 0 : treeCpuMs(setup.pid);
      const storeBefore = setup.storePid === undefined ? 0 : treeCpuMs(setup.storePid);
      const r = await loadGen.run(setup.load[route], n, c, `${route}-${setup.name}`, (done) => io.progress(`${prefix} ${done}/${n}…`, true));
      const cpuAfter = setup.pid === undefined ? 0 : treeCpuMs(setup.pid);
      const storeAfter = setup.storePid === undefined ? 0 : treeCpuMs(setup.storePid);
      const ttft = summarize(r.ttftMs);
      const total = summarize(r.totalMs);
      return {
        round, route, concurrency: c, target: setup.name, requests: n, completed: r.completed,
        errors: r.errors, errorSamples: r.errorSamples,
        ttftP50Ms: ttft.p50, ttftP99Ms: ttft.p99, totalP50Ms: total.p50, totalP99Ms: total.p99,
        throughputRps: r.wallMs > 0 ? (r.completed * 1000) / r.wallMs : Number.NaN,
        cpuMs: setup.pid === undefined ? null : cpuAfter - cpuBefore,
        cpuMsPerRequest: setup.pid === undefined ? null : r.completed > 0 ? (cpuAfter - cpuBefore) / r.completed : Number.NaN,
        storeCpuMs: setup.storePid === undefined ? null : storeAfter - storeBefore,
        wallMs: r.wallMs,
      };
    };

    // Round 0 is the warm-up (JIT, connection pools, caches): every batch of a round at half size, discarded.
    const warmup: BatchFigures[] = [];
    const batches: BatchFigures[] = [];
    for (let round = 0; round <= options.rounds; round++) {
      const label = round === 0 ? '[warm-up]' : `[round ${round}/${options.rounds}]`;
      const order = roundOrder(setups, round);
      for (const c of options.concurrency) {
        for (const route of options.routes) {
          const n = round === 0 ? Math.max(1, Math.ceil(requestsFor(options, c) / 2)) : requestsFor(options, c);
          for (const setup of order) (round === 0 ? warmup : batches).push(await runOne(label, setup, route, c, n, round));
        }
      }
    }
    io.progress('done', false);
    const cells = cellsOf(batches);
    return {
      startedAt,
      finishedAt: new Date().toISOString(),
      options,
      environment: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, clockTicks: clockTicksPerSecond(), backend: options.backend },
      targets: setups.map((s) => s.name),
      notes,
      warmup,
      batches,
      cells,
      comparisons: comparisonsOf(cells, batches),
      failedRequests: [...warmup, ...batches].reduce((n, b) => n + failedCount(b.errors), 0),
    };
  } finally {
    await procs.stopAll();
    removeHandlers();
    process.off('exit', removeFiles);
    removeFiles();
  }
}

/**
 * The order of the targets in every (concurrency, route) group of a round: direct first, then the
 * relay and the gateway back to back, the relay first in odd rounds and the gateway first in even
 * ones.
 *
 * Measured over 20 runs (10 rounds each) of an earlier schedule that rotated all three targets,
 * at 16 streams, TTFT p50 relative to the same target's median:
 * - A target that had been idle for 4 batches ran about 17% slower than one idle for 1. With the
 *   same order in every group, the relay and the gateway are each idle for two batches before
 *   each of theirs (except in the first group of a round, at the swap).
 * - The first batch after a change of concurrency or route ran up to 10% slower (the relay after
 *   a c=1 batch), about 2% on average. Direct takes that place: it is compared with nothing.
 * The old rotation gave the two targets these places unevenly, a bias of up to 1 ms on a round's
 * difference. The later batch of the pair still runs faster; alternating the pair's order
 * between rounds, and the paired ΔTTFT's averaging of an odd round with the next even one
 * (bench/report.ts), cancel that.
 */
export function roundOrder<T extends { readonly name: TargetName }>(setups: readonly T[], round: number): T[] {
  const direct = setups.filter((s) => s.name === 'direct');
  const pair = setups.filter((s) => s.name !== 'direct').sort((a, b) => TARGETS.indexOf(a.name) - TARGETS.indexOf(b.name));
  return [...direct, ...(round % 2 === 1 ? pair : [...pair].reverse())];
}

/** What starting the relay or the gateway needs besides its name and the backends. */
interface TargetContext {
  /** A temporary directory (the gateway's config file goes there). */
  readonly scratch: string;
  /** Extra node flags for the relay and the gateway (`--cpu-prof …`). */
  readonly nodeFlags: readonly string[];
  readonly io: BenchIo;
  readonly admission: AdmissionMode;
  /** Set when the targets include the relay or the gateway. */
  readonly build: BenchBuild | undefined;
}

async function startTarget(procs: ProcessGroup, name: TargetName, backends: Backends, context: TargetContext): Promise<TargetSetup> {
  const { scratch, nodeFlags, io, admission } = context;
  const stream = (url: string, headers: Record<string, string>, route: Route): LoadTarget => ({ kind: 'stream', url: url + CHAT_PATH, headers, serviceTier: SERVICE_TIER[route] });
  if (name === 'direct') {
    return {
      name, pid: undefined,
      load: {
        agg: stream(backends.agg, {}, 'agg'),
        disagg: { kind: 'direct-disagg', prefillUrl: backends.prefill + CHAT_PATH, decodeUrl: backends.decode + CHAT_PATH, serviceTier: SERVICE_TIER.disagg },
      },
    };
  }
  const build = context.build;
  if (!build) throw new Error(`${name}: no build prepared`);
  if (name === 'relay') {
    io.progress('starting minimal relay…', false);
    const relay = await procs.spawnService({
      name: 'minimal-relay',
      args: [...nodeFlags, ...build.relay, '--port', '0', '--prefill', backends.prefill, '--decode', backends.decode, '--agg', backends.agg],
      ready: READY,
    });
    return { name, pid: relay.pid, load: { agg: stream(relay.url, { 'x-relay-route': 'agg' }, 'agg'), disagg: stream(relay.url, { 'x-relay-route': 'disagg' }, 'disagg') } };
  }
  // The store in a process of its own, as DynamoDB is a service of its own deployed: its CPU is
  // reported on its own line, not as the gateway's.
  io.progress('starting the gateway\'s store…', false);
  const store = await procs.spawnService({ name: 'store', args: [...build.cli, 'store', '--port', '0'], ready: READY, timeoutMs: 60_000 });
  io.progress('starting gateway…', false);
  const configFile = join(scratch, 'gateway-config.json');
  writeFileSync(configFile, JSON.stringify(gatewayConfig(backends, admission), null, 2));
  // The core behind its Node HTTP adapter: the gateway's own request path. The stack runtime would
  // add the local API Gateway emulator, which in AWS is API Gateway's cost, not the gateway's.
  const gateway = await procs.spawnService({
    name: 'gateway',
    args: [...nodeFlags, ...build.cli, 'start', '--runtime', 'node', '--config', configFile, '--port', '0', '--store', store.url],
    ready: READY,
    timeoutMs: 60_000,
  });
  const auth = { authorization: `Bearer ${BENCH_API_KEY}` };
  return { name, pid: gateway.pid, storePid: store.pid, load: { agg: stream(gateway.url, auth, 'agg'), disagg: stream(gateway.url, auth, 'disagg') } };
}
