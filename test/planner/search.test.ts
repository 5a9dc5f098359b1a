import { describe, expect, it } from 'vitest';
import { planCost, priceTable } from '../../planner/deployments.ts';
import { MIN_TIER_REQUESTS, replay } from '../../planner/replay.ts';
import { enumerateCandidates, planDeployment, traceSeconds, DEFAULT_SHAPES, HEADROOM_FACTORS, MAX_TRACE_S } from '../../planner/search.ts';
import { drawTrace, parseTraffic } from '../../planner/traffic.ts';

const defaultOnly = [{ name: 'default', share: 1, ttftMs: 1000, tpotMs: 50 }];

describe('splitserve plan: search', () => {
  it('recommends a plan that meets the SLO on a seed it never saw, and no cheaper candidate met it in planning', () => {
    const traffic = parseTraffic({ ratePerSecond: 6, mix: 'chat', tiers: defaultOnly });
    const rec = planDeployment(traffic, { durationS: 20, seed: 3 });
    expect(rec.plan).toBeDefined();
    expect(rec.validation!.met).toBe(true);
    expect(rec.validation!.tiers[0]!.attainment).toBeGreaterThanOrEqual(0.9);
    expect(rec.costPerHourUsd).toBeCloseTo(planCost(rec.plan!, rec.prices), 9);
    // Every strictly cheaper candidate above the analytic bound (rate x 1.1 within full-batch
    // capacity) misses the SLO on the planning trace; below the bound a pool queues without end.
    const planning = drawTrace(traffic, rec.traces.planningS, 3, traffic.ratePerSecond * 1.1);
    const sample = drawTrace(traffic, Math.max(20, 2_000 / traffic.ratePerSecond), 3 + 2_000).requests;
    const all = enumerateCandidates(traffic, DEFAULT_SHAPES, rec.prices, 128, sample, 0.1).candidates;
    const cheaper = all.filter((c) => c.cost < rec.costPerHourUsd - 1e-9);
    for (const c of cheaper) expect(replay(c.plan, planning, traffic.tiers, traffic.attainment).met).toBe(false);
    expect(rec.replays).toBeGreaterThanOrEqual(1);
    expect(all.some((c) => c.cost === rec.costPerHourUsd)).toBe(true);
    // Headroom: the plan met every tier at 1 + headroom times the rate on the validation seed, and
    // missed at the first factor that failed.
    const at = (f: number) => replay(rec.plan!, drawTrace(traffic, rec.traces.validationS, 3 + 1_000, traffic.ratePerSecond * f), traffic.tiers, traffic.attainment, MIN_TIER_REQUESTS);
    expect([0, ...HEADROOM_FACTORS.map((f) => f - 1)]).toContain(rec.headroom);
    if (rec.headroom > 0) expect(at(1 + rec.headroom).met).toBe(true);
    expect(rec.failsAtFactor).toBeDefined();
    expect(rec.failsAtFactor).toBe(HEADROOM_FACTORS.find((f) => f > 1 + rec.headroom + 1e-9));
    expect(at(rec.failsAtFactor!).missed).toBe(true);
  });

  it('stretches the validation trace until the smallest tier has enough requests to be judged', () => {
    const tiers = [
      { name: 'rare', share: 0.05, ttftMs: 1000, tpotMs: 50 },
      { name: 'bulk', share: 0.95, ttftMs: 1000, tpotMs: 50 },
    ];
    const traffic = parseTraffic({ ratePerSecond: 3, mix: 'chat', tiers });
    const rec = planDeployment(traffic, { durationS: 10 });
    expect(rec.traces.validationS).toBeCloseTo(traceSeconds(traffic, 3, 10), 9);
    expect(rec.validation!.tiers[0]!.requests).toBeGreaterThanOrEqual(MIN_TIER_REQUESTS);
    expect(rec.validation!.tooFew).toEqual([]);
    expect(rec.validation!.met).toBe(true);
    // Capped at a day: a rate that cannot give a tier enough requests in that is not validated.
    expect(traceSeconds(traffic, 0.001, 10)).toBe(MAX_TRACE_S);
  });

  it('leaves out GPU decode for a tier whose TPOT is below a GPU token time, and says why', () => {
    const rec = planDeployment(parseTraffic({ ratePerSecond: 4, mix: 'chat' }), { durationS: 10 });
    const byTpot = rec.excluded.filter((e) => /7\.30 ms\/token alone, above the tightest tier's TPOT 5 ms/.test(e.reason)).map((e) => e.shape);
    expect(byTpot).toEqual(['agg:gpu-aggregated', 'pd:trainium-prefill>gpu-aggregated', 'pd:gpu-aggregated>gpu-aggregated']);
    expect(rec.plan?.kind).toBe('disaggregated');
    if (rec.plan?.kind === 'disaggregated') expect(rec.plan.decode.profile).toBe('cerebras-decode');
  });

  it('answers "no plan" when no shape can reach a tier\'s TTFT even unloaded', () => {
    const rec = planDeployment(parseTraffic({ ratePerSecond: 5, mix: 'rag' }), { durationS: 10 });
    expect(rec.plan).toBeUndefined();
    expect(rec.validation).toBeUndefined();
    expect(rec.excluded.some((e) => /reach the first token within tier priority's 300 ms/.test(e.reason))).toBe(true);
  });

  it('follows the prices: a dear Cerebras moves a GPU-feasible traffic to GPUs, a cheap one to Cerebras', () => {
    const base = { ratePerSecond: 8, mix: 'chat', tiers: defaultOnly } as const;
    const dear = planDeployment(parseTraffic({ ...base, prices: { 'cerebras-decode': 1_000 } }), { durationS: 10 });
    const cheap = planDeployment(parseTraffic({ ...base, prices: { 'cerebras-decode': 0.5 } }), { durationS: 10 });
    const decodeOf = (p: typeof dear.plan) => (p?.kind === 'disaggregated' ? p.decode.profile : p?.aggregated.profile);
    expect(decodeOf(dear.plan)).toBe('gpu-aggregated');
    expect(decodeOf(cheap.plan)).toBe('cerebras-decode');
    expect(cheap.costPerHourUsd).toBeLessThan(dear.costPerHourUsd);
    expect(priceTable({ 'cerebras-decode': 0.5 })['cerebras-decode']).toBe(0.5);
  });

  it('is deterministic', () => {
    const traffic = parseTraffic({ ratePerSecond: 5, mix: 'agentic', tiers: defaultOnly });
    expect(planDeployment(traffic, { durationS: 10 })).toEqual(planDeployment(traffic, { durationS: 10 }));
  });
});
