/**
 * The traffic a plan is made for: a rate, prompt and completion length distributions (a named mix
 * of the goodput benchmark, or log-normal shapes given outright) and the tiers with their share of
 * the requests and their SLOs. Read from a JSON file or flags, validated with zod at the edge.
 */
import { readFile } from 'node:fs/promises';
import { z } from 'zod';
import { SIM_PROFILES } from '../sim/profiles.ts';
import { mulberry32 } from '../sim/prng.ts';
import { TIER_SLOS } from '../bench/goodput/experiment.ts';
import type { SimRequest, TokenDistribution, WorkloadMix } from '../bench/goodput/workloads.ts';
import { MIXES, MIX_NAMES, generateRequests } from '../bench/goodput/workloads.ts';

const TokenDistributionSchema = z
  .object({
    median: z.number().positive(),
    /** Standard deviation of ln(tokens). */
    sigma: z.number().min(0).max(3).default(0.6),
    min: z.number().int().min(1).default(1),
    max: z.number().int().min(1).max(1_000_000).default(32_768),
  })
  .strict()
  .refine((d) => d.min <= d.median && d.median <= d.max, { message: 'needs min <= median <= max' });

const TierSchema = z
  .object({
    name: z.string().min(1).max(64),
    /** Fraction of the requests in this tier (the shares add up to 1). */
    share: z.number().gt(0).max(1),
    ttftMs: z.number().positive(),
    tpotMs: z.number().positive(),
  })
  .strict();

/** The bench's tiers (TIER_SLOS) with an ASSUMED split of the requests: one in five priority. */
export const DEFAULT_TIERS = [
  { name: 'priority', share: 0.2, ...TIER_SLOS.priority },
  { name: 'default', share: 0.8, ...TIER_SLOS.default },
] as const;

/** Schema of a traffic description (the `--traffic` file). */
export const TrafficSchema = z
  .object({
    /** Mean arrival rate, requests per second (Poisson). */
    ratePerSecond: z.number().positive().max(100_000),
    /** A named mix of the goodput benchmark for the length distributions. */
    mix: z.enum(MIX_NAMES).optional(),
    /** Prompt tokens, log-normal (overrides the mix's). */
    prompt: TokenDistributionSchema.optional(),
    /** Completion tokens, log-normal (overrides the mix's). */
    completion: TokenDistributionSchema.optional(),
    /** Tiers: share of requests and SLO each. @default DEFAULT_TIERS */
    tiers: z.array(TierSchema).min(1).max(16).optional(),
    /** Share of each tier's requests that must meet its SLO. @default 0.9 */
    attainment: z.number().gt(0).max(1).optional(),
    /** Price overrides, US dollars per replica-hour, by profile. */
    prices: z.partialRecord(z.enum(SIM_PROFILES), z.number().positive()).optional(),
  })
  .strict()
  .refine((t) => t.mix !== undefined || (t.prompt !== undefined && t.completion !== undefined), {
    message: 'give "mix" or both "prompt" and "completion"',
  })
  .refine((t) => t.tiers === undefined || Math.abs(t.tiers.reduce((s, x) => s + x.share, 0) - 1) < 1e-6, { message: 'tier shares must add up to 1', path: ['tiers'] })
  .refine((t) => t.tiers === undefined || new Set(t.tiers.map((x) => x.name)).size === t.tiers.length, { message: 'tier names must differ', path: ['tiers'] });

/** A traffic description as given (the file's content, after defaults). */
export type TrafficInput = z.input<typeof TrafficSchema>;

/** One tier of a resolved traffic description. */
export interface Tier {
  readonly name: string;
  readonly share: number;
  readonly ttftMs: number;
  readonly tpotMs: number;
}

/** A resolved traffic description: every default filled in. */
export interface Traffic {
  readonly ratePerSecond: number;
  readonly prompt: TokenDistribution;
  readonly completion: TokenDistribution;
  /** The bimodal part of a named mix, when it has one and no shape was overridden. */
  readonly mixName?: string;
  readonly tiers: readonly Tier[];
  readonly attainment: number;
  readonly prices: Readonly<Partial<Record<(typeof SIM_PROFILES)[number], number>>>;
}

/** Thrown for a traffic description that does not validate; the message names the field. */
export class TrafficError extends Error {
  override readonly name = 'TrafficError';
}

/**
 * Validates and resolves a traffic description.
 *
 * @throws TrafficError naming the first bad field
 * @example
 * const traffic = parseTraffic({ ratePerSecond: 20, mix: 'chat' });
 */
export function parseTraffic(input: unknown): Traffic {
  const parsed = TrafficSchema.safeParse(input);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new TrafficError(`traffic: ${issue.path.length ? `"${issue.path.join('.')}": ` : ''}${issue.message}`);
  }
  const t = parsed.data;
  const mix = t.mix === undefined ? undefined : MIXES[t.mix];
  const keepsMix = mix !== undefined && t.prompt === undefined && t.completion === undefined;
  return {
    ratePerSecond: t.ratePerSecond,
    prompt: t.prompt ?? mix!.prompt,
    completion: t.completion ?? mix!.completion,
    ...(keepsMix ? { mixName: mix.name } : {}),
    tiers: t.tiers ?? DEFAULT_TIERS,
    attainment: t.attainment ?? 0.9,
    prices: t.prices ?? {},
  };
}

/** Reads a traffic file's JSON (not yet validated: flags may still be laid over it). @throws TrafficError */
export async function readTrafficJson(path: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new TrafficError(`cannot read ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new TrafficError(`${path} is not JSON: ${(err as Error).message}`);
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new TrafficError(`${path}: expected a JSON object`);
  return json as Record<string, unknown>;
}

/** The workload mix a traffic description draws from (a named mix keeps its second kind). */
export function mixOf(traffic: Traffic): WorkloadMix {
  if (traffic.mixName !== undefined) return MIXES[traffic.mixName as keyof typeof MIXES];
  return { name: 'chat', label: 'custom', prompt: traffic.prompt, completion: traffic.completion, basis: 'given by the traffic description' };
}

/** Requests drawn for a traffic description, and the tier index of each (by request id). */
export interface TierTrace {
  readonly requests: readonly SimRequest[];
  readonly tierOf: readonly number[];
  readonly durationS: number;
}

/**
 * Seeded Poisson arrivals of `traffic` over `durationS` virtual seconds at `ratePerSecond`
 * (default: the traffic's), each assigned a tier by its share.
 *
 * @example
 * const trace = drawTrace(traffic, 30, 1);
 */
export function drawTrace(traffic: Traffic, durationS: number, seed: number, ratePerSecond = traffic.ratePerSecond): TierTrace {
  const requests = generateRequests(mixOf(traffic), ratePerSecond, durationS * 1000, seed);
  return { requests, tierOf: assignTiers(traffic.tiers, requests.length, seed), durationS };
}

/** A tier index per request, drawn by share from its own seeded generator. */
export function assignTiers(tiers: readonly Tier[], count: number, seed: number): number[] {
  const rnd = mulberry32(seed ^ 0x5eed71e5);
  const out: number[] = [];
  for (let i = 0; i < count; i++) {
    let u = rnd();
    let k = 0;
    while (k < tiers.length - 1 && u >= tiers[k]!.share) u -= tiers[k++]!.share;
    out.push(k);
  }
  return out;
}
