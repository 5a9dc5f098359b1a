/**
 * The splitserve configuration file (docs/configuration.md): pools, models, tiers and, for local
 * runs only, tenants. Parsed once at start-up (or at synth time) with zod; a bad file fails with a
 * message that names the bad field.
 */
import * as z from 'zod/mini';
import './zod.ts';
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

const url = z.url();

const positiveInt = z.int().check(z.positive());

const simulateSchema = z.strictObject({
  profile: z.enum(SIM_PROFILES),
  replicas: z._default(z.int().check(z.minimum(1), z.maximum(64)), 1),
  /** Divide every simulated duration by this factor (tests use large values). */
  speedup: z._default(z.number().check(z.positive()), 1),
  seed: z.optional(z.int()),
  /** Batch slots per replica (vLLM's `--max-num-seqs`). Default: the profile's. */
  slots: z.optional(z.int().check(z.minimum(1), z.maximum(4096))),
  /**
   * The replicas' scheduling policy (vLLM's `--scheduling-policy`): `priority` (the default here,
   * so the tiers' engine priorities take effect) or `fcfs`.
   */
  schedulingPolicy: z._default(z.enum(['priority', 'fcfs']), 'priority'),
});

/** Which engine `priority` values are scheduled first: vLLM's `low-first`, or SGLang's default `high-first`. */
export const PRIORITY_ORDERS = ['low-first', 'high-first'] as const;
export type PriorityOrder = (typeof PRIORITY_ORDERS)[number];

const poolSchema = z
  .strictObject({
    protocol: z.enum(PROTOCOLS),
    role: z._default(z.enum(['prefill', 'decode', 'both']), 'both'),
    endpoints: z.optional(z.array(url).check(z.minLength(1))),
    simulate: z.optional(simulateSchema),
    /** vLLM NIXL: `pull` (decode reads the blocks, default) or `push` (prefill writes them). */
    kvTransfer: z._default(z.enum(['pull', 'push']), 'pull'),
    /** Per-call timeout towards this pool's endpoints, in milliseconds. */
    timeoutMs: z._default(positiveInt, 120_000),
    /** Maximum open connections per endpoint (one connection pool serves every pool: the largest value applies to each endpoint). */
    maxConnections: z._default(positiveInt, 256),
    region: z.optional(z.string()),
    modelIds: z.optional(z.record(z.string(), z.string())),
    /** Model name sent upstream when it differs from the public one (public name → upstream name). */
    upstreamModels: z.optional(z.record(z.string(), z.string())),
    /** Endpoint selection: `round-robin` (when absent) or `least-outstanding` (power of two choices). */
    policy: z.optional(z.enum(['round-robin', 'least-outstanding'])),
    /** Disaggregated routes: choose the decode endpoint first, then prefill (as llm-d); set on either pool. */
    pairing: z.optional(z.enum(['decode-first'])),
    /** Health checks (off when absent): GET `path` (default `/health`) every `intervalMs` (5000), `timeoutMs` (1000). */
    health: z.optional(z.strictObject({ path: z.optional(z.string()), intervalMs: z.optional(positiveInt), timeoutMs: z.optional(positiveInt) })),
    /** Circuit breaker per endpoint (off when absent): open after `failures` (5) in a row, probe after `coolDownMs` (10000). */
    breaker: z.optional(z.strictObject({ failures: z.optional(positiveInt), coolDownMs: z.optional(positiveInt) })),
    /** SGLang PD: the prefill servers' bootstrap port (default 8998). */
    bootstrapPort: z.optional(z.int().check(z.minimum(1), z.maximum(65_535))),
    /**
     * Send each tier's engine priority as the request's `priority` field (prefill and decode).
     * Default: on for vllm-nixl, sglang and openai pools (off for endpoints at api.openai.com,
     * which refuses unknown fields); Bedrock never (its tier is `serviceTier`).
     */
    enginePriority: z.optional(z.boolean()),
    /**
     * Ask the engines for the usage so far on every stream chunk (`stream_options.
     * continuous_usage_stats`), so an abandoned stream is metered at the engine's count. Default:
     * on for vllm-nixl, sglang and openai pools (off at api.openai.com); Bedrock never.
     */
    continuousUsage: z.optional(z.boolean()),
    /** Which `priority` values the engine schedules first. Default: `high-first` for sglang (SGLang's default), `low-first` otherwise (vLLM). */
    priorityOrder: z.optional(z.enum(PRIORITY_ORDERS)),
    /**
     * Engine load polling (`false`: off): GET `path` (default `/metrics`, Prometheus text of vLLM
     * or SGLang) every `intervalMs` (1000); a reading older than `maxAgeMs` (3 × interval) is not
     * used. Default: on for vllm-nixl, sglang and openai pools (off at api.openai.com).
     */
    load: z.optional(
      z.union([
        z.literal(false),
        z.strictObject({ path: z.optional(z.string()), intervalMs: z.optional(positiveInt), timeoutMs: z.optional(positiveInt), maxAgeMs: z.optional(positiveInt) }),
      ]),
    ),
  })
  .check(
    z.superRefine((pool, ctx) => {
      if (pool.protocol === 'bedrock') return;
      const sources = Number(pool.endpoints !== undefined) + Number(pool.simulate !== undefined);
      if (sources !== 1) {
        ctx.addIssue({ code: 'custom', message: 'a pool needs exactly one of "endpoints" or "simulate"' });
      }
    }),
  );

