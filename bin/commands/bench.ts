/**
 * `splitserve bench`: the side-by-side benchmark of every path to the backends (direct, the bare
 * pipe, vLLM's toy proxy, the gateway's Lambda bundle, `--runtime node`, the emulated stack), each
 * gateway with every admission mode. Options and targets: `splitserve bench --help`.
 */
import { join } from 'node:path';
import { BENCH_USAGE, parseBenchArgs } from '../../bench/cli-options.ts';
import { goodputCommand } from '../../bench/goodput/cli.ts';
import { overloadCommand } from '../../bench/overload/cli.ts';
import { soakMain } from '../../bench/soak/cli.ts';
import { REPO_ROOT } from '../../bench/processes.ts';
import { formatReport, writeReportJson } from '../../bench/report.ts';
import { runBench } from '../../bench/run.ts';
import type { BenchIo } from '../../bench/run.ts';
import { runParsed } from './command-line.ts';

function stderrProgress(): BenchIo & { finish(): void } {
  const tty = process.stderr.isTTY === true;
  let open = false;
  return {
    progress(line, transient) {
      if (tty && transient) {
        process.stderr.write(`\r\x1b[2K${line}`);
        open = true;
        return;
      }
      if (open) process.stderr.write('\r\x1b[2K');
      open = false;
      if (!tty && transient && !/ 0\/\d+…$/.test(line)) return; // plain logs: one line per batch
      process.stderr.write(`${line}\n`);
    },
    finish() {
      if (open) process.stderr.write('\r\x1b[2K');
    },
  };
}

/**
 * Runs the benchmark, prints the tables and the PASS/MISS target lines on stdout and writes the
 * JSON figures. Returns 0 when every request completed, 1 when any failed or the run broke, 2 on a
 * bad command line; a MISS does not change the exit status. `bench goodput|overload|soak …` run
 * the goodput simulation, the overload benchmark and the soak (bench/goodput, overload, soak).
 */
export function benchCommand(args: string[]): Promise<number> {
  if (args[0] === 'goodput') return goodputCommand(args.slice(1));
  if (args[0] === 'overload') return overloadCommand(args.slice(1));
  if (args[0] === 'soak') return soakMain(args.slice(1));
  return runParsed('bench', args, parseBenchArgs, BENCH_USAGE, runBenchmark);
}

async function runBenchmark(options: ReturnType<typeof parseBenchArgs>): Promise<number> {
  const io = stderrProgress();
  try {
    const report = await runBench(options, io);
    io.finish();
    const file = options.jsonOut ?? join(REPO_ROOT, 'bench', 'results', `bench-${report.startedAt.replace(/[:.]/g, '-')}.json`);
    writeReportJson(report, file);
    process.stdout.write(formatReport(report));
    process.stdout.write(`figures written to ${file}\n`);
    return report.failedRequests === 0 ? 0 : 1;
  } catch (err) {
    io.finish();
    process.stderr.write(`splitserve bench: ${(err as Error).message}\n`);
    return 1;
  }
}
