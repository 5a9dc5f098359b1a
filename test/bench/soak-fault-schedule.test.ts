import { describe, expect, it } from 'vitest';
import { faultPlan, supportedFaultFields } from '../../bench/soak/fault-schedule.ts';
import { POOL_TIMEOUT_MS } from '../../bench/soak/soak-config.ts';
import { simFaultsSchema } from '../../sim/faults.ts';

describe('soak fault plan', () => {
  const plan = faultPlan({ seed: 1, durationMs: 600_000 });

  it('is the same for the same seed and differs for another', () => {
    expect(faultPlan({ seed: 1, durationMs: 600_000 })).toEqual(plan);
    expect(faultPlan({ seed: 2, durationMs: 600_000 })).not.toEqual(plan);
  });

  it('changes each engine every 2-6 s until 85% of the run, then clears every fault', () => {
    for (const sim of ['prefill', 'decode', 'gpu'] as const) {
      const changes = plan.filter((c) => c.sim === sim);
      const last = changes.at(-1)!;
      expect(last).toEqual({ atMs: 510_000, sim, kind: 'none', faults: {} });
      for (let i = 1; i < changes.length - 1; i += 1) {
        const gap = changes[i]!.atMs - changes[i - 1]!.atMs;
        expect(gap).toBeGreaterThanOrEqual(2_000);
        expect(gap).toBeLessThanOrEqual(6_000);
      }
    }
    expect(plan.map((c) => c.atMs)).toEqual([...plan.map((c) => c.atMs)].sort((a, b) => a - b));
  });

  it('draws every kind the simulator accepts, stalls past the pool timeout, and only valid fault sets', () => {
    const kinds = new Set(plan.map((c) => c.kind));
    expect([...kinds].sort()).toEqual(['drop', 'errors', 'invalid-body', 'no-kv-params', 'none', 'reset', 'stall', 'stall-mid-body', 'throttle', 'trickle']);
    for (const c of plan) expect(simFaultsSchema.safeParse(c.faults).success, JSON.stringify(c)).toBe(true);
    for (const c of plan.filter((x) => x.kind === 'stall')) expect(c.faults.stallMs).toBeGreaterThan(POOL_TIMEOUT_MS);
    expect(plan.filter((c) => c.kind === 'no-kv-params').every((c) => c.sim === 'prefill')).toBe(true);
    const healthy = plan.filter((c) => c.kind === 'none').length / plan.length;
    expect(healthy).toBeGreaterThan(0.5);
    expect(healthy).toBeLessThan(0.8);
  });

  it('leaves out the kinds an older simulator does not accept', () => {
    const old = new Set([...supportedFaultFields()].filter((f) => !['reset', 'retryAfterMs', 'stallAfterTokens', 'invalidBody', 'trickleMs'].includes(f)));
    const kinds = new Set(faultPlan({ seed: 1, durationMs: 600_000, fields: old }).map((c) => c.kind));
    expect([...kinds].sort()).toEqual(['drop', 'errors', 'no-kv-params', 'none', 'stall']);
  });
});
