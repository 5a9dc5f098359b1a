/**
 * `npm run bench:goodput`: goodput of aggregated GPU pools, always-disaggregated Trainium-prefill
 * + Cerebras-decode pools and conditional disaggregation, on three workload mixes, simulated in
 * virtual time with the simulator's pure timing model (sim/model.ts) and its cited profiles
 * (sim/profiles.ts). Prints the table, writes JSON and an SVG chart under bench/results/. Then
 * the prefix-cache affinity comparison on a multi-turn chat mix (affinity.ts).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CommandLineError, runParsed } from '../../bin/commands/command-line.ts';
import { formatAffinity, runAffinityExperiment } from './affinity.ts';
import { DEFAULT_PROFILES } from './cluster.ts';
import type { ExperimentResult, LoadName } from './experiment.ts';
import { LOAD_POINTS, QUEUE_FACTOR_CANDIDATES, THRESHOLD_CANDIDATES, TIER_SLOS, runExperiment } from './experiment.ts';
import { compareAtEqualCost, formatEqualCost } from './equal-cost.ts';
import { checkPlanner, formatPlannerChecks } from './planner-check.ts';
import { formatShifts, formatTable, renderSvg, verdicts } from './report.ts';
import { renderSplitSvg, sweepSplits } from '../../planner/splits.ts';
import { parseTraffic } from '../../planner/traffic.ts';
import type { MixName } from './workloads.ts';
import { MIXES, MIX_NAMES } from './workloads.ts';

/** Usage text printed by `--help`. */
export const GOODPUT_USAGE = `usage: npm run bench -- goodput [options]   (also: npm run bench:goodput -- [options])

Simulates, in virtual time (no servers, no timers), three strategies on the same number of replicas:
  aggregated     every replica a GPU doing prefill and decode (profile gpu-aggregated)
  disaggregated  P Trainium prefill + (N - P) Cerebras decode replicas, every request prefilled remotely
  conditional    the same split, with the gateway's own conditional-disaggregation decision
                 (localPrefillBelowTokens, maxPrefillQueue) sending some requests to decode alone
The split (and conditional's thresholds) are picked per mix on a tuning seed, then measured on --seed.
Then, per mix: equal hardware (N GPUs aggregated vs GPU-only prefill/decode pools) and equal cost
(the same dollars per hour on Trainium prefill + Cerebras decode, at the profiles' prices), as the
highest rate meeting the default tier's SLO for 90 % of requests; and splitserve plan's pick
against a sweep of every deployment costing no more. A second SVG charts goodput by P:D split.
Then prefix-cache affinity: a multi-turn chat mix on replicas with a prefix cache, routed by
least-outstanding or by affinity (aggregated, and the prefill side of P/D): cache hit, TTFT, goodput.

options:
  --seed N          evaluation seed; the tuning seed is N + 1000   (default: 1)
  --duration S      virtual seconds of Poisson arrivals per run    (default: 60)
  --units N         replicas per deployment                        (default: 8)
  --mixes LIST      ${MIX_NAMES.join(',')}                          (default: all)
  --loads LIST      ${Object.keys(LOAD_POINTS).join(',')}                                 (default: both)
  --json-out FILE   JSON figures there, the SVG beside it          (default: bench/results/goodput-<time>.json)
  --help            this text
`;

/** Thrown for a bad command line; the message is meant for the user. */
export class GoodputUsageError extends CommandLineError {
  override readonly name = 'GoodputUsageError';
}

/** Parsed options of the goodput command. */
export interface GoodputOptions {
  readonly seed: number;
  readonly durationS: number;
  readonly units: number;
  readonly mixes: readonly MixName[];
  readonly loads: readonly LoadName[];
  readonly jsonOut: string | undefined;
  readonly help: boolean;
}

function listOf<T extends string>(value: string | undefined, allowed: readonly T[], flag: string): readonly T[] {
  if (value === undefined) return allowed;
  const items = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const item of items) if (!(allowed as readonly string[]).includes(item)) throw new GoodputUsageError(`${flag}: unknown "${item}" (one of ${allowed.join(', ')})`);
  if (items.length === 0) throw new GoodputUsageError(`${flag}: empty list`);
  return [...new Set(items)] as T[];
}

function numberOf(value: string | undefined, fallback: number, flag: string, check: (n: number) => boolean): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isFinite(n) || !check(n)) throw new GoodputUsageError(`${flag}: bad value "${value}"`);
  return n;
}

