/**
 * Orchestration of `npm run bench:overload`: one simulated engine (batch slots, vLLM's priority
 * scheduling, `/metrics`), splitserve in front of it with both tiers on that one pool, and the
 * FIFO baseline beside it (the minimal pass-through relay: what a router that forwards without
 * tiers does, vLLM's router and SGLang's gateway today). Each runs in its own process, as does the
 * open-loop load generator. The engine's capacity is measured first; then each offered load (a
 * multiple of it) is run through both systems, one after the other, from an idle engine.
 */
import type { ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { parseEngineLoad } from '../../lambda/backends/engine-load.ts';
import { SOURCE_CLI } from '../build.ts';
import { ProcessGroup, REPO_ROOT } from '../processes.ts';
import type { OpenLoopResult, OpenLoopRun, OpenLoopTarget } from './open-loop.ts';
import type { LoadFigures, Slo, Verdict } from './report.ts';
import { tierFigures, verdicts } from './report.ts';

/** Options of {@link runOverloadBench}. */
export interface OverloadOptions {
  /** Offered loads, as multiples of the measured capacity. */
  readonly loads: readonly number[];
  /** Seconds of arrivals per load and system. */
  readonly seconds: number;
  /** Share of arrivals asking for `priority`. */
  readonly priorityShare: number;
  /** Batch slots of the engine. */
  readonly slots: number;
  /** Output tokens per request. */
  readonly maxTokens: number;
  readonly seed: number;
}

/** The SLOs of the benchmark's tiers (its gateway config). */
export const BENCH_SLOS: { readonly priority: Slo; readonly default: Slo } = {
  priority: { ttftMs: 500, tpotMs: 50 },
  default: { ttftMs: 2000, tpotMs: 100 },
};

/** Keys of the benchmark's two tenants (written into its gateway config, local only). */
export const OVERLOAD_KEYS = { priority: 'sk-ss-overload-premium-0123456789abcdef', default: 'sk-ss-overload-standard-0123456789abcdef' } as const;

/** What a run produced. */
export interface OverloadReport {
  readonly startedAt: string;
  readonly options: OverloadOptions;
  /** Requests per second the engine completes at full batch (measured). */
  readonly capacity: number;
  readonly slos: typeof BENCH_SLOS;
  readonly rows: readonly LoadFigures[];
  readonly verdicts: readonly Verdict[];
}

const READY = /listening on (http:\/\/127\.0\.0\.1:\d+)/;
const CHAT_PATH = '/v1/chat/completions';
/** About 100 prompt tokens (4 characters a token). */
const PROMPT = 'Summarise why inference splits into a compute-bound prefill and a bandwidth-bound decode, for an engineer new to serving. '.repeat(3);

/** The gateway config: one pool, both tiers on it, with their SLOs; two tenants with limits. */
export function overloadConfig(engine: string): object {
  const limits = { rpm: 10_000_000, tpm: 1_000_000_000 };
  return {
    pools: { gpu: { protocol: 'openai', endpoints: [engine], timeoutMs: 120_000 } },
    models: { 'llama-3.1-8b': { pools: ['gpu'] } },
    tiers: {
      priority: { route: { mode: 'aggregated', pool: 'gpu' }, slo: BENCH_SLOS.priority, fallback: 'default', priceFactor: 2 },
      default: { route: { mode: 'aggregated', pool: 'gpu' }, slo: BENCH_SLOS.default },
    },
    tenants: [
      { id: 'premium', apiKeys: [OVERLOAD_KEYS.priority], tiers: ['priority', 'default'], limits: { priority: limits, default: limits } },
      { id: 'standard', apiKeys: [OVERLOAD_KEYS.default], tiers: ['default'], limits: { default: limits } },
    ],
  };
}

async function post(url: string, body: string): Promise<void> {
  const res = await request(`${url}${CHAT_PATH}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await res.body.text();
  if (res.statusCode !== 200) throw new Error(`capacity probe: HTTP ${res.statusCode}`);
}

/** Requests per second the engine completes with every slot busy: a closed loop of 2 × slots clients. */
async function measureCapacity(engine: string, options: OverloadOptions): Promise<number> {
  const body = JSON.stringify({ model: 'llama-3.1-8b', messages: [{ role: 'user', content: PROMPT }], stream: true, max_tokens: options.maxTokens });
  const total = options.slots * 8;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next++ < total) await post(engine, body);
  };
  const started = performance.now();
  await Promise.all(Array.from({ length: options.slots * 2 }, worker));
  return total / ((performance.now() - started) / 1000);
}

/** Waits until the engine reports nothing running or waiting. */
async function untilIdle(engine: string): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    const res = await request(`${engine}/metrics`);
    const load = parseEngineLoad(await res.body.text());
    if (load && load.running === 0 && load.waiting === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('the engine did not go idle within a minute');
}

function runLoad(generator: ChildProcess, run: OpenLoopRun): Promise<OpenLoopResult> {
  return new Promise((resolve, reject) => {
    const onMessage = (msg: OpenLoopResult) => {
      if (msg?.type !== 'result' || msg.id !== run.id) return;
      generator.off('message', onMessage);
      generator.off('exit', onExit);
      resolve(msg);
    };
    const onExit = (code: number | null) => reject(new Error(`the load generator exited (${code})`));
    generator.on('message', onMessage);
    generator.once('exit', onExit);
    generator.send(run);
  });
}

/** Runs the benchmark; `progress` gets one line per step. */
export async function runOverloadBench(options: OverloadOptions, progress: (line: string) => void): Promise<OverloadReport> {
  const procs = new ProcessGroup();
  const removeHandlers = procs.installSignalHandlers();
  const dir = mkdtempSync(join(tmpdir(), 'splitserve-overload-'));
  try {
    progress(`starting the engine (gpu-aggregated simulator, ${options.slots} slots, priority scheduling)…`);
    const engine = await procs.spawnService({
      name: 'engine',
      args: [...SOURCE_CLI, 'sim', '--profile', 'gpu-aggregated', '--port', '0', '--slots', String(options.slots), '--scheduling-policy', 'priority', '--seed', String(options.seed)],
      ready: READY,
    });
    const configFile = join(dir, 'config.json');
    writeFileSync(configFile, JSON.stringify(overloadConfig(engine.url)));
    progress('starting splitserve (start --runtime node) and the FIFO baseline (minimal relay)…');
    const [gateway, relay] = await Promise.all([
      procs.spawnService({ name: 'splitserve', args: [...SOURCE_CLI, 'start', '--runtime', 'node', '--config', configFile, '--port', '0', '--store-port', '0', '--log-level', 'warn'], ready: READY, timeoutMs: 120_000 }),
      procs.spawnService({ name: 'fifo relay', args: ['--import', 'tsx', 'bench/minimal-relay.ts', '--agg', engine.url, '--port', '0'], ready: READY }),
    ]);
    progress('measuring the engine\'s capacity (closed loop, every slot busy)…');
    const capacity = await measureCapacity(engine.url, options);
    progress(`capacity: ${capacity.toFixed(1)} requests/s`);
    const generator = procs.forkModule(join(REPO_ROOT, 'bench', 'overload', 'open-loop.ts'));
    const systems: Array<{ name: string; target: OpenLoopTarget }> = [
      { name: 'splitserve', target: { url: `${gateway.url}${CHAT_PATH}`, keys: OVERLOAD_KEYS } },
      { name: 'fifo', target: { url: `${relay.url}${CHAT_PATH}`, keys: {} } },
    ];
    const rows: LoadFigures[] = [];
    let id = 0;
    for (const [index, load] of options.loads.entries()) {
      // Both systems get the same arrivals and tiers at a load: the same seed.
      const seed = options.seed + index;
      for (const system of systems) {
        await untilIdle(engine.url);
        const rate = load * capacity;
        progress(`${system.name} at ${load}x (${rate.toFixed(1)} req/s for ${options.seconds} s)…`);
        const result = await runLoad(generator, {
          type: 'run',
          id: ++id,
          target: system.target,
          rate,
          seconds: options.seconds,
          priorityShare: options.priorityShare,
          seed,
          maxTokens: options.maxTokens,
          prompt: PROMPT,
        });
        const of = (tier: 'priority' | 'default') => tierFigures(result.requests.filter((r) => r.tier === tier), BENCH_SLOS[tier]);
        rows.push({ system: system.name, load, rate, late: result.late, tiers: { priority: of('priority'), default: of('default') } });
      }
    }
    const top = Math.max(...options.loads);
    const at = rows.find((r) => r.system === 'splitserve' && r.load === top)!;
    return { startedAt: new Date().toISOString(), options, capacity, slos: BENCH_SLOS, rows, verdicts: verdicts(at, BENCH_SLOS.priority) };
  } finally {
    await procs.stopAll();
    removeHandlers();
    rmSync(dir, { recursive: true, force: true });
  }
}
