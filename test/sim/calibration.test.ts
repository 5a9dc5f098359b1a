/**
 * The simulator's decode model against a published measurement (docs/simulator.md, "Calibration"):
 * InferenceBench's concurrency sweep of Llama-3.1-8B-Instruct on one H100-80GB-HBM3 with vLLM
 * 0.21.0 (fp16, its `chatbot-short` workload, 2026-05-16): median TPOT 6.48 ms at 1 stream,
 * 6.59 ms at 4, 10.94 ms at 16 (at 64 the engine queues: not a batch-size figure). The
 * `gpu-aggregated` profile is held within 20% of each point, and of the slowdown ratios.
 */
import { describe, expect, it } from 'vitest';
import { interTokenMs } from '../../sim/model.ts';
import { getProfile } from '../../sim/profiles.ts';

/** Published median TPOT by concurrent streams, ms. */
const PUBLISHED_TPOT_MS: ReadonlyArray<readonly [streams: number, tpotMs: number]> = [
  [1, 6.48],
  [4, 6.59],
  [16, 10.94],
];
const TOLERANCE = 0.2;

describe('simulator calibration: gpu-aggregated decode vs a published H100 sweep', () => {
  const gpu = getProfile('gpu-aggregated');

  it.each(PUBLISHED_TPOT_MS)('TPOT at %i stream(s) is within 20%% of the published %f ms', (streams, published) => {
    const modelled = interTokenMs(gpu, streams);
    expect(Math.abs(modelled / published - 1)).toBeLessThanOrEqual(TOLERANCE);
  });

  it('the slowdown from 1 to 16 streams is within 20% of the published one', () => {
    const published = 10.94 / 6.48;
    const modelled = interTokenMs(gpu, 16) / interTokenMs(gpu, 1);
    expect(Math.abs(modelled / published - 1)).toBeLessThanOrEqual(TOLERANCE);
  });
});
