import { describe, expect, it } from 'vitest';
import { fitTokens, runBursty, runInterval } from '../../planner/bursty.ts';
import { formatBursty } from '../../planner/report.ts';
import { drawTrace, parseTraffic } from '../../planner/traffic.ts';

describe('splitserve plan: bursty step trace', () => {
  it('misses at the step (planned for the old rate), replans from the observed traffic and converges', () => {
    const traffic = parseTraffic({ ratePerSecond: 1, mix: 'chat', tiers: [{ name: 'default', share: 1, ttftMs: 1000, tpotMs: 50 }] });
    const run = runBursty(traffic, { intervalS: 20, rates: [1, 1, 24, 24, 24] }, { seed: 2 });
    expect(run.stepAt).toBe(2);
    const [, before, step, after] = run.intervals;
    // The interval of the step runs on the plan made for 1 req/s: it cannot keep up.
    expect(before!.result.met).toBe(true);
    expect(step!.plannedForRate).toBeLessThan(3);
    expect(step!.result.met).toBe(false);
    // The next plan is made for the observed ~24 req/s and costs more.
    expect(after!.plannedForRate).toBeGreaterThan(18);
    expect(after!.costPerHourUsd).toBeGreaterThan(step!.costPerHourUsd);
    // It inherits the step's backlog and is sized above the observed rate to drain it, in one interval.
    expect(after!.carried).toBeGreaterThan(0);
    expect(after!.sizedForBacklog).toBeGreaterThan(1);
    expect(after!.result.met).toBe(true);
    expect(run.intervalsToConverge).toBe(1);
    // With the backlog drained the next plan is sized for the rate alone again, and costs less.
    expect(run.intervals[4]!.sizedForBacklog).toBe(1);
    expect(run.intervals[4]!.costPerHourUsd).toBeLessThan(after!.costPerHourUsd);
    expect(run.intervals.at(-1)!.result.met).toBe(true);
    const table = formatBursty(run);
    expect(table).toMatch(new RegExp(`#2 +24\\.0 req/s .* default \\d+\\.\\d% of ${step!.result.tiers[0]!.requests} +MISSED`));
    expect(table).not.toContain('NaN');
  });

  it('carries every request still waiting at an interval\'s end into the next, backlog included', () => {
    const traffic = parseTraffic({ ratePerSecond: 1, mix: 'chat', tiers: [{ name: 'default', share: 1, ttftMs: 1000, tpotMs: 50 }] });
    // 3,000 requests waiting for one aggregated GPU: far more than it prefills in 20 s.
    const waiting = drawTrace(traffic, 3_000, 5).requests.map((request) => ({ request, tier: 0 }));
    const trace = drawTrace(traffic, 20, 6);
    const plan = { kind: 'aggregated', aggregated: { profile: 'gpu-aggregated', count: 1 } } as const;
    const run = runInterval(plan, waiting, trace, traffic, 20);
    const carried = run.left.filter((w) => w.request.id < waiting.length);
    expect(carried.length).toBeGreaterThan(waiting.length / 2);
    expect(run.left.length).toBeGreaterThan(trace.requests.length);
    // Without a plan nothing is served: every request misses and all of them are carried.
    const none = runInterval(undefined, waiting, trace, traffic, 20);
    expect(none.result.missed).toBe(true);
    expect(none.left).toHaveLength(waiting.length + trace.requests.length);
  });

  it('fits a log-normal shape to observed lengths', () => {
    const fit = fitTokens([100, 100, 100, 100], { median: 1, sigma: 1, min: 1, max: 2 });
    expect(fit).toEqual({ median: 100, sigma: 0, min: 100, max: 100 });
    expect(fitTokens([5], { median: 9, sigma: 0.5, min: 1, max: 20 }).median).toBe(9);
  });
});
