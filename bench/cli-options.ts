/**
 * Command-line options of `splitserve bench`: parsing, defaults and the usage text.
 */
import { parseArgs } from 'node:util';

/** Routes a batch can take: one aggregated backend, or vLLM NIXL prefill → decode. */
export const ROUTES = ['agg', 'disagg'] as const;
export type Route = (typeof ROUTES)[number];

/** The three ways a batch reaches the backends. */
export const TARGETS = ['direct', 'relay', 'gateway'] as const;
export type TargetName = (typeof TARGETS)[number];

/**
 * How the bench tenant is admitted by the gateway: `none` (no limits: no DynamoDB call), `exact`
 * (limits far above the load: one conditional UpdateItem per request), `lease` (the same limits
 * with lease mode: an instance claims blocks of the window and admits locally).
 */
export const ADMISSIONS = ['none', 'exact', 'lease'] as const;
export type AdmissionMode = (typeof ADMISSIONS)[number];

/** Backends: the bench's own fake vLLM (default) or the project's simulator. */
export const BACKENDS = ['fake', 'sim'] as const;
export type BackendKind = (typeof BACKENDS)[number];

/** What the relay and the gateway run from: esbuild bundles (built like the Lambda functions) or the sources through tsx (bench/build.ts). */
export const BUILDS = ['bundle', 'source'] as const;
export type BuildKind = (typeof BUILDS)[number];

/** Everything a bench run needs to know, defaults filled in. */
export interface BenchOptions {
  /** Requests per measured batch; `undefined` means max(1000, 8 × concurrency). */
  readonly requests: number | undefined;
  readonly rounds: number;
  readonly concurrency: readonly number[];
  readonly routes: readonly Route[];
  /** `undefined` means direct, relay, and gateway when the gateway exists in the tree. */
  readonly targets: readonly TargetName[] | undefined;
  readonly backend: BackendKind;
  /** Simulator speed-up factor (`--backend sim` only). */
  readonly simSpeedup: number;
  readonly quick: boolean;
  /** How the gateway admits the bench tenant. */
  readonly admission: AdmissionMode;
  /** What the relay and the gateway run from: esbuild bundles built like the Lambda functions, or the sources through tsx. */
  readonly build: BuildKind;
  /** Directory for V8 CPU profiles of the relay and the gateway (`node --cpu-prof`); off when `undefined`. */
  readonly cpuProf: string | undefined;
  /** Where to write the JSON figures; `undefined` means bench/results/bench-<ISO time>.json. */
  readonly jsonOut: string | undefined;
  readonly help: boolean;
}

/** Thrown for a bad command line; the message is meant for the user. */
export class BenchUsageError extends Error {
  override readonly name = 'BenchUsageError';
}

/**
 * Measured rounds by default. Ten, not five: on the shared 2-core machine the relay's own TTFT
 * p50 at 16 streams spans about 2x between batches of one run (1.9–3.7 ms in a typical run), more
 * than the 1 ms target, so the median of a run's rounds is noisy. Ten narrowed it a little (runs
 * over 1 ms on a route: 3 of 13 with five, 2 of 15 with ten, on nearly the same code); single runs still
 * differ. A full run takes about two minutes.
 */
export const DEFAULT_ROUNDS = 10;

/** Usage text printed by `--help`. */
export const BENCH_USAGE = `usage: splitserve bench [options]

Streams the same requests three ways side by side, in interleaved rounds, and reports medians:
  direct   the load generator calls the backends itself (prefill then decode, or one call)
  relay    through bench/minimal-relay.ts: the practical limit (no auth, no checks)
  gateway  through splitserve itself (bin/splitserve.ts start --runtime node: the core behind its Node adapter)
The relay and the gateway (and its store) run from the same kind of build (--build).

options:
  --requests N         requests per measured batch        (default: max(1000, 8 x concurrency))
  --rounds R           measured rounds, after a warm-up round of half-size batches (default: ${DEFAULT_ROUNDS})
  --concurrency LIST   comma-separated concurrencies      (default: 1,16,64,256)
  --routes LIST        agg,disagg                         (default: both)
  --targets LIST       direct,relay,gateway               (default: all available)
  --backend KIND       fake | sim                         (default: fake: 8-token reply, no delays)
  --sim-speedup S      simulator speed-up (--backend sim) (default: 10)
  --admission MODE     none | exact | lease (default: lease): the bench tenant has no limits,
                       limits checked with one conditional UpdateItem per request, or the same
                       limits in lease mode (metering is on in every mode)
  --build KIND         bundle | source (default: bundle): the relay and the gateway as esbuild
                       bundles built like the Lambda functions (ESM, minified; packages external),
                       or their TypeScript sources through tsx (which wraps every named function
                       and class it creates in a naming helper the bundles do not have)
  --quick              tiny run for CI smoke: 1 round, concurrency 1,8, 16 requests
  --json-out FILE      write the figures there            (default: bench/results/bench-<time>.json)
  --cpu-prof DIR       write V8 CPU profiles of the relay and the gateway there (slows them: the
                       figures of such a run are for finding hot spots, not for comparison); the
                       bundles are then not minified, and kept (their directory is printed)
  --help               this text

Rounds: direct first in every group, then the relay and the gateway back to back, relay first
in odd rounds, gateway first in even ones.
Targets at c=16 (DESIGN.md section 8): gateway TTFT p50 within 1 ms of the relay (gateway - relay
within each round, rounds 1+2, 3+4, ... averaged, the median of those), CPU/request <= 2x (ratio
of the medians). An even --rounds gives the relay and the gateway each place equally.
Exit status: 0 when every request completed, 1 when any failed, 2 on a bad command line.
`;

