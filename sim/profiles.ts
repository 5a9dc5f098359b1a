/**
 * Hardware profiles of the simulator. Each figure either comes from one of the public articles
 * listed in docs/simulator.md ("Timing model and its sources", [A] to [D], quoted beside it) or is an ASSUMPTION, marked as such, chosen to be plausible for an 8B-class model on
 * that hardware. Profiles are data only; the timing rules that use them live in model.ts.
 */
import { SIM_PROFILES } from '../lambda/core/config.ts';
import type { SimProfileName } from '../lambda/core/config.ts';

/** Which side of a disaggregated pair a simulator plays. */
export const SIM_ROLES = ['prefill', 'decode', 'both'] as const;
/** `prefill`, `decode`, or `both` (aggregated). */
export type SimRole = (typeof SIM_ROLES)[number];

/** One simulated hardware profile. All rates are per replica. */
export interface SimProfile {
  readonly name: SimProfileName;
  /** Role a server with this profile plays when none is given. */
  readonly defaultRole: SimRole;
  /** Prompt tokens processed per second (prefill is compute-bound). */
  readonly prefillTokensPerSecond: number;
  /** Output tokens per second of one stream when it is alone in the batch. */
  readonly decodeTokensPerSecond: number;
  /**
   * Inter-token latency grows linearly with the batch beyond {@link batchKnee} sequences:
   * ITL(b) = ITL(1) × (1 + slope × max(0, b − knee)).
   */
  readonly batchSlowdownPerSequence: number;
  /**
   * Sequences decoded at the single-stream speed: below it, reading the weights dominates a step
   * and more sequences cost almost nothing. 1 (linear from the first extra sequence) unless calibrated.
   */
  readonly batchKnee: number;
  /** Sequences decoded concurrently; requests beyond it wait in a FIFO queue. */
  readonly maxBatch: number;
  /** KV-cache bytes per prompt token (what a remote prefill must ship). */
  readonly kvBytesPerToken: number;
  /** Bandwidth of the link the KV cache arrives over, in bytes per second. */
  readonly linkBytesPerSecond: number;
  /** Fixed set-up cost of one KV transfer (connection, descriptor exchange), ms. */
  readonly linkSetupMs: number;
  /** Fixed per-request overhead (tokenisation, scheduling, HTTP), ms. */
  readonly overheadMs: number;
  /** KV block size in tokens (vLLM's default paged-attention block). */
  readonly kvBlockTokens: number;
  /**
   * What one replica of this profile costs per hour, US dollars: a public on-demand price where
   * one exists, an explicit ASSUMPTION otherwise (see {@link costBasis}). Used to compare
   * deployments at equal cost and by `splitserve plan`; nothing in the timing model reads it.
   */
  readonly costPerHourUsd: number;
  /** Where {@link costPerHourUsd} comes from (the price quoted and its share), or `ASSUMPTION: …`. */
  readonly costBasis: string;
}

/**
 * AWS on-demand price of p5.48xlarge (8 × H100 SXM, us-east-1), $98.32 per hour, as quoted at
 * https://computespec.pages.dev/learn/pricing/cost-per-gpu-hour ("AWS sells 8×H100 for $98.32/hr →
 * cost per GPU hour = $98.32 ÷ 8 = $12.29"). One GPU replica is one eighth of the instance.
 * AWS has announced P5 price cuts since that list price; check the EC2 pricing page and override.
 */
const H100_PER_GPU_HOUR = 98.32 / 8;

/**
 * AWS on-demand price of trn1.32xlarge (16 Trainium chips), $21.50 per hour, as quoted at
 * https://www.usage.ai/blogs/aws/ai-ml-cost/trainium-vs-gpu-instances/ ("trn1.32xlarge at
 * $21.50/hr"). One Trainium replica is priced as one chip's share ($1.34); the profile's speed is
 * itself an assumption (see the profile), so this pairing is the weakest of the three prices.
 */
const TRN1_PER_CHIP_HOUR = 21.5 / 16;

/**
 * ASSUMPTION: Cerebras publishes no hourly price for a CS-3 (it sells systems and a per-token API).
 * $50 per hour per CS-3 replica is a placeholder, not a quote; the goodput benchmark prints the
 * break-even price at which Cerebras decode matches the best GPU goodput per dollar instead of
 * relying on it.
 */
const CS3_ASSUMED_PER_HOUR = 50;

/**
 * ASSUMPTION (shared by all profiles; the served model is Llama-3.1-8B-class): KV bytes per token =
 * 32 layers × 8 KV heads × 128 dims × 2 (K and V) × 2 bytes (bf16) = 131,072 B = 128 KiB.
 */
const KV_BYTES_PER_TOKEN_8B = 32 * 8 * 128 * 2 * 2;

/**
 * ASSUMPTION: one KV transfer gets 100 Gbit/s (12.5 GB/s) of the EFA fabric. Sources:
 * [C] "connected via high-speed RDMA networking through AWS Elastic Fabric Adapter";
 * [C] "EFA networking supply the secure isolation, RDMA‑class bandwidth, and low latency";
 * [D] "fast enough that the cross-chip handoff doesn't dominate the user-perceived response time".
 */
const EFA_BYTES_PER_SECOND = 12.5e9;

/** vLLM's default KV block size in tokens. */
const BLOCK_TOKENS = 16;

