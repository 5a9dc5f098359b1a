import { describe, expect, it } from 'vitest';
import { replicaCapacity } from '../../bench/goodput/capacity.ts';
import { DEFAULT_PROFILES, runDeployment } from '../../bench/goodput/cluster.ts';
import type { SimRequest } from '../../bench/goodput/workloads.ts';
import { firstTokenMs, interTokenMs } from '../../sim/model.ts';
import { PROFILES } from '../../sim/profiles.ts';

const req = (id: number, arrivalMs: number, promptTokens: number, completionTokens: number): SimRequest => ({ id, arrivalMs, promptTokens, completionTokens });
const gpu = PROFILES['gpu-aggregated'];

describe('prefill-decode interference in the replica model', () => {
  it('an aggregated replica stalls its decodes while it computes a new prompt', () => {
    // Request 0 decodes alone, then request 1's 2,000-token prompt is computed on the same GPU.
    const outs = runDeployment({ strategy: 'aggregated', gpu: 1, prefill: 0, decode: 0, route: {} }, [req(0, 0, 100, 201), req(1, 500, 2_000, 2)]);
    const a = outs.find((o) => o.request.id === 0)!;
    const stall = firstTokenMs({ profile: gpu, promptTokens: 2_000, kind: 'aggregated' }).totalMs;
    // Below the profile's knee a batch of two decodes as fast as one, so the only extra time is the stall.
    expect(interTokenMs(gpu, 2)).toBe(interTokenMs(gpu, 1));
    expect(a.ttftMs).toBeCloseTo(firstTokenMs({ profile: gpu, promptTokens: 100, kind: 'aggregated' }).totalMs, 9);
    expect(a.e2eMs).toBeCloseTo(a.ttftMs + 200 * interTokenMs(gpu, 1) + stall, 6);
  });

  it('GPU-only P/D keeps the decode pool free of prompt work: the same two requests decode without a stall', () => {
    const profiles = { gpu, prefill: gpu, decode: gpu };
    const outs = runDeployment({ strategy: 'disaggregated', gpu: 0, prefill: 1, decode: 1, route: {} }, [req(0, 0, 100, 201), req(1, 500, 2_000, 2)], profiles);
    const a = outs.find((o) => o.request.id === 0)!;
    // Request 1's prompt runs on the prefill GPU; request 0 only ever shares the decode batch.
    expect(a.e2eMs).toBeCloseTo(a.ttftMs + 200 * interTokenMs(gpu, 1), 6);
  });

  it('a KV transfer does not stall (decode-remote computes nothing)', () => {
    const outs = runDeployment({ strategy: 'disaggregated', gpu: 0, prefill: 1, decode: 1, route: {} }, [req(0, 0, 100, 101), req(1, 50, 8_000, 2)]);
    const a = outs.find((o) => o.request.id === 0)!;
    expect(a.tpotMs).toBeLessThanOrEqual(interTokenMs(DEFAULT_PROFILES.decode, 2) + 1e-9);
  });

  it('aggregated capacity charges the prompt time to the whole replica, not one slot', () => {
    const rs = [req(0, 0, 1_000, 100)];
    const first = firstTokenMs({ profile: gpu, promptTokens: 1_000, kind: 'aggregated' }).totalMs;
    const decode = 99 * interTokenMs(gpu, gpu.maxBatch);
    expect(replicaCapacity(gpu, 'aggregated', rs)).toBeCloseTo(1000 / (first + decode / gpu.maxBatch), 9);
    // A prefill-only replica still overlaps prompts across its slots.
    const pre = PROFILES['trainium-prefill'];
    expect(replicaCapacity(pre, 'prefill', rs)).toBeCloseTo((pre.maxBatch * 1000) / firstTokenMs({ profile: pre, promptTokens: 1_000, kind: 'prefill' }).totalMs, 9);
  });
});
