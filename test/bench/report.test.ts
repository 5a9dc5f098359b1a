import { describe, expect, it } from 'vitest';
import { cellsOf, comparisonsOf, formatReport, pairedDeltaTtftP50, targetChecks, verdict } from '../../bench/report.ts';
import type { BatchFigures, BenchReport, CellFigures } from '../../bench/report.ts';
import { parseBenchArgs } from '../../bench/cli-options.ts';
import type { AdmissionMode, Route, TargetName } from '../../bench/cli-options.ts';

const NO_ERRORS = { status: 0, errorEvent: 0, missingDone: 0, noContent: 0, network: 0 };
const GATEWAYS: readonly TargetName[] = ['lambda', 'node', 'stack'];

interface BatchOptions {
  readonly route?: Route;
  readonly concurrency?: number;
  readonly admission?: AdmissionMode | null;
  readonly cpuMsPerRequest?: number;
  readonly throughputRps?: number;
  readonly ttftP99Ms?: number;
}

function batch(target: TargetName, round: number, ttftP50Ms: number, o: BatchOptions = {}): BatchFigures {
  const gateway = GATEWAYS.includes(target);
  const cpu = target === 'direct' ? null : o.cpuMsPerRequest ?? 0.1;
  return {
    round, route: o.route ?? 'agg', concurrency: o.concurrency ?? 16, target, admission: gateway ? o.admission ?? 'exact' : null,
    requests: 100, completed: 100, errors: NO_ERRORS, errorSamples: [],
    ttftP50Ms, ttftP99Ms: o.ttftP99Ms ?? ttftP50Ms * 2, totalP50Ms: ttftP50Ms, totalP99Ms: ttftP50Ms * 2, throughputRps: o.throughputRps ?? 1000,
    cpuMs: cpu === null ? null : cpu * 100, cpuMsPerRequest: cpu,
    storeCpuMs: gateway ? 5 : null, wallMs: 100,
  };
}

/**
 * Six rounds whose machine speed drifts. Per round the Lambda path is 0.0, +1.0, +0.2, +1.2, +5.0
 * and +5.0 ms behind the pipe: the pairs of rounds average +0.5, +0.7 and +5.0 (median +0.7), the
 * rounds' own median is +1.1, and the medians over rounds are 2.6 and 5.2 (+2.6).
 */
const PIPE = [2.0, 4.0, 2.2, 4.2, 2.1, 3.0];
const LAMBDA = [2.0, 5.0, 2.4, 5.4, 7.1, 8.0];
const drifting = [...PIPE.map((t, i) => batch('pipe', i + 1, t)), ...LAMBDA.map((t, i) => batch('lambda', i + 1, t, { cpuMsPerRequest: 0.2 }))];
const LAMBDA_EXACT = { target: 'lambda', admission: 'exact' } as const;

describe('pairedDeltaTtftP50', () => {
  it('is the median over pairs of rounds (1+2, 3+4, …) of the mean of their differences from the pipe', () => {
    expect(pairedDeltaTtftP50(drifting, 'agg', 16, LAMBDA_EXACT)).toBeCloseTo(0.7, 10);
  });

  it('cancels the advantage of the later place in the pair', () => {
    // The path is 0.3 ms behind; the batch that runs second gains 0.5 ms (the pipe goes first in odd rounds).
    const rounds = [1, 2, 3, 4];
    const placed = [
      ...rounds.map((r) => batch('pipe', r, 3 + (r % 2 === 1 ? 0 : -0.5))),
      ...rounds.map((r) => batch('lambda', r, 3.3 + (r % 2 === 1 ? -0.5 : 0))),
    ];
    expect(pairedDeltaTtftP50(placed, 'agg', 16, LAMBDA_EXACT)).toBeCloseTo(0.3, 10);
  });

  it('counts a round without its partner alone, and matches rounds on the same route, concurrency and admission mode only', () => {
    const batches = [
      ...drifting,
      batch('pipe', 7, 3.0), batch('lambda', 7, 3.1), // round 7 has no round 8: +0.1 alone
      batch('lambda', 9, 9), // no pipe batch in round 9
      batch('lambda', 1, 90, { admission: 'none' }), batch('lambda', 2, 90, { admission: 'none' }), // another tenant
      batch('pipe', 1, 50, { route: 'disagg' }), batch('pipe', 2, 50, { route: 'disagg' }), // another route
      batch('lambda', 1, -5, { concurrency: 64 }), batch('lambda', 2, -5, { concurrency: 64 }), batch('pipe', 3, 50, { concurrency: 64 }), // another concurrency
    ];
    // Pairs: +0.5, +0.7, +5.0 and +0.1 → median +0.6.
    expect(pairedDeltaTtftP50(batches, 'agg', 16, LAMBDA_EXACT)).toBeCloseTo(0.6, 10);
    expect(pairedDeltaTtftP50(batches, 'agg', 16, { target: 'lambda', admission: 'none' })).toBeCloseTo(87, 10);
    expect(pairedDeltaTtftP50(batches, 'disagg', 16, LAMBDA_EXACT)).toBeNaN();
  });
});

