import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GATEWAY_TARGETS, parseBenchArgs } from '../../bench/cli-options.ts';
import { formatReport, writeReportJson } from '../../bench/report.ts';
import type { BenchReport } from '../../bench/report.ts';
import { runBench } from '../../bench/run.ts';

const dir = mkdtempSync(join(tmpdir(), 'bench-smoke-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('bench --quick against the fake backend', () => {
  it('completes every request along every path and admission mode, reports the figures of each, and says why the toy proxy was not measured', async () => {
    const missingToy = join(dir, 'vllm', 'toy_proxy_server.py');
    const options = parseBenchArgs(['--quick', '--concurrency', '4', '--requests', '24', '--vllm-toy', missingToy]);
    const progress: string[] = [];
    const report = await runBench(options, { progress: (line) => progress.push(line) });
    const file = join(dir, 'bench.json');
    writeReportJson(report, file);
    const json = JSON.parse(readFileSync(file, 'utf8')) as BenchReport;

    const samples = json.batches.flatMap((b) => b.errorSamples);
    expect(samples).toEqual([]);
    expect(json.failedRequests).toBe(0);
    expect(json.targets).toEqual(['direct', 'pipe', 'lambda-floor', 'lambda', 'node', 'stack']);
    expect(json.toyNotMeasured).toBe(`--vllm-toy ${missingToy}: no such file`);
    expect(progress.some((l) => /^\[round 1\/1\] c=4 disagg lambda exact \d+\/24…$/.test(l))).toBe(true);

    const paths = [
      { target: 'direct', admission: null },
      { target: 'pipe', admission: null },
      { target: 'lambda-floor', admission: null },
      ...GATEWAY_TARGETS.flatMap((target) => (['none', 'exact', 'lease'] as const).map((admission) => ({ target, admission }))),
    ];
    for (const route of ['agg', 'disagg'] as const) {
      for (const { target, admission } of paths) {
        const cell = json.cells.find((x) => x.route === route && x.concurrency === 4 && x.target === target && x.admission === admission);
        const name = `${route} ${target} ${admission}`;
        expect(cell, name).toMatchObject({ completed: 24, failed: 0, rounds: 1 });
        expect(cell?.ttftP50Ms, name).toBeGreaterThan(0);
        expect(cell?.ttftP99Ms, name).toBeGreaterThanOrEqual(cell?.ttftP50Ms ?? Infinity);
        expect(cell?.throughputRps, name).toBeGreaterThan(0);
        if (target === 'direct') expect(cell?.cpuMsPerRequest).toBeNull();
        else expect(typeof cell?.cpuMsPerRequest, name).toBe('number');
        // Only the gateways have a store (each its own process), measured apart from them.
        if (admission !== null) expect(typeof cell?.storeCpuMsPerRequestPooled, name).toBe('number');
        else expect(cell?.storeCpuMsPerRequestPooled, name).toBeNull();
      }
    }
    // One batch spans few 10 ms clock ticks; over the whole run the pipe's CPU must show.
    const pipeCpu = [...json.warmup, ...json.batches].filter((b) => b.target === 'pipe').reduce((n, b) => n + (b.cpuMs ?? 0), 0);
    expect(pipeCpu).toBeGreaterThan(0);
    expect(json.comparisons).toHaveLength(2 * 10); // the Lambda floor and every gateway path on both routes, against the pipe
    // No c=16 in this run: every target check says it was not measured, and why.
    expect(json.checks.length).toBeGreaterThan(0);
    expect(json.checks.every((c) => c.pass === null && c.detail.startsWith('not measured'))).toBe(true);
    expect(formatReport(json)).toContain(`vLLM toy proxy not measured: --vllm-toy ${missingToy}: no such file`);
  }, 120_000);
});
