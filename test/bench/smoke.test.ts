import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parseBenchArgs } from '../../bench/cli-options.ts';
import type { TargetName } from '../../bench/cli-options.ts';
import { writeReportJson } from '../../bench/report.ts';
import type { BenchReport } from '../../bench/report.ts';
import { gatewayAvailable, runBench } from '../../bench/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench --quick against the fake backend', () => {
  it('completes every request through every target and reports the figures of each', async () => {
    const targets: TargetName[] = gatewayAvailable() ? ['direct', 'relay', 'gateway'] : ['direct', 'relay'];
    const options = parseBenchArgs(['--quick', '--requests', '32', '--targets', targets.join(',')]);
    const progress: string[] = [];
    const report = await runBench(options, { progress: (line) => progress.push(line) });
    const file = join(dir, 'bench.json');
    writeReportJson(report, file);
    const json = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;

    const samples = json.batches.flatMap((b) => b.errorSamples);
    expect(samples).toEqual([]);
    expect(json.failedRequests).toBe(0);
    expect(json.targets).toEqual(targets);
    expect(progress.some((l) => /^\[round 1\/1\] c=8 disagg relay \d+\/32…$/.test(l))).toBe(true);

    for (const route of ['agg', 'disagg'] as const) {
      for (const c of [1, 8]) {
        for (const target of targets) {
          const cell = json.cells.find((x) => x.route === route && x.concurrency === c && x.target === target);
          expect(cell, `${route} c=${c} ${target}`).toBeDefined();
          expect(cell).toMatchObject({ completed: 32, failed: 0, rounds: 1 });
          expect(cell?.ttftP50Ms).toBeGreaterThan(0);
          expect(cell?.ttftP99Ms).toBeGreaterThanOrEqual(cell?.ttftP50Ms ?? Infinity);
          expect(cell?.throughputRps).toBeGreaterThan(0);
          if (target === 'direct') expect(cell?.cpuMsPerRequest).toBeNull();
          else expect(typeof cell?.cpuMsPerRequest).toBe('number');
          // Only the gateway has a store (its own process), measured apart from it.
          if (target === 'gateway') expect(typeof cell?.storeCpuMsPerRequestPooled).toBe('number');
          else expect(cell?.storeCpuMsPerRequestPooled).toBeNull();
        }
      }
    }
    // One batch spans few 10 ms clock ticks; over the whole run the relay's CPU must show.
    const relayCpu = [...json.warmup, ...json.batches].filter((b) => b.target === 'relay').reduce((n, b) => n + (b.cpuMs ?? 0), 0);
    expect(relayCpu).toBeGreaterThan(0);
    if (targets.includes('gateway')) expect(json.comparisons).toHaveLength(4);
  });
});
