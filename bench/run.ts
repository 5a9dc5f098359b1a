/**
 * Orchestration of `splitserve bench`: start the backends, the bare pipe, the toy proxy and the
 * gateways (each its own process, each gateway with its own store process), synthesize the stack
 * the Lambda and stack targets run, warm up, run the interleaved rounds, and build the report.
 * Every child is stopped at the end, on error and on Ctrl-C.
 */
import type { ChildProcess } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import type { AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { DEFAULT_ASSEMBLY_DIR, synthesize } from '../local/stack/synth.ts';
import { SOURCE_CLI, prepareBuild } from './build.ts';
import type { BenchBuild } from './build.ts';
import { ADMISSIONS, TARGETS, requestsFor } from './cli-options.ts';
import type { AdmissionMode, BenchOptions, Route, TargetName } from './cli-options.ts';
import type { BatchProgress, BatchRequest, BatchResult, LoadTarget } from './load-generator.ts';
import { ProcessGroup, REPO_ROOT, clockTicksPerSecond, treeCpuMs } from './processes.ts';
import { cellsOf, comparisonsOf, failedCount, pathLabel, targetChecks } from './report.ts';
import type { BatchFigures, BenchReport } from './report.ts';
import { summarize } from './stats.ts';

/** The API key of each bench tenant (one per admission mode) in the gateway config the bench writes. */
export const BENCH_API_KEYS: Readonly<Record<AdmissionMode, string>> = {
  none: 'sk-ss-bench-none-0123456789abcdef',
  exact: 'sk-ss-bench-exact-0123456789abcdef',
  lease: 'sk-ss-bench-lease-0123456789abcdef',
};
const READY = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
const CHAT_PATH = '/v1/chat/completions';
const SERVICE_TIER: Record<Route, string> = { agg: 'default', disagg: 'priority' };
const SIM_PROFILES = { prefill: 'trainium-prefill', decode: 'cerebras-decode', agg: 'gpu-aggregated' } as const;
const BATCH_TIMEOUT_MS = 300_000;
const GATEWAY_START_MS = 180_000;

/** Where progress goes; the CLI writes it to stderr. */
export interface BenchIo {
  /** A progress line; `transient` lines may be overwritten by the next one. */
  progress(line: string, transient: boolean): void;
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
  const [prefill, decode, agg] = await Promise.all([start('prefill'), start('decode'), start('agg')]);
  return { prefill: prefill.url, decode: decode.url, agg: agg.url };
}

/**
 * Requests per minute from which a tenant takes leases in the bench config. The `exact` tenant's
 * limit is below it, the `lease` tenant's above; both are far above any bench load (16 streams at
 * a few thousand requests a second is a few hundred thousand a minute), so admission runs and
 * never refuses.
 */
export const LEASE_ABOVE_RPM = 100_000_000;
const TENANT_LIMITS: Readonly<Record<AdmissionMode, { rpm: number; tpm: number } | undefined>> = {
  none: undefined,
  exact: { rpm: LEASE_ABOVE_RPM / 10, tpm: 1_000_000_000_000 },
  lease: { rpm: LEASE_ABOVE_RPM * 10, tpm: 1_000_000_000_000 },
};

/**
 * The gateway config pointing at the bench's backends: one tenant per admission mode
 * (`bench-none`, `bench-exact`, `bench-lease`), each with its key in {@link BENCH_API_KEYS}.
 */
export function gatewayConfig(backends: Backends): object {
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
    tenants: ADMISSIONS.map((mode) => {
      const limits = TENANT_LIMITS[mode];
      return { id: `bench-${mode}`, apiKeys: [BENCH_API_KEYS[mode]], tiers: ['priority', 'default'], limits: limits ? { priority: limits, default: limits } : {} };
    }),
    admission: { leaseAboveRpm: LEASE_ABOVE_RPM },
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

/** One measured path: a target, and for a gateway target the tenant (admission mode) it runs as. */
export interface BenchPath {
  readonly name: TargetName;
  /** `null` for direct, the pipe and the toy proxy. */
  readonly admission: AdmissionMode | null;
  /** The gateway's (or the pipe's, the toy's) process; `undefined` for direct. */
  readonly pid: number | undefined;
  /** The gateway's store process (`splitserve store`), measured on its own. */
  readonly storePid?: number;
  /** Where its batches go, per route it serves (the toy proxy serves prefill → decode only). */
  readonly load: Partial<Record<Route, LoadTarget>>;
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
  let targets: readonly TargetName[] = options.targets ?? TARGETS.filter((t) => t !== 'vllm-toy' || options.vllmToy !== undefined);
  let toyNotMeasured: string | undefined;
  if (options.vllmToy === undefined) {
    toyNotMeasured = 'no --vllm-toy PATH given (a vLLM checkout\'s tests/v1/kv_connector/nixl_integration/toy_proxy_server.py)';
  } else if (!targets.includes('vllm-toy')) {
    toyNotMeasured = 'vllm-toy is not among --targets';
  } else if (!options.routes.includes('disagg')) {
    toyNotMeasured = 'the toy proxy serves prefill → decode only, and --routes has no disagg';
    targets = targets.filter((t) => t !== 'vllm-toy');
  } else {
    const found = toyProxyPrerequisites(options.vllmToy);
    if (typeof found === 'string') {
      toyNotMeasured = found;
      targets = targets.filter((t) => t !== 'vllm-toy');
    }
  }
  if (options.rounds % 2 === 1 && options.rounds > 1) {
    notes.push(`${options.rounds} rounds: an odd count runs the forward order once more than the reversed one, and the last round has no partner in the paired ΔTTFT`);
  }
  if (!targets.includes('pipe')) notes.push('the pipe was not measured: no ratios, no ΔTTFT, no target checks');
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
    const configFile = join(scratch, 'gateway-config.json');
    writeFileSync(configFile, JSON.stringify(gatewayConfig(backends), null, 2));
    if (targets.some((t) => t !== 'direct' && t !== 'vllm-toy')) {
      io.progress(options.build === 'bundle' ? 'building the pipe, the Lambda host and the CLI (esbuild bundles, built like the Lambda functions)…' : 'pipe, Lambda host and CLI from their sources (tsx)', false);
      build = await prepareBuild(options.build, { readable: options.cpuProf !== undefined });
      if (options.cpuProf !== undefined && build.directory) io.progress(`profiled bundles (not minified), kept: ${build.directory}`, false);
    }
    if (targets.includes('lambda') || targets.includes('stack')) {
      // The stack as `npm start` synthesizes it (the same cache: `splitserve start` then finds it).
      await synthesize({ configPath: configFile, onProgress: (m) => io.progress(m, false) });
    }
    const nodeFlags = options.cpuProf !== undefined ? ['--cpu-prof', '--cpu-prof-dir', resolve(options.cpuProf)] : [];
    if (options.cpuProf !== undefined) {
      notes.push(`CPU profiles of the pipe and the gateways in ${resolve(options.cpuProf)}: profiling slows them, compare nothing from this run`);
      if (build?.directory) notes.push(`the profiled bundles (not minified) are kept in ${build.directory}`);
    }
    const paths: BenchPath[] = [];
    for (const name of targets) {
      try {
        paths.push(...(await startTarget(procs, name, backends, { configFile, nodeFlags, io, options, build })));
      } catch (err) {
        if (name !== 'vllm-toy') throw err;
        toyNotMeasured = `it did not start: ${(err as Error).message.split('\n').slice(0, 6).join(' | ')}`;
      }
    }
    const loadGen = new LoadGenerator(procs.forkModule(join(REPO_ROOT, 'bench', 'load-generator.ts')));

    const runOne = async (label: string, path: BenchPath, load: LoadTarget, route: Route, c: number, n: number, round: number): Promise<BatchFigures> => {
      const name = pathLabel({ target: path.name, admission: path.admission });
      const prefix = `${label} c=${c} ${route} ${name}`;
      io.progress(`${prefix} 0/${n}…`, true);
      const cpuBefore = path.pid === undefined ? 0 : treeCpuMs(path.pid);
      const storeBefore = path.storePid === undefined ? 0 : treeCpuMs(path.storePid);
      const r = await loadGen.run(load, n, c, `${route}-${name.replace(' ', '-')}`, (done) => io.progress(`${prefix} ${done}/${n}…`, true));
      const cpuAfter = path.pid === undefined ? 0 : treeCpuMs(path.pid);
      const storeAfter = path.storePid === undefined ? 0 : treeCpuMs(path.storePid);
      const ttft = summarize(r.ttftMs);
      const total = summarize(r.totalMs);
      return {
        round, route, concurrency: c, target: path.name, admission: path.admission, requests: n, completed: r.completed,
        errors: r.errors, errorSamples: r.errorSamples,
        ttftP50Ms: ttft.p50, ttftP99Ms: ttft.p99, totalP50Ms: total.p50, totalP99Ms: total.p99,
        throughputRps: r.wallMs > 0 ? (r.completed * 1000) / r.wallMs : Number.NaN,
        cpuMs: path.pid === undefined ? null : cpuAfter - cpuBefore,
        cpuMsPerRequest: path.pid === undefined ? null : r.completed > 0 ? (cpuAfter - cpuBefore) / r.completed : Number.NaN,
        storeCpuMs: path.storePid === undefined ? null : storeAfter - storeBefore,
        wallMs: r.wallMs,
      };
    };

    // Round 0 is the warm-up (JIT, connection pools, caches, lease blocks): every batch of a round at half size, discarded.
    const warmup: BatchFigures[] = [];
    const batches: BatchFigures[] = [];
    for (let round = 0; round <= options.rounds; round++) {
      const label = round === 0 ? '[warm-up]' : `[round ${round}/${options.rounds}]`;
      const order = roundOrder(paths, round);
      for (const c of options.concurrency) {
        for (const route of options.routes) {
          const n = round === 0 ? Math.max(1, Math.ceil(requestsFor(options, c) / 2)) : requestsFor(options, c);
          for (const path of order) {
            const load = path.load[route];
            if (load) (round === 0 ? warmup : batches).push(await runOne(label, path, load, route, c, n, round));
          }
        }
      }
    }
    io.progress('done', false);
    const cells = cellsOf(batches);
    const comparisons = comparisonsOf(cells, batches);
    return {
      startedAt,
      finishedAt: new Date().toISOString(),
      options,
      environment: { node: process.version, platform: `${process.platform}-${process.arch}`, cpus: cpus().length, clockTicks: clockTicksPerSecond(), backend: options.backend },
      targets: [...new Set(paths.map((p) => p.name))],
      notes,
      ...(toyNotMeasured !== undefined ? { toyNotMeasured } : {}),
      warmup,
      batches,
      cells,
      comparisons,
      checks: targetChecks(cells, comparisons, options.routes, toyNotMeasured),
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
 * The order of the paths in every (concurrency, route) group of a round: direct first, then the
 * others in the order of {@link TARGETS} (the pipe first; a gateway's admission modes back to
 * back, in the order given), reversed in every even round (the warm-up round 0 included).
 *
 * Measured with an earlier three-target bench, at 16 streams, TTFT p50 relative to the same
 * target's median:
 * - A target that had been idle for 4 batches ran about 17% slower than one idle for 1. With the
 *   same order in every group of a round, each path is idle for the same number of batches before
 *   each of its batches (except in the first group of a round, at the reversal).
 * - The first batch after a change of concurrency or route ran up to 10% slower, about 2% on
 *   average. Direct takes that place: it is compared with nothing.
 * - The later of two back-to-back batches ran faster. Reversing the order every other round gives
 *   each path both sides of the pipe, and the paired ΔTTFT's averaging of an odd round with the
 *   next even one (bench/report.ts) cancels the place's share.
 */
export function roundOrder<T extends { readonly name: TargetName }>(paths: readonly T[], round: number): T[] {
  const direct = paths.filter((s) => s.name === 'direct');
  const rest = paths.filter((s) => s.name !== 'direct').sort((a, b) => TARGETS.indexOf(a.name) - TARGETS.indexOf(b.name));
  return [...direct, ...(round % 2 === 1 ? rest : [...rest].reverse())];
}

/** What starting a target needs besides its name and the backends. */
interface TargetContext {
  /** The gateway config file (written before the synth). */
  readonly configFile: string;
  /** Extra node flags for the pipe and the gateways (`--cpu-prof …`). */
  readonly nodeFlags: readonly string[];
  readonly io: BenchIo;
  readonly options: BenchOptions;
  /** Set when the targets include anything but direct and the toy proxy. */
  readonly build: BenchBuild | undefined;
}

/** Python interpreters tried for the toy proxy, in order. */
const PYTHONS = ['python3', '/usr/bin/python3'] as const;

/** Checks that a python has the toy proxy's modules. */
const TOY_MODULES_CHECK = 'import fastapi, httpx, uvicorn';

/**
 * How the toy proxy is started: `python -c TOY_LAUNCHER <toy_proxy_server.py> <its flags>` runs
 * the file as `__main__`, unchanged. The toy proxy creates its HTTP clients in a FastAPI
 * `lifespan` handler; FastAPI before 0.93 (Debian 12's python3-fastapi is 0.92) takes that
 * argument and ignores it, and the toy proxy then answers 500 to every request. With such a
 * FastAPI only, the launcher hands the handler to Starlette's router, which runs it.
 */
const TOY_LAUNCHER = [
  'import inspect, runpy, sys',
  'import fastapi',
  'if "lifespan" not in inspect.signature(fastapi.FastAPI).parameters:',
  '    _init = fastapi.FastAPI.__init__',
  '    def _with_lifespan(self, *args, lifespan=None, **kwargs):',
  '        _init(self, *args, **kwargs)',
  '        if lifespan is not None:',
  '            self.router.lifespan_context = lifespan',
  '    fastapi.FastAPI.__init__ = _with_lifespan',
  'sys.argv = sys.argv[1:]',
  'runpy.run_path(sys.argv[0], run_name="__main__")',
].join('\n');

/**
 * The python that can run vLLM's toy proxy at `toyPath`, or why none can: the file must exist
 * and a python of {@link PYTHONS} must import fastapi, httpx and uvicorn.
 */
export function toyProxyPrerequisites(toyPath: string): { readonly python: string } | string {
  if (!existsSync(toyPath)) return `--vllm-toy ${toyPath}: no such file`;
  for (const python of PYTHONS) {
    try {
      execFileSync(python, ['-c', TOY_MODULES_CHECK], { stdio: 'ignore', timeout: 30_000 });
      return { python };
    } catch {
      // not there, or without the modules: try the next one
    }
  }
  return `no python with fastapi, httpx and uvicorn (tried ${PYTHONS.join(' and ')}; e.g. apt-get install python3-fastapi python3-httpx python3-uvicorn, or pip install fastapi httpx uvicorn)`;
}

/** A port free right now on 127.0.0.1 (for a server that cannot take port 0 and report it). */
function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolvePort(port));
    });
  });
}

