/**
 * `npm run soak`: N minutes of fixed-rate load through splitserve while the simulated engines
 * fail at random and an operator changes tenants and keys (bench/soak/run.ts); then the ledger
 * (bench/soak/ledger.ts), printed and written to bench/results/soak-<time>.json, with the gateway's
 * RSS and open descriptors over time in bench/results/soak-<time>.svg. Exits 1 when the ledger does
 * not balance, 2 on a bad command line.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { CommandLineError, runParsed } from '../../bin/commands/command-line.ts';
import { REPO_ROOT } from '../processes.ts';
import { soakChart } from './chart.ts';
import { formatLedger } from './ledger.ts';
import type { SoakOptions, SoakReport, SoakRuntime } from './run.ts';
import { runSoak, SOAK_RUNTIMES } from './run.ts';

const USAGE = `usage: npm run bench -- soak [options]   (also: npm run soak -- [options])

Starts a splitserve store, three simulated engines (vLLM NIXL prefill and decode, one GPU) and
the gateway over them (splitserve start --store), all on 127.0.0.1; sends a fixed-rate open-loop
load (60% streams, 40% priority, four tenants, 10% of streams aborted by their client) while the
engines' faults change at random (seeded) and an operator revokes a key, creates one, disables a
tenant, lowers a limit and restarts the gateway; then checks the changes held, reads the usage
records back and prints the ledger.

options:
  --minutes <n>        minutes of load (default: 5)
  --seconds <n>        seconds of load instead (short runs, tests)
  --rate <n>           arrivals per second (default: 20)
  --seed <n>           seed of the arrivals and the faults (default: 1)
  --runtime <r>        ${SOAK_RUNTIMES.join(' | ')}: splitserve start --runtime (default: stack)
  --no-restart         do not restart the gateway at 60% of the load
  --sample-ms <n>      sampling interval of the gateway's RSS and descriptors (default: 2000)
  --deadline-ms <n>    a request not ended by then counts as a hang (default: 30000)
  --json-out <file>    the report (default: bench/results/soak-<time>.json; the chart beside it, .svg)
  -h, --help           show this help

Exit status: 0 when the ledger balances, 1 when it does not, 2 on a bad command line.
`;

/** Bounds of the command line: a soak is long, not endless. */
const MAX_SECONDS = 24 * 3600;
const MAX_RATE = 1_000;

/** Thrown for a bad command line. */
export class SoakUsageError extends CommandLineError {
  override readonly name = 'SoakUsageError';
}

function positive(name: string, raw: string, max: number, integer = false): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0 || n > max || (integer && !Number.isInteger(n))) throw new SoakUsageError(`invalid --${name} "${raw}" (a positive ${integer ? 'integer' : 'number'} up to ${max})`);
  return n;
}

/**
 * Parses the command line.
 *
 * @throws SoakUsageError on a bad one
 * @example
 * parseSoakArgs(['--minutes', '10']).options.seconds; // 600
 */
export function parseSoakArgs(args: readonly string[]): { options: SoakOptions; jsonOut: string | undefined; help: boolean } {
  let values;
  try {
    ({ values } = parseArgs({
      args: [...args],
      strict: true,
      allowPositionals: false,
      options: {
        minutes: { type: 'string' },
        seconds: { type: 'string' },
        rate: { type: 'string', default: '20' },
        seed: { type: 'string', default: '1' },
        runtime: { type: 'string', default: 'stack' },
        'no-restart': { type: 'boolean', default: false },
        'sample-ms': { type: 'string', default: '2000' },
        'deadline-ms': { type: 'string', default: '30000' },
        'json-out': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }));
  } catch (err) {
    throw new SoakUsageError((err as Error).message);
  }
  if (values.minutes !== undefined && values.seconds !== undefined) throw new SoakUsageError('give --minutes or --seconds, not both');
  const seconds = values.seconds !== undefined ? positive('seconds', values.seconds, MAX_SECONDS) : positive('minutes', values.minutes ?? '5', MAX_SECONDS / 60) * 60;
  if (!(SOAK_RUNTIMES as readonly string[]).includes(values.runtime)) throw new SoakUsageError(`invalid --runtime "${values.runtime}" (${SOAK_RUNTIMES.join(' or ')})`);
  if (values['json-out'] === '') throw new SoakUsageError('--json-out needs a path');
  return {
    options: {
      seconds,
      rate: positive('rate', values.rate, MAX_RATE),
      seed: positive('seed', values.seed, 2 ** 31, true),
      runtime: values.runtime as SoakRuntime,
      restart: !values['no-restart'],
      sampleMs: positive('sample-ms', values['sample-ms'], 60_000, true),
      deadlineMs: positive('deadline-ms', values['deadline-ms'], 600_000, true),
    },
    jsonOut: values['json-out'],
    help: values.help,
  };
}

/**
 * Writes the report and its chart; resolves both paths.
 *
 * @example
 * const { json, svg } = writeSoakReport(report, undefined); // bench/results/soak-<time>.json / .svg
 */
export function writeSoakReport(report: SoakReport, jsonOut: string | undefined): { json: string; svg: string } {
  const json = jsonOut ?? join(REPO_ROOT, 'bench', 'results', `soak-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  const svg = json.replace(/\.json$/, '') + '.svg';
  mkdirSync(dirname(json), { recursive: true });
  writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
  const minutes = report.options.seconds / 60;
  const title = `splitserve soak: ${minutes >= 1 ? `${minutes.toFixed(minutes % 1 ? 1 : 0)} min` : `${report.options.seconds} s`} at ${report.options.rate} req/s, ${report.options.runtime} runtime, seed ${report.options.seed}`;
  writeFileSync(svg, soakChart(report.samples, title));
  return { json, svg };
}

/** Runs the command; resolves the exit code. */
export function soakMain(args: readonly string[]): Promise<number> {
  return runParsed('bench soak', args, parseSoakArgs, USAGE, runSoakCommand);
}

async function runSoakCommand(parsed: ReturnType<typeof parseSoakArgs>): Promise<number> {
  const report = await runSoak(parsed.options, (line) => process.stderr.write(`soak: ${line}\n`));
  process.stdout.write(`\n${formatLedger(report.ledger)}`);
  const first = report.samples[0];
  const last = report.samples.at(-1);
  if (first && last) {
    const max = (f: (s: (typeof report.samples)[number]) => number): number => Math.max(...report.samples.map(f));
    process.stdout.write(`gateway RSS ${first.rssMb} → ${last.rssMb} MB (max ${max((s) => s.rssMb)}), open descriptors ${first.openFds} → ${last.openFds} (max ${max((s) => s.openFds)}), ${report.samples.length} samples\n`);
  }
  if (report.notSent.restarting + report.notSent.inFlightCap > 0) process.stdout.write(`not sent: ${report.notSent.restarting} arrivals while the gateway restarted, ${report.notSent.inFlightCap} over the in-flight cap\n`);
  if (report.late > 0) process.stdout.write(`note: ${report.late} arrivals left over 50 ms late (the machine was busy)\n`);
  const files = writeSoakReport(report, parsed.jsonOut);
  process.stdout.write(`report: ${files.json}\nchart: ${files.svg}\n`);
  return report.ledger.balanced ? 0 : 1;
}

if (process.argv[1] && /bench[\\/]soak[\\/]cli\.ts$/.test(process.argv[1])) {
  process.exitCode = await soakMain(process.argv.slice(2));
}
