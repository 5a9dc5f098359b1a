/**
 * The three workload mixes of the goodput benchmark and their seeded Poisson arrivals. Token
 * lengths are log-normal (median, spread), clamped; every draw comes from one seeded generator,
 * so a mix, a rate, a duration and a seed give the same requests on every run.
 */
import { mulberry32 } from '../../sim/prng.ts';
import type { Random } from '../../sim/prng.ts';

/** A log-normal token-length distribution, clamped to [min, max]. */
export interface TokenDistribution {
  readonly median: number;
  /** Standard deviation of ln(tokens). */
  readonly sigma: number;
  readonly min: number;
  readonly max: number;
}

/** A second kind of request in a mix, drawn instead of the main one with probability `share`. */
export interface MixComponent {
  /** Fraction of the requests (0..1). */
  readonly share: number;
  readonly prompt: TokenDistribution;
  readonly completion: TokenDistribution;
}

/** One workload mix. */
export interface WorkloadMix {
  readonly name: MixName;
  readonly label: string;
  readonly prompt: TokenDistribution;
  readonly completion: TokenDistribution;
  /** Another kind of request mixed in (a bimodal mix); absent: every request is drawn from `prompt` and `completion`. */
  readonly other?: MixComponent;
  /** Why these shapes (sources and assumptions). */
  readonly basis: string;
}

/** Names of the mixes, in report order. */
export const MIX_NAMES = ['chat', 'rag', 'agentic', 'mixed'] as const;
export type MixName = (typeof MIX_NAMES)[number];

/**
 * The mixes. ASSUMPTIONS (no seed gives request-length distributions): the shapes follow the
 * usual public characterisations of each workload; the sources (docs/simulator.md) only say which side is heavy.
 */
export const MIXES: Readonly<Record<MixName, WorkloadMix>> = {
  chat: {
    name: 'chat',
    label: 'chat',
    prompt: { median: 400, sigma: 0.9, min: 8, max: 8_192 },
    completion: { median: 250, sigma: 0.7, min: 4, max: 2_048 },
    basis: 'ASSUMPTION: short conversational turns, prompt and answer of a few hundred tokens.',
  },
  rag: {
    name: 'rag',
    label: 'long-prompt RAG',
    prompt: { median: 3_000, sigma: 0.5, min: 512, max: 16_384 },
    completion: { median: 150, sigma: 0.6, min: 4, max: 1_024 },
    basis: 'ASSUMPTION: retrieved passages make the prompt 10-20x the answer.',
  },
  agentic: {
    name: 'agentic',
    label: 'agentic (decode-heavy)',
    prompt: { median: 1_500, sigma: 0.7, min: 64, max: 16_384 },
    completion: { median: 1_200, sigma: 0.6, min: 16, max: 8_192 },
    basis:
      '[D] (docs/simulator.md): "agentic coding, where a single user query can trigger 15× the token volume of a normal chat exchange"; ' +
      '[B]: agents "chain together multi-step reasoning, write code". ASSUMPTION: long tool-laden context, long generated code.',
  },
  mixed: {
    name: 'mixed',
    label: 'short + long prompts',
    prompt: { median: 120, sigma: 0.6, min: 8, max: 1_024 },
    completion: { median: 200, sigma: 0.6, min: 4, max: 2_048 },
    other: { share: 0.25, prompt: { median: 8_000, sigma: 0.4, min: 2_048, max: 16_384 }, completion: { median: 200, sigma: 0.6, min: 4, max: 2_048 } },
    basis:
      'ASSUMPTION: the case conditional disaggregation is for: short chat turns (three in four) sharing the prefill pool ' +
      'with long-document prompts (one in four), so a short prompt can wait behind long prefills.',
  },
};

/** One request of a workload, times in virtual milliseconds. */
export interface SimRequest {
  readonly id: number;
  readonly arrivalMs: number;
  readonly promptTokens: number;
  readonly completionTokens: number;
}

/** Draws a token count from a distribution (Box-Muller normal, two uniforms per draw). */
export function drawTokens(dist: TokenDistribution, rnd: Random): number {
  const u1 = Math.max(rnd(), Number.MIN_VALUE);
  const u2 = rnd();
  const normal = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  const tokens = Math.round(dist.median * Math.exp(dist.sigma * normal));
  return Math.min(dist.max, Math.max(dist.min, tokens));
}

/**
 * Poisson arrivals at `ratePerSecond` over `[0, durationMs)`, each with drawn prompt and
 * completion lengths.
 *
 * @example
 * const requests = generateRequests(MIXES.chat, 100, 10_000, 1); // ≈ 1,000 requests
 */
export function generateRequests(mix: WorkloadMix, ratePerSecond: number, durationMs: number, seed: number): SimRequest[] {
  const rnd = mulberry32(seed);
  const out: SimRequest[] = [];
  const meanGapMs = 1000 / ratePerSecond;
  for (let t = -Math.log(1 - rnd()) * meanGapMs; t < durationMs; t += -Math.log(1 - rnd()) * meanGapMs) {
    // A single-kind mix draws no component: its requests are the same as before mixes had kinds.
    const kind = mix.other !== undefined && rnd() < mix.other.share ? mix.other : mix;
    out.push({ id: out.length, arrivalMs: t, promptTokens: drawTokens(kind.prompt, rnd), completionTokens: drawTokens(kind.completion, rnd) });
  }
  return out;
}