async function startTarget(procs: ProcessGroup, name: TargetName, backends: Backends, context: TargetContext): Promise<BenchPath[]> {
  const { nodeFlags, io, options, configFile } = context;
  const stream = (url: string, headers: Record<string, string>, route: Route): LoadTarget => ({ kind: 'stream', url: url + CHAT_PATH, headers, serviceTier: SERVICE_TIER[route] });
  if (name === 'direct') {
    return [{
      name, admission: null, pid: undefined,
      load: {
        agg: stream(backends.agg, {}, 'agg'),
        disagg: { kind: 'direct-disagg', prefillUrl: backends.prefill + CHAT_PATH, decodeUrl: backends.decode + CHAT_PATH, serviceTier: SERVICE_TIER.disagg },
      },
    }];
  }
  if (name === 'vllm-toy') {
    const found = toyProxyPrerequisites(options.vllmToy ?? '');
    if (typeof found === 'string') throw new Error(found);
    io.progress(`starting vLLM's toy proxy (${found.python} ${options.vllmToy})…`, false);
    const [port, prefill, decode] = [await freePort(), new URL(backends.prefill), new URL(backends.decode)];
    const toy = await procs.spawnService({
      name: 'vllm-toy',
      command: found.python,
      args: ['-c', TOY_LAUNCHER, resolve(options.vllmToy ?? ''), '--host', '127.0.0.1', '--port', String(port), '--prefiller-hosts', prefill.hostname, '--prefiller-ports', prefill.port, '--decoder-hosts', decode.hostname, '--decoder-ports', decode.port],
      ready: /Uvicorn running on (http:\/\/127\.0\.0\.1:\d+)/,
      timeoutMs: 60_000,
    });
    return [{ name, admission: null, pid: toy.pid, load: { disagg: stream(toy.url, {}, 'disagg') } }];
  }
  const build = context.build;
  if (!build) throw new Error(`${name}: no build prepared`);
  if (name === 'pipe') {
    io.progress('starting the bare pipe…', false);
    const pipe = await procs.spawnService({
      name: 'bare-pipe',
      args: [...nodeFlags, ...build.pipe, '--port', '0', '--prefill', backends.prefill, '--decode', backends.decode, '--agg', backends.agg],
      ready: READY,
    });
    return [{ name, admission: null, pid: pipe.pid, load: { agg: stream(pipe.url, { 'x-relay-route': 'agg' }, 'agg'), disagg: stream(pipe.url, { 'x-relay-route': 'disagg' }, 'disagg') } }];
  }
  if (name === 'lambda-floor') {
    io.progress('starting the Lambda floor…', false);
    const floor = await procs.spawnService({
      name: 'lambda-floor',
      args: [...nodeFlags, ...build.lambdaHost, '--floor', '--port', '0', '--prefill', backends.prefill, '--decode', backends.decode, '--agg', backends.agg],
      ready: READY,
    });
    return [{ name, admission: null, pid: floor.pid, load: { agg: stream(floor.url, { 'x-relay-route': 'agg' }, 'agg'), disagg: stream(floor.url, { 'x-relay-route': 'disagg' }, 'disagg') } }];
  }
  // The store in a process of its own, as DynamoDB is a service of its own deployed: its CPU is
  // reported on its own line, not as the gateway's.
  io.progress(`starting ${name}'s store…`, false);
  const store = await procs.spawnService({ name: `${name} store`, args: [...build.cli, 'store', '--port', '0'], ready: READY, timeoutMs: 60_000 });
  io.progress(`starting ${name}…`, false);
  const args = name === 'lambda'
    ? [...build.lambdaHost, '--assembly', DEFAULT_ASSEMBLY_DIR, '--config', configFile, '--store', store.url, '--port', '0']
    : // At the default log level (info: one access-log line per request), as a user runs it.
      [...build.cli, 'start', '--runtime', name, '--config', configFile, '--port', '0', '--store', store.url];
  const gateway = await procs.spawnService({ name, args: [...nodeFlags, ...args], ready: READY, timeoutMs: GATEWAY_START_MS });
  return options.admissions.map((admission) => ({
    name, admission, pid: gateway.pid, storePid: store.pid,
    load: {
      agg: stream(gateway.url, { authorization: `Bearer ${BENCH_API_KEYS[admission]}` }, 'agg'),
      disagg: stream(gateway.url, { authorization: `Bearer ${BENCH_API_KEYS[admission]}` }, 'disagg'),
    },
  }));
}
