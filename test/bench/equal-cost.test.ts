import { describe, expect, it } from 'vitest';
import { compareAtEqualCost, sloCapacity } from '../../bench/goodput/equal-cost.ts';
import { checkPlanner, formatPlannerChecks } from '../../bench/goodput/planner-check.ts';
import { PROFILES } from '../../sim/profiles.ts';

describe('goodput at equal hardware and equal cost', () => {
  it('compares N GPUs aggregated, the same N GPUs as P/D pools, and Trainium + Cerebras within the same budget', () => {
    const [chat] = compareAtEqualCost({ seed: 4, durationS: 10, units: 5, mixes: ['chat'] });
    const [agg, gpuPd, trnCs3] = chat!.rows;
    expect(chat!.budgetPerHourUsd).toBeCloseTo(5 * PROFILES['gpu-aggregated'].costPerHourUsd, 9);
    expect(agg!.costPerHourUsd).toBeCloseTo(chat!.budgetPerHourUsd, 9);
    expect(gpuPd!.costPerHourUsd).toBeCloseTo(chat!.budgetPerHourUsd, 9);
    expect(gpuPd!.plan.kind).toBe('disaggregated');
    expect(trnCs3!.costPerHourUsd).toBeLessThanOrEqual(chat!.budgetPerHourUsd + 1e-9);
    // Under the model's prefill-decode stall, separating the phases raises what the same GPUs sustain (DistServe's effect).
    expect(gpuPd!.sloCapacity).toBeGreaterThan(agg!.sloCapacity);
    for (const r of chat!.rows) expect(r.requestsPerDollar).toBeCloseTo((r.sloCapacity * 3600) / r.costPerHourUsd, 9);
  });

  it('SLO capacity: the deployment keeps >= 90 % at the rate found and grows with the pool', () => {
    const small = sloCapacity({ kind: 'aggregated', aggregated: { profile: 'gpu-aggregated', count: 1 } }, 'chat', 10, 1);
    const large = sloCapacity({ kind: 'aggregated', aggregated: { profile: 'gpu-aggregated', count: 3 } }, 'chat', 10, 1);
    expect(small).toBeGreaterThan(0);
    expect(large).toBeGreaterThan(small * 2);
  });

  it('the planner is within 5 % of the best deployment a sweep finds at no more cost', () => {
    const [check] = checkPlanner({ seed: 2, durationS: 10, units: 4, mixes: ['chat'] });
    expect(check!.recommendation.plan).toBeDefined();
    expect(check!.swept).toBeGreaterThan(0);
    expect(check!.best!.cost).toBeLessThanOrEqual(check!.recommendation.costPerHourUsd + 1e-9);
    expect(check!.pass).toBe(true);
    expect(formatPlannerChecks([check!]).join('\n')).toMatch(/planner at \d+\.\d %: PASS/);
  });
});
