/**
 * `npm run bench:overload`: splitserve and a FIFO baseline side by side in front of one saturated
 * engine, at offered loads of 0.5x to 3x its capacity (bench/overload/run.ts). Prints per tier
 * TTFT p50/p90/p99, SLO attainment and shed rate for both, the verdicts of the targets at the
 * highest load, and writes the figures to bench/results/overload-<time>.json. Exits 1 when a target
 * is missed, 2 on a bad command line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { CommandLineError, runParsed } from '../../bin/commands/command-line.ts';
import { REPO_ROOT } from '../processes.ts';
import { formatFigures } from './report.ts';
import type { OverloadOptions } from './run.ts';
import { runOverloadBench } from './run.ts';

const USAGE = `usage: npm run bench -- overload [options]   (also: npm run bench:overload -- [options])

One simulated engine (gpu-aggregated profile, batch slots, vLLM's priority scheduling), splitserve
in front of it with the priority and default tiers on that one pool, and a FIFO pass-through relay
beside it; open-loop Poisson arrivals at each load, each system in turn, from an idle engine.

options:
  --loads <list>          offered loads, multiples of the measured capacity (default: 0.5,1,2,3)
  --seconds <n>           seconds of arrivals per load and system (default: 20)
  --priority-share <f>    share of arrivals asking for priority (default: 0.1)
  --slots <n>             the engine's batch slots (default: 8)
  --max-tokens <n>        output tokens per request (default: 32)
  --seed <n>              seed of arrivals and tiers (default: 1)
  --json-out <file>       where to write the figures (default: bench/results/overload-<time>.json)
  -h, --help              show this help
`;

function fail(message: string): never {
  throw new CommandLineError(message);
}

function positive(name: string, raw: string, integer = false): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) fail(`invalid --${name} "${raw}"`);
  return n;
}

/**
 * Parses the command line.
 *
 * @throws CommandLineError on a bad one
 * @example
 * parseOverloadArgs(['--loads', '1,3']).loads; // [1, 3]
 */
export function parseOverloadArgs(args: string[]): OverloadOptions & { readonly jsonOut: string | undefined; readonly help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args,
      strict: true,
      options: {
        loads: { type: 'string', default: '0.5,1,2,3' },
        seconds: { type: 'string', default: '20' },
        'priority-share': { type: 'string', default: '0.1' },
        slots: { type: 'string', default: '8' },
        'max-tokens': { type: 'string', default: '32' },
        seed: { type: 'string', default: '1' },
        'json-out': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  const share = Number(values['priority-share']);
  if (!(share > 0 && share < 1)) fail(`invalid --priority-share "${values['priority-share']}" (between 0 and 1)`);
  if (values['json-out'] === '') fail('--json-out needs a path');
  return {
    loads: values.loads.split(',').map((l) => positive('loads', l.trim())),
    seconds: positive('seconds', values.seconds),
    priorityShare: share,
    slots: positive('slots', values.slots, true),
    maxTokens: positive('max-tokens', values['max-tokens'], true),
    seed: positive('seed', values.seed, true),
    jsonOut: values['json-out'],
    help: values.help,
  };
}

/**
 * `splitserve bench overload` (`npm run bench:overload`): runs the benchmark; resolves 0 when every
 * target is met, 1 when one is missed, 2 on a bad command line (one line and where the help is).
 */
export function overloadCommand(args: string[]): Promise<number> {
  return runParsed('bench overload', args, parseOverloadArgs, USAGE, runOverload);
}

async function runOverload(options: ReturnType<typeof parseOverloadArgs>): Promise<number> {
  const report = await runOverloadBench(options, (line) => process.stderr.write(`${line}\n`));
  process.stdout.write(`\nengine capacity: ${report.capacity.toFixed(1)} requests/s (${options.slots} slots, ${options.maxTokens} output tokens, ~100 prompt tokens); ${options.seconds} s of arrivals per row, ${options.priorityShare * 100}% priority\n\n`);
  process.stdout.write(formatFigures(report.rows, report.slos));
  process.stdout.write(`\ntargets at ${Math.max(...options.loads)}x (splitserve):\n`);
  for (const v of report.verdicts) process.stdout.write(`  ${v.pass ? 'PASS' : 'MISS'}  ${v.name}: ${v.detail}\n`);
  const late = report.rows.reduce((n, r) => n + r.late, 0);
  if (late > 0) process.stdout.write(`\nnote: ${late} arrivals left the generator over 50 ms late (the machine was busy): the offered load was lower than named\n`);
  const file = options.jsonOut ?? join(REPO_ROOT, 'bench', 'results', `overload-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  mkdirSync(join(file, '..'), { recursive: true });
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  process.stdout.write(`\nfigures: ${file}\n`);
  return report.verdicts.every((v) => v.pass) ? 0 : 1;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = await overloadCommand(process.argv.slice(2));
}