const positive = z.number().check(z.positive());

const routeSchema = z.discriminatedUnion('mode', [
  z.strictObject({
    mode: z.literal('disaggregated'),
    prefill: z.string(),
    decode: z.string(),
    localPrefillBelowTokens: z._default(z.int().check(z.minimum(0)), 0),
    maxPrefillQueue: z.optional(positiveInt),
  }),
  z.strictObject({ mode: z.literal('aggregated'), pool: z.string() }),
  z.strictObject({ mode: z.literal('bedrock'), pool: z.string() }),
]);

const tierSchema = z.strictObject({
  route: routeSchema,
  /**
   * Targets per request: time to first token and mean time per output token. `maxQueueMs` is
   * the queueing a request may meet on a busy pool before the tier yields (falls back or sheds),
   * default half of `ttftMs`.
   */
  slo: z.optional(
    z.strictObject({
      ttftMs: positive,
      tpotMs: positive,
      maxQueueMs: z.optional(positive),
      /** Fraction of judged requests that must meet the SLO, defended by the burn-rate alarms (deploy only). Default: `alarms.objective`. */
      objective: z.optional(z.number().check(z.minimum(0.5), z.maximum(0.99999))),
    }),
  ),
  /**
   * The engine priority of this tier's requests, in vLLM's convention (lower is scheduled
   * first). Default: priority −10, default 0, flex 10.
   */
  enginePriority: z.optional(z.int().check(z.minimum(-1_000_000), z.maximum(1_000_000))),
  fallback: z.optional(z.enum(TIER_NAMES)),
  priceFactor: z._default(positive, 1),
  bedrock: z.optional(z.strictObject({ serviceTier: z.optional(z.string()), latency: z.optional(z.enum(['standard', 'optimized'])) })),
});

const limitsSchema = z.strictObject({
  rpm: z.optional(positiveInt),
  tpm: z.optional(positiveInt),
  monthlyTokens: z.optional(positiveInt),
});

/** What a tenant id may be (the config file and the admin CLI share it). */
export const TENANT_ID_PATTERN = /^[a-zA-Z0-9_.-]{1,64}$/;

const tenantSchema = z.strictObject({
  id: z.string().check(z.regex(TENANT_ID_PATTERN, 'tenant ids are 1-64 characters of [a-zA-Z0-9_.-]')),
  apiKeys: z.array(z.string().check(z.minLength(8))).check(z.minLength(1)),
  tiers: z.array(z.enum(TIER_NAMES)).check(z.minLength(1)),
  limits: z._default(z.partialRecord(z.enum(TIER_NAMES), limitsSchema), {}),
  disabled: z._default(z.boolean(), false),
});

const admissionSchema = z.strictObject({
  /** Counter items per (tenant, tier): spreads a hot tenant's writes; exact per shard. */
  shards: z._default(z.int().check(z.minimum(1), z.maximum(64)), 1),
  /**
   * Tenants whose requests-per-minute limit on a tier is at least this take leases: an instance
   * claims a block of the window with one conditional update and admits locally until it is spent.
   */
  leaseAboveRpm: z.optional(positiveInt),
  /** Size of a lease block as a fraction of the limits. */
  leaseFraction: z._default(z.number().check(z.positive(), z.maximum(0.5)), 0.05),
});

/** A model: the pools that serve it, and the size bound checked before any backend call (core/context-limit.ts). */
const modelSchema = z.strictObject({
  pools: z.array(z.string()).check(z.minLength(1)),
  /** The model's context length in tokens: no completion limit above it is sent on. */
  contextTokens: z._default(positiveInt, 131_072),
  /**
   * The largest prompt sent on, in the reservation's units (UTF-8 bytes of its text plus
   * template overheads). @default 8 × contextTokens
   */
  maxPromptBytes: z.optional(positiveInt),
});

/** A model's entry of the configuration. */
export type ModelConfig = z.infer<typeof modelSchema>;

/** zod schema of the whole configuration file. */
export const configSchema = z
  .strictObject({
    pools: z.record(z.string(), poolSchema),
    models: z.record(z.string(), modelSchema),
    tiers: z.partialRecord(z.enum(TIER_NAMES), tierSchema),
    tenants: z._default(z.array(tenantSchema), []),
    /** The completion limit of a request that gives none: reserved at admission and sent to the backend. */
    defaultMaxTokens: z._default(positiveInt, 1024),
    /** How admission spreads and batches its DynamoDB writes. */
    admission: z._default(admissionSchema, { shards: 1, leaseFraction: 0.05 }),
    /**
     * Deploy only: the functions' VPC and the alarms. Validated field by field at synth
     * (lib/deploy-options.ts), kept opaque here so the functions' bundles do not carry their schemas;
     * local runs ignore them.
     */
    vpc: z.optional(z.record(z.string(), z.unknown())),
    alarms: z.optional(z.record(z.string(), z.unknown())),
  })
  .check(z.superRefine((cfg, ctx) => {
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
  }));

/** A parsed, validated configuration (defaults filled in). */
export type SplitserveConfig = z.output<typeof configSchema>;
export type PoolConfig = SplitserveConfig['pools'][string];
export type TierConfig = NonNullable<SplitserveConfig['tiers'][TierName]>;
export type RouteConfig = TierConfig['route'];
export type TenantLimits = z.output<typeof limitsSchema>;
export type AdmissionConfig = SplitserveConfig['admission'];

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
