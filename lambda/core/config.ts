/**
 * The splitserve configuration file (DESIGN.md section 7): pools, models, tiers and, for local
 * runs only, tenants. Parsed once at start-up (or at synth time) with zod; a bad file fails with a
 * message that names the bad field.
 */
import { z } from 'zod';
import { ConfigError } from './errors.ts';

/** Backend protocols a pool can speak. */
export const PROTOCOLS = ['vllm-nixl', 'sglang', 'openai', 'bedrock'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

/** Simulator hardware profiles (figures cited in sim/profiles.ts). */
export const SIM_PROFILES = ['trainium-prefill', 'cerebras-decode', 'gpu-aggregated'] as const;
export type SimProfileName = (typeof SIM_PROFILES)[number];

/** Tier names a client may ask for; `fast` is accepted as an alias of `priority`. */
export const TIER_NAMES = ['priority', 'default', 'flex'] as const;
export type TierName = (typeof TIER_NAMES)[number];

const url = z.string().url();

const simulateSchema = z
  .object({
    profile: z.enum(SIM_PROFILES),
    replicas: z.number().int().min(1).max(64).default(1),
    /** Divide every simulated duration by this factor (tests use large values). */
    speedup: z.number().positive().default(1),
    seed: z.number().int().optional(),
  })
  .strict();

const poolSchema = z
  .object({
    protocol: z.enum(PROTOCOLS),
    role: z.enum(['prefill', 'decode', 'both']).default('both'),
    endpoints: z.array(url).min(1).optional(),
    simulate: simulateSchema.optional(),
    /** vLLM NIXL: `pull` (decode reads the blocks, default) or `push` (prefill writes them). */
    kvTransfer: z.enum(['pull', 'push']).default('pull'),
    /** Per-call timeout towards this pool's endpoints, in milliseconds. */
    timeoutMs: z.number().int().positive().default(120_000),
    /** Maximum open connections per endpoint. */
    maxConnections: z.number().int().positive().default(256),
    region: z.string().optional(),
    modelIds: z.record(z.string(), z.string()).optional(),
    /** Model name sent upstream when it differs from the public one (public name → upstream name). */
    upstreamModels: z.record(z.string(), z.string()).optional(),
  })
  .strict()
  .superRefine((pool, ctx) => {
    if (pool.protocol === 'bedrock') return;
    const sources = Number(pool.endpoints !== undefined) + Number(pool.simulate !== undefined);
    if (sources !== 1) {
      ctx.addIssue({ code: 'custom', message: 'a pool needs exactly one of "endpoints" or "simulate"' });
    }
  });

const routeSchema = z.discriminatedUnion('mode', [
  z
    .object({
      mode: z.literal('disaggregated'),
      prefill: z.string(),
      decode: z.string(),
      localPrefillBelowTokens: z.number().int().min(0).default(0),
      maxPrefillQueue: z.number().int().positive().optional(),
    })
    .strict(),
  z.object({ mode: z.literal('aggregated'), pool: z.string() }).strict(),
  z.object({ mode: z.literal('bedrock'), pool: z.string() }).strict(),
]);

const tierSchema = z
  .object({
    route: routeSchema,
    slo: z.object({ ttftMs: z.number().positive(), tpotMs: z.number().positive() }).strict().optional(),
    fallback: z.enum(TIER_NAMES).optional(),
    priceFactor: z.number().positive().default(1),
    bedrock: z
      .object({ serviceTier: z.string().optional(), latency: z.enum(['standard', 'optimized']).optional() })
      .strict()
      .optional(),
  })
  .strict();

const limitsSchema = z
  .object({
    rpm: z.number().int().positive().optional(),
    tpm: z.number().int().positive().optional(),
    monthlyTokens: z.number().int().positive().optional(),
  })
  .strict();

const tenantSchema = z
  .object({
    id: z.string().regex(/^[a-zA-Z0-9_.-]{1,64}$/, 'tenant ids are 1-64 characters of [a-zA-Z0-9_.-]'),
    apiKeys: z.array(z.string().min(8)).min(1),
    tiers: z.array(z.enum(TIER_NAMES)).min(1),
    limits: z.partialRecord(z.enum(TIER_NAMES), limitsSchema).default({}),
    disabled: z.boolean().default(false),
  })
  .strict();

/** zod schema of the whole configuration file. */
export const configSchema = z
  .object({
    pools: z.record(z.string(), poolSchema),
    models: z.record(z.string(), z.object({ pools: z.array(z.string()).min(1) }).strict()),
    tiers: z.partialRecord(z.enum(TIER_NAMES), tierSchema),
    tenants: z.array(tenantSchema).default([]),
    /** Tokens reserved for a request that gives no `max_tokens`. */
    defaultMaxTokens: z.number().int().positive().default(1024),
  })
  .strict()
  .superRefine((cfg, ctx) => {
    const pools = new Set(Object.keys(cfg.pools));
    for (const [model, m] of Object.entries(cfg.models)) {
      m.pools.forEach((p, i) => {
        if (!pools.has(p)) ctx.addIssue({ code: 'custom', path: ['models', model, 'pools', i], message: `unknown pool "${p}"` });
      });
    }
    for (const [name, tier] of Object.entries(cfg.tiers)) {
      if (!tier) continue;
      const r = tier.route;
      const refs: Array<[string, string]> = r.mode === 'disaggregated' ? [['prefill', r.prefill], ['decode', r.decode]] : [['pool', r.pool]];
      for (const [field, p] of refs) {
        if (!pools.has(p)) ctx.addIssue({ code: 'custom', path: ['tiers', name, 'route', field], message: `unknown pool "${p}"` });
      }
      if (tier.fallback && !cfg.tiers[tier.fallback]) {
        ctx.addIssue({ code: 'custom', path: ['tiers', name, 'fallback'], message: `unknown tier "${tier.fallback}"` });
      }
      if (tier.fallback === name) {
        ctx.addIssue({ code: 'custom', path: ['tiers', name, 'fallback'], message: 'a tier cannot fall back to itself' });
      }
    }
    cfg.tenants.forEach((t, i) => {
      t.tiers.forEach((tn, j) => {
        if (!cfg.tiers[tn]) ctx.addIssue({ code: 'custom', path: ['tenants', i, 'tiers', j], message: `unknown tier "${tn}"` });
      });
    });
  });

/** A parsed, validated configuration (defaults filled in). */
export type SplitserveConfig = z.output<typeof configSchema>;
export type PoolConfig = SplitserveConfig['pools'][string];
export type TierConfig = NonNullable<SplitserveConfig['tiers'][TierName]>;
export type RouteConfig = TierConfig['route'];
export type TenantConfig = SplitserveConfig['tenants'][number];
export type TenantLimits = z.output<typeof limitsSchema>;

/**
 * Validates a configuration object, throwing a {@link ConfigError} whose message names every bad
 * field by its path (e.g. `tiers.priority.route.prefill: unknown pool "trn"`).
 *
 * @example
 * const config = parseConfig(JSON.parse(readFileSync('splitserve.config.json', 'utf8')));
 */
export function parseConfig(input: unknown, source = 'config'): SplitserveConfig {
  const result = configSchema.safeParse(input);
  if (result.success) return result.data;
  const lines = result.error.issues.map((i) => `  ${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`);
  throw new ConfigError(`invalid ${source}:\n${lines.join('\n')}`);
}
