/**
 * The splitserve configuration file (docs/configuration.md): pools, models, tiers and, for local
 * runs only, tenants. Parsed once at start-up (or at synth time) with zod; a bad file fails with a
 * message that names the bad field.
 */
import { isIP } from 'node:net';
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
  /** Prefix-cache capacity per replica, in tokens (0 or absent: no prefix cache). */
  prefixCacheTokens: z.optional(z.int().check(z.minimum(0), z.maximum(100_000_000))),
});

/** Where a pool's upstream credential is read: Secrets Manager, SSM Parameter Store, or (local runs only) an environment variable. */
export const CREDENTIAL_SOURCES = ['secretArn', 'parameter', 'env'] as const;
/** One of {@link CREDENTIAL_SOURCES}. */
export type CredentialSourceName = (typeof CREDENTIAL_SOURCES)[number];

/**
 * A secret's complete ARN, as Secrets Manager shows it (the name, then `-` and six random
 * characters): the IAM grant names exactly this secret, which a partial ARN cannot do.
 */
export const SECRET_ARN_PATTERN = /^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:\d{12}:secret:[A-Za-z0-9/_+=.@-]+-[A-Za-z0-9]{6}$/;
/** An SSM parameter's ARN (`arn:aws:ssm:<region>:<account>:parameter/<name>`). */
export const PARAMETER_ARN_PATTERN = /^arn:aws[a-z-]*:ssm:[a-z0-9-]+:\d{12}:parameter\/[A-Za-z0-9_.\-/]{1,2048}$/;
/** An SSM parameter's name (`/prod/vllm-key` or `vllm-key`). */
export const PARAMETER_NAME_PATTERN = /^\/?[A-Za-z0-9_.-]+(\/[A-Za-z0-9_.-]+)*$/;
/** A KMS key's ARN (`arn:aws:kms:<region>:<account>:key/<id>`); an alias cannot be granted on. */
export const KMS_KEY_ARN_PATTERN = /^arn:aws[a-z-]*:kms:[a-z0-9-]+:\d{12}:key\/[A-Za-z0-9-]+$/;
/** An environment variable name; `AWS_*` names are refused (the functions' own AWS credentials live there). */
export const ENV_NAME_PATTERN = /^(?!AWS_)[A-Za-z_][A-Za-z0-9_]{0,127}$/;
/** An HTTP header name (a token, RFC 9110). */
export const HEADER_NAME_PATTERN = /^[A-Za-z0-9!#$%&'*+.^_`|~-]{1,64}$/;
/** Headers the gateway sets itself on every upstream call, which a credential may not replace. */
export const RESERVED_HEADERS: ReadonlySet<string> = new Set(['host', 'content-type', 'content-length', 'x-request-id', 'connection', 'transfer-encoding']);

/** How long a credential read from its source is used before it is read again, by default (5 minutes). */
export const DEFAULT_CREDENTIAL_CACHE_MS = 300_000;

/** zod schema of a pool's `auth` (its fields are documented in docs/configuration.md). */
export const poolAuthSchema = z
  .strictObject({
    /** A Secrets Manager secret (its complete ARN); its `SecretString` is the credential. */
    secretArn: z.optional(z.string().check(z.regex(SECRET_ARN_PATTERN, 'expected the secret\'s complete ARN, arn:aws:secretsmanager:<region>:<account>:secret:<name>-<6 characters>'))),
    /** With `secretArn`: the secret is a JSON object and the credential is this field of it. */
    jsonKey: z.optional(z.string().check(z.minLength(1), z.maxLength(256))),
    /** An SSM parameter (SecureString or String), by name or ARN; read with decryption. */
    parameter: z.optional(
      z.string().check(
        z.maxLength(2100),
        z.refine((v) => PARAMETER_NAME_PATTERN.test(v) || PARAMETER_ARN_PATTERN.test(v), 'expected a parameter name (/prod/vllm-key) or its ARN'),
      ),
    ),
    /** Local runs only: the credential is this environment variable of the gateway's process. */
    env: z.optional(z.string().check(z.regex(ENV_NAME_PATTERN, 'expected an environment variable name (letters, digits, _; not AWS_*)'))),
    /** The customer-managed KMS key that encrypts the secret or parameter, when it is not the AWS-managed one: the functions get kms:Decrypt on it. */
    kmsKeyArn: z.optional(z.string().check(z.regex(KMS_KEY_ARN_PATTERN, 'expected a KMS key ARN, arn:aws:kms:<region>:<account>:key/<id>'))),
    /** The header the credential is sent in: `authorization` (`Bearer <value>`), or any other name with the raw value (e.g. `x-api-key`). */
    header: z._default(z.string().check(z.regex(HEADER_NAME_PATTERN, 'expected an HTTP header name')), 'authorization'),
    /** How long a value read from the source is used (ms); refreshed in the background before that. */
    cacheMs: z._default(z.int().check(z.minimum(1000), z.maximum(3_600_000)), DEFAULT_CREDENTIAL_CACHE_MS),
  })
  .check(
    z.superRefine((auth, ctx) => {
      const named = CREDENTIAL_SOURCES.filter((source) => auth[source] !== undefined);
      if (named.length !== 1) {
        ctx.addIssue({ code: 'custom', message: `needs exactly one of "secretArn", "parameter" or "env"${named.length > 1 ? ` (has ${named.join(', ')})` : ''}` });
      }
      if (auth.jsonKey !== undefined && auth.secretArn === undefined) ctx.addIssue({ code: 'custom', path: ['jsonKey'], message: '"jsonKey" goes with "secretArn" only' });
      if (auth.kmsKeyArn !== undefined && auth.env !== undefined) ctx.addIssue({ code: 'custom', path: ['kmsKeyArn'], message: '"kmsKeyArn" goes with "secretArn" or "parameter" only' });
      if (RESERVED_HEADERS.has(auth.header.toLowerCase())) ctx.addIssue({ code: 'custom', path: ['header'], message: `"${auth.header}" is set by the gateway itself` });
    }),
  );

/** A pool's `auth` settings, defaults filled in. */
export type PoolAuth = z.output<typeof poolAuthSchema>;

/** zod schema of the workers' shared secret, `workers.secret` (its fields are documented in docs/configuration.md). */
export const workerSecretSchema = z
  .strictObject({
    /** A Secrets Manager secret (its complete ARN); its `SecretString` is the shared secret. */
    secretArn: poolAuthSchema.shape.secretArn,
    /** With `secretArn`: the secret is a JSON object and the shared secret is this field of it. */
    jsonKey: poolAuthSchema.shape.jsonKey,
    /** An SSM parameter (SecureString or String), by name or ARN; read with decryption. */
    parameter: poolAuthSchema.shape.parameter,
    /** Local runs only: the shared secret is this environment variable of the gateway's process. */
    env: poolAuthSchema.shape.env,
    /** The customer-managed KMS key that encrypts the secret or parameter, when it is not the AWS-managed one. */
    kmsKeyArn: poolAuthSchema.shape.kmsKeyArn,
    /** How long a value read from the source is used (ms): a rotated secret is accepted after at most this. */
    cacheMs: z._default(z.int().check(z.minimum(1000), z.maximum(3_600_000)), DEFAULT_CREDENTIAL_CACHE_MS),
  })
  .check(
    z.superRefine((secret, ctx) => {
      const named = CREDENTIAL_SOURCES.filter((source) => secret[source] !== undefined);
      if (named.length !== 1) {
        ctx.addIssue({ code: 'custom', message: `needs exactly one of "secretArn", "parameter" or "env"${named.length > 1 ? ` (has ${named.join(', ')})` : ''}` });
      }
      if (secret.jsonKey !== undefined && secret.secretArn === undefined) ctx.addIssue({ code: 'custom', path: ['jsonKey'], message: '"jsonKey" goes with "secretArn" only' });
      if (secret.kmsKeyArn !== undefined && secret.env !== undefined) ctx.addIssue({ code: 'custom', path: ['kmsKeyArn'], message: '"kmsKeyArn" goes with "secretArn" or "parameter" only' });
    }),
  );

/** The workers' shared secret settings, defaults filled in. */
export type WorkerSecret = z.output<typeof workerSecretSchema>;

/** Default heartbeat TTL (s) of a registered worker. */
export const DEFAULT_HEARTBEAT_TTL_S = 30;
/** Default interval (ms) at which a gateway instance reads a pool's registered workers again. */
export const DEFAULT_REGISTRATION_REFRESH_MS = 5000;

/**
 * Whether `entry` may be in a pool's `registration.allowedHosts`: a CIDR block (`10.0.0.0/16`,
 * `fd00::/8`), an IP address, a host name (`gpu-1.pools.example.com`) or every name under a domain
 * (`*.pools.example.com`).
 *
 * @example
 * isAllowedHostEntry('10.0.8.0/22'); // true
 * isAllowedHostEntry('10.0.0.0/33'); // false
 */
export function isAllowedHostEntry(entry: string): boolean {
  if (/^(?:\*\.)?[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?)*$/i.test(entry) && !/^[\d.]+$/.test(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  const bits = Number(prefix);
  return /^\d{1,3}$/.test(prefix) && bits <= (family === 4 ? 32 : 128);
}

/** zod schema of a pool's `registration` (workers that register themselves; docs/worker-registration.md). */
export const registrationSchema = z.strictObject({
  /** How long (s) a registration lasts without a heartbeat (a worker re-registers well within it). */
  heartbeatTtlS: z._default(z.int().check(z.minimum(5), z.maximum(86_400)), DEFAULT_HEARTBEAT_TTL_S),
  /** How often (ms) each gateway instance reads the pool's registered workers again: the discovery bound. */
  refreshMs: z._default(z.int().check(z.minimum(100), z.maximum(300_000)), DEFAULT_REGISTRATION_REFRESH_MS),
  /** How long (s) a deregistered worker stays listed as draining. Default: the pool's `timeoutMs`, rounded up. */
  drainS: z.optional(z.int().check(z.minimum(1), z.maximum(86_400))),
  /**
   * The hosts a worker may register at (CIDR blocks, addresses, names, `*.domain`); any host when
   * absent. A pool's calls carry its credential and the clients' prompts, so name where workers run.
   */
  allowedHosts: z.optional(
    z.array(z.string().check(z.maxLength(253), z.refine(isAllowedHostEntry, 'expected a CIDR block (10.0.0.0/16), an address, a host name or *.domain'))).check(z.minLength(1), z.maxLength(64)),
  ),
});

/** A pool's `registration` settings, defaults filled in. */
export type RegistrationConfig = z.output<typeof registrationSchema>;

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
    /**
     * Prefix-cache affinity (off when absent): a request's routing key (its session, else the hash
     * of its prompt's opening) picks its endpoint by rendezvous hashing, unless that endpoint's
     * load exceeds `loadFactor` (default 1.25) × the pool's average; requests without a key use `policy`.
     */
    affinity: z.optional(z.strictObject({ loadFactor: z.optional(z.number().check(z.gte(1), z.lte(10))) })),
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
    /**
     * The credential every call to this pool's endpoints carries (completions, health checks,
     * load polls): exactly one of `secretArn`, `parameter` or `env`. Never the client's own key.
     */
    auth: z.optional(poolAuthSchema),
    /**
     * Workers may register themselves into this pool (admin CLI or `POST /v1/workers/register`),
     * beside its static `endpoints`, which it may then omit.
     */
    registration: z.optional(registrationSchema),
  })
  .check(
    z.superRefine((pool, ctx) => {
      if (pool.protocol === 'bedrock') {
        if (pool.auth) ctx.addIssue({ code: 'custom', path: ['auth'], message: 'Bedrock pools are called with the functions\' IAM role; remove "auth"' });
        if (pool.registration) ctx.addIssue({ code: 'custom', path: ['registration'], message: 'Bedrock pools have no workers to register; remove "registration"' });
        return;
      }
      if (pool.auth && pool.registration && pool.registration.allowedHosts === undefined) {
        // Whoever holds the workers' secret could otherwise register a host of their own and
        // receive this pool's credential with every call.
        ctx.addIssue({ code: 'custom', path: ['registration', 'allowedHosts'], message: 'a pool with "auth" that takes registrations must name where workers may be ("allowedHosts"), so its credential goes only there' });
      }
      const sources = Number(pool.endpoints !== undefined) + Number(pool.simulate !== undefined);
      if (sources > 1 || (sources === 0 && !pool.registration)) {
        ctx.addIssue({ code: 'custom', message: 'a pool needs exactly one of "endpoints" or "simulate" (or "registration" alone)' });
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
    /** Workers that register themselves over HTTP (`POST /v1/workers/register`): the shared secret they send. */
    workers: z.optional(z.strictObject({ secret: workerSecretSchema })),
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