describe('cellsOf and comparisonsOf', () => {
  it('keeps one cell per path (target and admission mode) and compares every path but direct with the pipe', () => {
    const batches = [
      ...drifting,
      ...PIPE.map((_, i) => batch('direct', i + 1, 1)),
      ...PIPE.map((_, i) => batch('node', i + 1, 3, { admission: 'lease', cpuMsPerRequest: 0.15, throughputRps: 500, ttftP99Ms: 12 })),
    ];
    const cells = cellsOf(batches);
    expect(cells.map((c) => `${c.target} ${c.admission}`)).toEqual(['pipe null', 'lambda exact', 'direct null', 'node lease']);
    expect(cells.find((c) => c.target === 'node')).toMatchObject({ storeCpuMsPerRequestPooled: 0.05, cpuMsPerRequestPooled: 0.15 });
    const comparisons = comparisonsOf(cells, batches);
    expect(comparisons.map((c) => `${c.target} ${c.admission}`)).toEqual(['lambda exact', 'node lease']);
    const [lambda, node] = comparisons;
    expect(lambda?.deltaTtftP50Ms).toBeCloseTo(2.6, 10); // 5.2 − 2.6
    expect(lambda?.deltaTtftP50PairedMs).toBeCloseTo(0.7, 10);
    expect(lambda?.cpuRatio).toBeCloseTo(2, 10);
    expect(node?.cpuRatioWithStorePooled).toBeCloseTo(2, 10); // (0.15 + 0.05) / 0.1
    expect(node?.throughputRatio).toBeCloseTo(0.5, 10);
    expect(node?.ttftP99Ratio).toBeCloseTo(12 / 5.2, 10); // the pipe's p99 median: 2 × 2.6
  });
});

describe('verdict', () => {
  it('checks TTFT on the paired difference and CPU on the pooled ratio, bounds included', () => {
    expect(verdict({ deltaTtftP50PairedMs: 1, cpuRatioPooled: 1.2 })).toEqual({ ttft: true, cpu: true });
    expect(verdict({ deltaTtftP50PairedMs: 1.01, cpuRatioPooled: 1.2 })).toEqual({ ttft: false, cpu: true });
    expect(verdict({ deltaTtftP50PairedMs: 0, cpuRatioPooled: 2 })).toEqual({ ttft: true, cpu: true });
    expect(verdict({ deltaTtftP50PairedMs: 0, cpuRatioPooled: 2.01 })).toEqual({ ttft: true, cpu: false });
    expect(verdict({ deltaTtftP50PairedMs: 0.6, cpuRatioPooled: 1.6 }, { ttftMs: 0.5, cpuRatio: 1.5 })).toEqual({ ttft: false, cpu: false });
  });
});

