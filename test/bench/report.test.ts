import { describe, expect, it } from 'vitest';
import { cellsOf, comparisonsOf, formatReport, pairedDeltaTtftP50, verdict } from '../../bench/report.ts';
import type { BatchFigures, BenchReport, Comparison } from '../../bench/report.ts';
import { parseBenchArgs } from '../../bench/cli-options.ts';
import type { Route, TargetName } from '../../bench/cli-options.ts';

const NO_ERRORS = { status: 0, errorEvent: 0, missingDone: 0, noContent: 0, network: 0 };

function batch(target: TargetName, round: number, ttftP50Ms: number, route: Route = 'agg', concurrency = 16): BatchFigures {
  return {
    round, route, concurrency, target, requests: 100, completed: 100, errors: NO_ERRORS, errorSamples: [],
    ttftP50Ms, ttftP99Ms: ttftP50Ms * 2, totalP50Ms: ttftP50Ms, totalP99Ms: ttftP50Ms * 2, throughputRps: 1000,
    cpuMs: target === 'direct' ? null : 10, cpuMsPerRequest: target === 'direct' ? null : 0.1,
    storeCpuMs: target === 'gateway' ? 0 : null, wallMs: 100,
  };
}

/**
 * Six rounds whose machine speed drifts. Per round the gateway is 0.0, +1.0, +0.2, +1.2, +5.0 and
 * +5.0 ms behind the relay: the pairs of rounds average +0.5, +0.7 and +5.0 (median +0.7), the
 * rounds' own median is +1.1, and the medians over rounds are 2.6 and 5.2 (+2.6).
 */
const RELAY = [2.0, 4.0, 2.2, 4.2, 2.1, 3.0];
const GATEWAY = [2.0, 5.0, 2.4, 5.4, 7.1, 8.0];
const drifting = [...RELAY.map((t, i) => batch('relay', i + 1, t)), ...GATEWAY.map((t, i) => batch('gateway', i + 1, t))];

describe('pairedDeltaTtftP50', () => {
  it('is the median over pairs of rounds (1+2, 3+4, …) of the mean of their differences', () => {
    expect(pairedDeltaTtftP50(drifting, 'agg', 16)).toBeCloseTo(0.7, 10);
  });

  it('cancels the advantage of the later place in the pair', () => {
    // The gateway is 0.3 ms behind; the batch that runs second gains 0.5 ms (the relay goes first in odd rounds).
    const rounds = [1, 2, 3, 4];
    const placed = [
      ...rounds.map((r) => batch('relay', r, 3 + (r % 2 === 1 ? 0 : -0.5))),
      ...rounds.map((r) => batch('gateway', r, 3.3 + (r % 2 === 1 ? -0.5 : 0))),
    ];
    expect(pairedDeltaTtftP50(placed, 'agg', 16)).toBeCloseTo(0.3, 10);
  });

  it('counts a round without its partner alone, and matches rounds on the same route and concurrency only', () => {
    const batches = [
      ...drifting,
      batch('relay', 7, 3.0), batch('gateway', 7, 3.1), // round 7 has no round 8: +0.1 alone
      batch('gateway', 9, 9), // no relay batch in round 9
      batch('relay', 1, 50, 'disagg'), batch('relay', 2, 50, 'disagg'), // another route
      batch('gateway', 1, -5, 'agg', 64), batch('gateway', 2, -5, 'agg', 64), batch('relay', 3, 50, 'agg', 64), // another concurrency
    ];
    // Pairs: +0.5, +0.7, +5.0 and +0.1 → median +0.6.
    expect(pairedDeltaTtftP50(batches, 'agg', 16)).toBeCloseTo(0.6, 10);
    expect(pairedDeltaTtftP50(batches, 'disagg', 16)).toBeNaN();
  });
});

describe('comparisonsOf', () => {
  it('reports both the paired difference and the difference of the medians', () => {
    const [cmp] = comparisonsOf(cellsOf(drifting), drifting);
    expect(cmp).toMatchObject({ route: 'agg', concurrency: 16 });
    expect(cmp?.deltaTtftP50Ms).toBeCloseTo(2.6, 10); // 5.2 − 2.6
    expect(cmp?.deltaTtftP50PairedMs).toBeCloseTo(0.7, 10);
  });
});

describe('verdict', () => {
  const base: Comparison = {
    route: 'agg', concurrency: 16, deltaTtftP50Ms: 0, deltaTtftP50PairedMs: 0,
    cpuRatio: 1.2, cpuRatioPooled: 1.2, throughputRatio: 0.9, cpuRatioWithStorePooled: 1.2,
  };

  it('checks TTFT on the paired difference and CPU on the ratio of medians, bounds included', () => {
    expect(verdict({ ...base, deltaTtftP50Ms: 1.5, deltaTtftP50PairedMs: 1 })).toEqual({ ttft: true, cpu: true });
    expect(verdict({ ...base, deltaTtftP50Ms: 0.2, deltaTtftP50PairedMs: 1.01 })).toEqual({ ttft: false, cpu: true });
    expect(verdict({ ...base, cpuRatio: 2 })).toEqual({ ttft: true, cpu: true });
    expect(verdict({ ...base, cpuRatio: 2.01 })).toEqual({ ttft: true, cpu: false });
  });

  it('prints both differences, and the verdict line follows the per-round one', () => {
    const cells = cellsOf(drifting);
    const report: BenchReport = {
      startedAt: 'a', finishedAt: 'b', options: parseBenchArgs(['--concurrency', '16', '--routes', 'agg', '--rounds', '6']),
      environment: { node: 'v22', platform: 'linux-x64', cpus: 2, clockTicks: 100, backend: 'fake' },
      targets: ['relay', 'gateway'], notes: [], warmup: [], batches: drifting, cells,
      comparisons: comparisonsOf(cells, drifting), failedRequests: 0,
    };
    const text = formatReport(report);
    expect(text).toContain('gateway vs relay: ΔTTFT p50 +0.70 ms per round (difference of the medians +2.60 ms), CPU ratio 1.00x');
    expect(text).toContain('PASS at c=16: ΔTTFT p50 ≤ 1 ms PASS, CPU ratio ≤ 2 PASS');
  });
});
