/**
 * The simulator's timing model: PURE functions of a profile and a request's shape. No I/O, no
 * timers, no clock: callers pass the state (batch size, time already queued) and get simulated
 * milliseconds back, so the HTTP server and a virtual-time benchmark share one model.
 *
 * TTFT = queueing + (prefill compute | KV transfer) + fixed overhead; then one token every
 * inter-token latency (ITL) for the batch the sequence is decoding in. Prompt tokens found in the
 * engine's prefix cache (sim/prefix-cache.ts) are neither computed nor transferred: only the
 * uncached suffix is.
 */
import type { SimProfile } from './profiles.ts';

/** What a simulated call does, decided from its body and the server's role. */
export const REQUEST_KINDS = ['prefill', 'decode-remote', 'decode-recompute', 'aggregated'] as const;
/**
 * `prefill`: compute the prompt's KV for a remote decoder; `decode-remote`: KV arrives over the
 * link; `decode-recompute`: a decode server recomputes the prompt itself; `aggregated`: one server
 * does both phases.
 */
export type RequestKind = (typeof REQUEST_KINDS)[number];

/** Simulated time to prefill `promptTokens` on this profile, ms. */
export function prefillMs(profile: SimProfile, promptTokens: number): number {
  return (Math.max(0, promptTokens) / profile.prefillTokensPerSecond) * 1000;
}

/** Bytes of KV cache for `promptTokens`. */
export function kvBytes(profile: SimProfile, promptTokens: number): number {
  return Math.max(0, promptTokens) * profile.kvBytesPerToken;
}

/**
 * Simulated time for the KV cache of `promptTokens` to arrive over the receiver's link, ms:
 * set-up + bytes / bandwidth.
 *
 * @example
 * // 1,000 tokens × 128 KiB over 12.5 GB/s ≈ 10.5 ms, + 1 ms set-up
 * kvTransferMs(getProfile('cerebras-decode'), 1000); // ≈ 11.5
 */
export function kvTransferMs(profile: SimProfile, promptTokens: number): number {
  return profile.linkSetupMs + (kvBytes(profile, promptTokens) / profile.linkBytesPerSecond) * 1000;
}

/** Inter-token latency of one stream decoding in a batch of `batch` sequences, ms. */
export function interTokenMs(profile: SimProfile, batch: number): number {
  const b = Math.max(1, Math.floor(batch));
  return (1000 / profile.decodeTokensPerSecond) * (1 + profile.batchSlowdownPerSequence * Math.max(0, b - profile.batchKnee));
}

/** Number of KV blocks `promptTokens` occupy (block size from the profile). */
export function kvBlockCount(profile: SimProfile, promptTokens: number): number {
  return Math.max(1, Math.ceil(promptTokens / profile.kvBlockTokens));
}

/** True when a new sequence may start now; otherwise it waits in the FIFO queue. */
export function hasFreeSlot(profile: SimProfile, active: number): boolean {
  return active < profile.maxBatch;
}

/** Input of {@link firstTokenMs}. */
export interface FirstTokenInput {
  readonly profile: SimProfile;
  readonly promptTokens: number;
  readonly kind: RequestKind;
  /** Time already spent waiting for a batch slot, ms. @default 0 */
  readonly queueMs?: number;
  /** Prompt tokens already in the engine's prefix cache (clamped to the prompt). @default 0 */
  readonly cachedTokens?: number;
}

/** Where the time to first token goes, ms. */
export interface FirstTokenBreakdown {
  readonly queueMs: number;
  readonly prefillMs: number;
  readonly kvTransferMs: number;
  readonly overheadMs: number;
  readonly totalMs: number;
}

/**
 * Time to first token for a call of that kind: a remote-KV decode pays the transfer instead of the
 * prefill; every other kind computes the prompt itself.
 *
 * @example
 * firstTokenMs({ profile, promptTokens: 500, kind: 'decode-remote' }).totalMs;
 */
export function firstTokenMs(input: FirstTokenInput): FirstTokenBreakdown {
  const { profile, promptTokens, kind } = input;
  const queueMs = input.queueMs ?? 0;
  const remote = kind === 'decode-remote';
  const uncached = promptTokens - Math.min(promptTokens, Math.max(0, input.cachedTokens ?? 0));
  const compute = remote ? 0 : prefillMs(profile, uncached);
  const transfer = remote ? kvTransferMs(profile, uncached) : 0;
  return {
    queueMs,
    prefillMs: compute,
    kvTransferMs: transfer,
    overheadMs: profile.overheadMs,
    totalMs: queueMs + compute + transfer + profile.overheadMs,
  };
}

/** Input of {@link requestTimeline}: a request decoding at a constant batch size. */
export interface TimelineInput extends FirstTokenInput {
  readonly completionTokens: number;
  /** Batch size the sequence decodes in (including itself). @default 1 */
  readonly batch?: number;
}

/** TTFT, ITL and end-to-end time of one request, ms. */
export interface Timeline {
  readonly ttftMs: number;
  readonly itlMs: number;
  readonly totalMs: number;
}

/**
 * Whole-request timing at a constant batch: TTFT + (completionTokens − 1) × ITL. The live server
 * re-evaluates ITL per token as the batch changes; a virtual-time benchmark may use this directly.
 */
export function requestTimeline(input: TimelineInput): Timeline {
  const ttft = firstTokenMs(input).totalMs;
  const itl = interTokenMs(input.profile, input.batch ?? 1);
  const rest = Math.max(0, input.completionTokens - 1);
  return { ttftMs: ttft, itlMs: itl, totalMs: ttft + rest * itl };
}

/** A simulated duration in real milliseconds under `speedup` (speedup ≤ 0 is treated as 1). */
export function realMs(simulatedMs: number, speedup: number): number {
  return simulatedMs / (speedup > 0 ? speedup : 1);
}