/** The profiles, by name. */
export const PROFILES: Readonly<Record<SimProfileName, SimProfile>> = {
  'trainium-prefill': {
    name: 'trainium-prefill',
    defaultRole: 'prefill',
    // [A] "This phase is compute-bound ... what GPUs and custom AI accelerators like AWS
    // Trainium are designed for"; [C] "Trainium3 UltraServer's 144 GB HBM capacity and 2.5 PFLOPS
    // of compute throughput make it well-suited for the parallel ... prefill phase".
    // ASSUMPTION: thousands of prompt tok/s per request → 8,000 prompt tok/s.
    prefillTokensPerSecond: 8_000,
    // ASSUMPTION: Trainium is not the decode engine in the sources; when it must decode (aggregated
    // fallback) it is GPU-like: 100 tok/s per stream.
    decodeTokensPerSecond: 100,
    batchSlowdownPerSequence: 0.05,
    batchKnee: 1, // ASSUMPTION (not calibrated)
    // ASSUMPTION: 8 prefills in flight (a chunked-prefill token budget); more queue.
    maxBatch: 8,
    kvBytesPerToken: KV_BYTES_PER_TOKEN_8B,
    linkBytesPerSecond: EFA_BYTES_PER_SECOND,
    linkSetupMs: 1, // ASSUMPTION
    overheadMs: 2, // ASSUMPTION
    kvBlockTokens: BLOCK_TOKENS,
    costPerHourUsd: TRN1_PER_CHIP_HOUR,
    costBasis: 'AWS trn1.32xlarge on-demand $21.50/h / 16 chips (one chip per replica)',
  },
  'cerebras-decode': {
    name: 'cerebras-decode',
    defaultRole: 'decode',
    // ASSUMPTION: the decode engine's own prefill (only used when it must recompute a prompt) is
    // deliberately modest, 2,000 prompt tok/s, since the sources move prefill off it: [C] "By
    // offloading prefill entirely to Trainium Ultra servers".
    prefillTokensPerSecond: 2_000,
    // [B] "Cerebras claims the WSE-3 can hit 3,000 tokens per second"; [D] "969 on Llama
    // 3.1 405B; 2,600 on Llama 4 Scout vs 137 on leading GPU". An 8B model sits at the top:
    // 3,000 tok/s per stream.
    decodeTokensPerSecond: 3_000,
    // ASSUMPTION: weights sit in SRAM ([B] "44GB of on-chip SRAM"; [C] "21 PB/s memory
    // bandwidth"), so batching costs little: +1% ITL per extra sequence.
    batchSlowdownPerSequence: 0.01,
    batchKnee: 1, // ASSUMPTION (not calibrated)
    maxBatch: 16, // ASSUMPTION
    kvBytesPerToken: KV_BYTES_PER_TOKEN_8B,
    linkBytesPerSecond: EFA_BYTES_PER_SECOND,
    linkSetupMs: 1, // ASSUMPTION
    overheadMs: 2, // ASSUMPTION
    kvBlockTokens: BLOCK_TOKENS,
    costPerHourUsd: CS3_ASSUMED_PER_HOUR,
    costBasis: 'ASSUMPTION: no public hourly CS-3 price; $50/h placeholder (see the break-even price)',
  },
  'gpu-aggregated': {
    name: 'gpu-aggregated',
    defaultRole: 'both',
    // ASSUMPTION: 4,000 prompt tok/s for one request on one GPU.
    prefillTokensPerSecond: 4_000,
    // [D]: "Llama 4 Scout at 2,600 tokens/second versus 137 on the leading GPU".
    decodeTokensPerSecond: 137,
    // Decode is memory-bandwidth-bound ([A] "the GPU sits largely idle during decode, waiting for
    // weights"): a few sequences ride along for free, then each costs more. Calibrated against [E]
    // (docs/simulator.md: Llama-3.1-8B on one H100 with vLLM, median TPOT 6.48 / 6.59 / 10.94 ms at
    // 1 / 4 / 16 streams): flat to 4 sequences, then +5.73% ITL per extra one, so that
    // ITL(16) / ITL(1) = 1.688 as published (test/sim/calibration.test.ts).
    batchSlowdownPerSequence: 0.0573,
    batchKnee: 4,
    maxBatch: 32, // ASSUMPTION
    kvBytesPerToken: KV_BYTES_PER_TOKEN_8B,
    // ASSUMPTION: an RDMA NIC of the same class as EFA when a GPU pool receives remote KV.
    linkBytesPerSecond: EFA_BYTES_PER_SECOND,
    linkSetupMs: 1, // ASSUMPTION
    overheadMs: 3, // ASSUMPTION
    kvBlockTokens: BLOCK_TOKENS,
    costPerHourUsd: H100_PER_GPU_HOUR,
    costBasis: 'AWS p5.48xlarge on-demand $98.32/h / 8 GPUs (one H100 per replica)',
  },
};

/**
 * The profile of that name.
 *
 * @example
 * const p = getProfile('cerebras-decode'); // p.decodeTokensPerSecond === 3000
 */
export function getProfile(name: SimProfileName): SimProfile {
  return PROFILES[name];
}

/** True when `name` is a known profile name. */
export function isProfileName(name: string): name is SimProfileName {
  return (SIM_PROFILES as readonly string[]).includes(name);
}

/** Profile names, re-exported from the config contract (lambda/core/config.ts). */
export { SIM_PROFILES };
/** A profile name, re-exported from the config contract (lambda/core/config.ts). */
export type { SimProfileName };
