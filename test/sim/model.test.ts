import { describe, expect, it } from 'vitest';
import {
  firstTokenMs, interTokenMs, kvBlockCount, kvTransferMs, prefillMs, realMs, requestTimeline, hasFreeSlot,
} from '../../sim/model.ts';
import { PROFILES, getProfile } from '../../sim/profiles.ts';
import { SIM_PROFILES } from '../../lambda/core/config.ts';

const trn = getProfile('trainium-prefill');
const cs3 = getProfile('cerebras-decode');
const gpu = getProfile('gpu-aggregated');

describe('profiles', () => {
  it('has one profile per configured name, with the seed figures', () => {
    expect(Object.keys(PROFILES).sort()).toEqual([...SIM_PROFILES].sort());
    expect(cs3.decodeTokensPerSecond).toBe(3000);
    expect(gpu.decodeTokensPerSecond).toBe(137);
    expect(trn.prefillTokensPerSecond).toBeGreaterThanOrEqual(1000);
    expect(cs3.kvBytesPerToken).toBe(128 * 1024);
    expect([trn.defaultRole, cs3.defaultRole, gpu.defaultRole]).toEqual(['prefill', 'decode', 'both']);
  });
});

describe('timing model', () => {
  it('prefill time is prompt tokens over prefill throughput', () => {
    expect(prefillMs(trn, 8000)).toBe(1000);
    expect(prefillMs(cs3, 1000)).toBe(500);
    expect(prefillMs(trn, 0)).toBe(0);
  });

  it('KV transfer time is set-up plus bytes over link bandwidth', () => {
    // 1000 × 131072 B / 12.5e9 B/s = 10.48576 ms, + 1 ms set-up
    expect(kvTransferMs(cs3, 1000)).toBeCloseTo(11.48576, 5);
    expect(kvTransferMs(cs3, 0)).toBe(1);
  });

  it('inter-token latency grows linearly with the batch beyond the profile\'s knee', () => {
    expect(interTokenMs(cs3, 1)).toBeCloseTo(1000 / 3000, 9);
    expect(interTokenMs(cs3, 11)).toBeCloseTo((1000 / 3000) * 1.1, 9); // knee 1: +1% from the second sequence
    expect(interTokenMs(gpu, 1)).toBeCloseTo(1000 / 137, 9);
    expect(interTokenMs(gpu, 4)).toBeCloseTo(1000 / 137, 9); // knee 4: flat to 4 sequences
    expect(interTokenMs(gpu, 14)).toBeCloseTo((1000 / 137) * (1 + 0.0573 * 10), 9);
    expect(interTokenMs(gpu, 0)).toBe(interTokenMs(gpu, 1));
  });

  it('a remote-KV decode pays the transfer instead of the prefill', () => {
    const remote = firstTokenMs({ profile: cs3, promptTokens: 2000, kind: 'decode-remote' });
    expect(remote.prefillMs).toBe(0);
    expect(remote.kvTransferMs).toBeCloseTo(1 + 20.97152, 5);
    expect(remote.totalMs).toBeCloseTo(1 + 20.97152 + 2, 5);
    const recompute = firstTokenMs({ profile: cs3, promptTokens: 2000, kind: 'decode-recompute', queueMs: 5 });
    expect(recompute).toEqual({ queueMs: 5, prefillMs: 1000, kvTransferMs: 0, overheadMs: 2, totalMs: 1007 });
    expect(firstTokenMs({ profile: trn, promptTokens: 800, kind: 'prefill' }).totalMs).toBe(102);
  });

  it('a whole request at a constant batch is TTFT plus (n − 1) ITLs', () => {
    const t = requestTimeline({ profile: gpu, promptTokens: 400, kind: 'aggregated', completionTokens: 11, batch: 1 });
    expect(t.ttftMs).toBe(103);
    expect(t.totalMs).toBeCloseTo(103 + 10 * (1000 / 137), 9);
  });

  it('counts KV blocks of 16 tokens and slots up to max batch', () => {
    expect(kvBlockCount(cs3, 16)).toBe(1);
    expect(kvBlockCount(cs3, 17)).toBe(2);
    expect(kvBlockCount(cs3, 0)).toBe(1);
    expect(hasFreeSlot(trn, 7)).toBe(true);
    expect(hasFreeSlot(trn, 8)).toBe(false);
  });

  it('divides simulated time by the speedup', () => {
    expect(realMs(1000, 1000)).toBe(1);
    expect(realMs(50, 0)).toBe(50);
  });
});