/** Parses the command line. @throws GoodputUsageError */
export function parseGoodputArgs(args: readonly string[]): GoodputOptions {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      options: {
        seed: { type: 'string' },
        duration: { type: 'string' },
        units: { type: 'string' },
        mixes: { type: 'string' },
        loads: { type: 'string' },
        'json-out': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
      strict: true,
      allowPositionals: false,
    }));
  } catch (err) {
    throw new GoodputUsageError((err as Error).message);
  }
  return {
    seed: numberOf(values.seed, 1, '--seed', Number.isInteger),
    durationS: numberOf(values.duration, 60, '--duration', (n) => n > 0 && n <= 3600),
    units: numberOf(values.units, 8, '--units', (n) => Number.isInteger(n) && n >= 2 && n <= 64),
    mixes: listOf(values.mixes, MIX_NAMES, '--mixes'),
    loads: listOf(values.loads, Object.keys(LOAD_POINTS) as LoadName[], '--loads'),
    jsonOut: values['json-out'],
    help: values.help === true,
  };
}

/** Where the results go by default. */
const RESULTS_DIR = fileURLToPath(new URL('../results/', import.meta.url));

/** The JSON document written next to the chart. */
export function resultDocument(result: ExperimentResult, startedAt: string): Record<string, unknown> {
  return {
    kind: 'splitserve-goodput',
    startedAt,
    slos: TIER_SLOS,
    loadPoints: LOAD_POINTS,
    sweep: { localPrefillBelowTokens: THRESHOLD_CANDIDATES, maxPrefillQueueTimesPrefillSlots: QUEUE_FACTOR_CANDIDATES.map((f) => f ?? null) },
    profiles: DEFAULT_PROFILES,
    mixes: MIXES,
    ...result,
  };
}

/**
 * `splitserve bench goodput`: runs the benchmark with command-line `args`; returns the exit code
 * (0 ok, 2 bad usage: one line and where the help is).
 *
 * @example
 * process.exitCode = await goodputCommand(['--duration', '20']);
 */
export function goodputCommand(args: string[]): Promise<number> {
  return runParsed('bench goodput', args, parseGoodputArgs, GOODPUT_USAGE, runGoodput);
}

async function runGoodput(options: GoodputOptions): Promise<number> {
  const startedAt = new Date().toISOString();
  const started = performance.now();
  const result = runExperiment(options);
  const affinity = runAffinityExperiment(options);
  const costs = compareAtEqualCost(options);
  const planner = checkPlanner(options);
  const splitSweeps = options.mixes.flatMap((mix) => {
    const traffic = parseTraffic({ ratePerSecond: result.cells.find((c) => c.mix === mix)?.ratePerSecond ?? 10, mix });
    return [sweepSplits(traffic, 'trainium-prefill', 'cerebras-decode', options.units, options.durationS, options.seed), sweepSplits(traffic, 'gpu-aggregated', 'gpu-aggregated', options.units, options.durationS, options.seed)];
  });
  const jsonPath = resolve(options.jsonOut ?? `${RESULTS_DIR}goodput-${startedAt.replace(/[:.]/g, '-')}.json`);
  const svgPath = jsonPath.replace(/\.json$/, '') + '.svg';
  await mkdir(dirname(jsonPath), { recursive: true });
  const splitsPath = jsonPath.replace(/\.json$/, '') + '-splits.svg';
  const document = { ...resultDocument(result, startedAt), equalCost: costs, planner: planner.map(({ recommendation, ...rest }) => ({ ...rest, recommended: recommendation.plan ?? null, costPerHourUsd: recommendation.costPerHourUsd, validation: recommendation.validation ?? null, headroom: recommendation.headroom })), splitSweeps, affinity };
  await writeFile(jsonPath, `${JSON.stringify(document, null, 2)}\n`);
  await writeFile(svgPath, renderSvg(result));
  await writeFile(splitsPath, renderSplitSvg(splitSweeps, `goodput by prefill:decode split, ${options.units} replicas, first load point's rate, seed ${options.seed}`));
  process.stdout.write(`${formatTable(result)}\n\nconditional disaggregation vs the others (goodput, req/s):\n${verdicts(result).join('\n')}\n`);
  const shifts = formatShifts(result);
  if (shifts.length > 0) process.stdout.write(`\n${shifts.join('\n')}\n`);
  process.stdout.write(`\n${formatEqualCost(costs).join('\n')}\n\n${formatPlannerChecks(planner).join('\n')}\n\n${formatAffinity(affinity).join('\n')}\n`);
  process.stdout.write(`\n${result.cells.length} cells in ${((performance.now() - started) / 1000).toFixed(1)} s (wall)\nJSON: ${jsonPath}\nSVG:  ${svgPath}\nSVG:  ${splitsPath}\n`);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await goodputCommand(process.argv.slice(2));
}