describe('targetChecks', () => {
  const disagg = (target: TargetName, throughputRps: number, ttftP99Ms: number, admission: AdmissionMode | null = null): CellFigures => ({
    route: 'disagg', concurrency: 16, target, admission, rounds: 2, requestsPerRound: 100, completed: 200, failed: 0,
    ttftP50Ms: 3, ttftP99Ms, totalP50Ms: 4, throughputRps, cpuMsPerRequest: 1, cpuMsPerRequestPooled: 1, storeCpuMsPerRequestPooled: null,
  });

  it('checks the stack against the toy proxy and the pipe on prefill → decode, and says why the toy has no figure', () => {
    const cells = [disagg('pipe', 1000, 10), disagg('vllm-toy', 200, 40), disagg('stack', 450, 19, 'exact')];
    const comparisons = comparisonsOf(cells, []);
    const checks = targetChecks(cells, comparisons, ['disagg'], undefined).filter((c) => c.target === 'stack');
    expect(checks).toMatchObject([
      { what: 'throughput ≥ 2x the vLLM toy proxy', pass: true, detail: '2.25x (450 vs 200 req/s)' },
      { what: 'TTFT p99 ≤ 2x the bare relay\'s', pass: true, detail: '1.90x' },
    ]);
    const withoutToy = targetChecks(cells.filter((c) => c.target !== 'vllm-toy'), comparisons, ['disagg'], 'no --vllm-toy PATH given');
    expect(withoutToy.find((c) => c.what.includes('toy'))).toMatchObject({ pass: null, detail: 'not measured: no --vllm-toy PATH given' });
    // The Lambda path did not run: its checks say so instead of passing.
    expect(withoutToy.filter((c) => c.target === 'lambda').every((c) => c.pass === null && c.detail.startsWith('not measured'))).toBe(true);
  });

  it('reports the Lambda floor as information, with the share of the CPU budget it leaves the gateway', () => {
    const cells = [
      { ...disagg('pipe', 1000, 10), cpuMsPerRequestPooled: 0.2 },
      { ...disagg('lambda-floor', 800, 12), cpuMsPerRequestPooled: 0.3 },
    ];
    const checks = targetChecks(cells, comparisonsOf(cells, []), ['disagg'], undefined);
    expect(checks.find((c) => c.target === 'lambda-floor')).toMatchObject({ info: true, detail: expect.stringMatching(/1\.50x: of the 2x CPU budget, 0\.50x is left for the gateway's own work$/) });
    // Without the floor measured, no line about it.
    expect(targetChecks(cells.slice(0, 1), comparisonsOf(cells.slice(0, 1), []), ['disagg'], undefined).some((c) => c.target === 'lambda-floor')).toBe(false);
  });
});

describe('formatReport', () => {
  it('prints every path with its ratios to the pipe, and the target lines with the CPU they are judged on', () => {
    const cells = cellsOf(drifting);
    const comparisons = comparisonsOf(cells, drifting);
    const report: BenchReport = {
      startedAt: 'a', finishedAt: 'b', options: parseBenchArgs(['--concurrency', '16', '--routes', 'agg', '--rounds', '6']),
      environment: { node: 'v22', platform: 'linux-x64', cpus: 2, clockTicks: 100, backend: 'fake' },
      targets: ['pipe', 'lambda'], notes: [], toyNotMeasured: 'no --vllm-toy PATH given', warmup: [], batches: drifting, cells,
      comparisons, checks: targetChecks(cells, comparisons, ['agg'], 'no --vllm-toy PATH given'), failedRequests: 0,
    };
    const text = formatReport(report);
    expect(text).toMatch(/^lambda exact +5\.20 +10\.40 +1000 +0\.200 +0\.050 +0\.250 +\+0\.70 +2\.00 +2\.50 +1\.00 +2\.00 +0$/m);
    expect(text).toMatch(/^pipe +2\.60 +5\.20 +1000 +0\.100 +– +– +0$/m);
    expect(text).toContain('PASS  aggregated, lambda: TTFT p50 ≤ pipe + 1 ms: +0.70 ms (paired per round)');
    expect(text).toContain('PASS  aggregated, lambda: CPU/req ≤ 2x pipe (gateway process): 2.00x (with its store 2.50x)');
    expect(text).toContain('info  aggregated, lambda: goal: TTFT p50 ≤ pipe + 0.5 ms, CPU/req ≤ 1.5x: MISS, +0.70 ms, 2.00x');
    expect(text).toContain('CPU targets are judged on the gateway process\'s CPU');
    expect(text).toContain('vLLM toy proxy not measured: no --vllm-toy PATH given');
  });
});