const MAX_CONCURRENCY = 1024;
const MAX_REQUESTS = 1_000_000;
const MAX_ROUNDS = 100;

function positiveInt(flag: string, raw: string, max: number): number {
  if (!/^\d+$/.test(raw)) throw new BenchUsageError(`${flag} wants a positive integer, got "${raw}"`);
  const n = Number(raw);
  if (n < 1 || n > max) throw new BenchUsageError(`${flag} must be within 1..${max}, got ${n}`);
  return n;
}

function list<T extends string>(flag: string, raw: string, allowed: readonly T[]): T[] {
  const items = raw.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  if (items.length === 0) throw new BenchUsageError(`${flag} wants a comma-separated list of ${allowed.join(', ')}`);
  for (const item of items) {
    if (!(allowed as readonly string[]).includes(item)) {
      throw new BenchUsageError(`${flag}: unknown "${item}" (expected ${allowed.join(', ')})`);
    }
  }
  return [...new Set(items)] as T[];
}

function nonEmpty(flag: string, raw: string | undefined): string | undefined {
  if (raw === '') throw new BenchUsageError(`${flag} wants a path, got an empty string`);
  return raw;
}

/**
 * Parses `splitserve bench` arguments.
 *
 * @throws BenchUsageError on an unknown flag or a bad value.
 * @example
 * parseBenchArgs(['--concurrency', '1,16', '--routes', 'disagg']).concurrency; // [1, 16]
 */
export function parseBenchArgs(args: readonly string[]): BenchOptions {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        requests: { type: 'string' },
        rounds: { type: 'string' },
        concurrency: { type: 'string' },
        routes: { type: 'string' },
        targets: { type: 'string' },
        backend: { type: 'string' },
        'sim-speedup': { type: 'string' },
        quick: { type: 'boolean' },
        admission: { type: 'string' },
        build: { type: 'string' },
        'json-out': { type: 'string' },
        'cpu-prof': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (err) {
    throw new BenchUsageError((err as Error).message);
  }
  const str = (k: string): string | undefined => (typeof values[k] === 'string' ? (values[k] as string) : undefined);
  const quick = values['quick'] === true;
  const backendRaw = str('backend') ?? 'fake';
  if (!(BACKENDS as readonly string[]).includes(backendRaw)) {
    throw new BenchUsageError(`--backend must be one of ${BACKENDS.join(', ')}, got "${backendRaw}"`);
  }
  const admissionRaw = str('admission') ?? 'lease';
  if (!(ADMISSIONS as readonly string[]).includes(admissionRaw)) {
    throw new BenchUsageError(`--admission must be one of ${ADMISSIONS.join(', ')}, got "${admissionRaw}"`);
  }
  const buildRaw = str('build') ?? 'bundle';
  if (!(BUILDS as readonly string[]).includes(buildRaw)) {
    throw new BenchUsageError(`--build must be one of ${BUILDS.join(', ')}, got "${buildRaw}"`);
  }
  const speedupRaw = str('sim-speedup');
  const simSpeedup = speedupRaw === undefined ? 10 : Number(speedupRaw);
  if (!(simSpeedup > 0 && Number.isFinite(simSpeedup))) throw new BenchUsageError(`--sim-speedup wants a positive number, got "${speedupRaw}"`);
  const concurrencyRaw = str('concurrency');
  const concurrency = concurrencyRaw === undefined
    ? (quick ? [1, 8] : [1, 16, 64, 256])
    : [...new Set(concurrencyRaw.split(',').map((s) => positiveInt('--concurrency', s.trim(), MAX_CONCURRENCY)))];
  const requestsRaw = str('requests');
  const roundsRaw = str('rounds');
  const routesRaw = str('routes');
  const targetsRaw = str('targets');
  return {
    requests: requestsRaw !== undefined ? positiveInt('--requests', requestsRaw, MAX_REQUESTS) : quick ? 16 : undefined,
    rounds: roundsRaw !== undefined ? positiveInt('--rounds', roundsRaw, MAX_ROUNDS) : quick ? 1 : DEFAULT_ROUNDS,
    concurrency,
    routes: routesRaw !== undefined ? list('--routes', routesRaw, ROUTES) : [...ROUTES],
    targets: targetsRaw !== undefined ? list('--targets', targetsRaw, TARGETS) : undefined,
    backend: backendRaw as BackendKind,
    simSpeedup,
    quick,
    admission: admissionRaw as AdmissionMode,
    build: buildRaw as BuildKind,
    jsonOut: nonEmpty('--json-out', str('json-out')),
    cpuProf: nonEmpty('--cpu-prof', str('cpu-prof')),
    help: values['help'] === true,
  };
}

/**
 * Requests in a measured batch at concurrency `c`: the explicit `--requests`, else max(1000, 8c).
 * CPU time comes from /proc in 10 ms clock ticks: over 1000 requests a tick is 0.01 ms per request,
 * a few percent of the relay's figure (over 200 it was 0.05 ms, a quarter of it).
 */
export function requestsFor(options: Pick<BenchOptions, 'requests'>, c: number): number {
  return options.requests ?? Math.max(1000, 8 * c);
}
