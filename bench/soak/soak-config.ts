/**
 * The gateway config of `npm run soak`: a disaggregated `priority` tier (vLLM NIXL prefill →
 * decode simulators) falling back to an aggregated `default` tier (one GPU simulator), pool
 * timeouts short enough that injected stalls hit them, and four tenants: three with limits
 * (requests/minute, tokens/minute, a monthly budget) and one unlimited. The keys are local-only
 * test keys, written into a temporary config file and never printed.
 */

/** The simulators the soak starts, by the role they play in its config. */
export const SOAK_SIMS = { prefill: 'trainium-prefill', decode: 'cerebras-decode', gpu: 'gpu-aggregated' } as const;
/** A simulator's role in the soak config. */
export type SoakSim = keyof typeof SOAK_SIMS;

/** Per-call timeout of every pool (ms): injected stalls are longer, so they hit it. */
export const POOL_TIMEOUT_MS = 2_000;

/** The model every request asks for. */
export const SOAK_MODEL = 'llama-3.1-8b';

/** The soak's tenants. */
export const SOAK_TENANTS = ['acme', 'globex', 'initech', 'hooli'] as const;
/** A tenant of the soak. */
export type SoakTenant = (typeof SOAK_TENANTS)[number];

/** Share of the arrivals each tenant sends (sums to 1). */
export const TENANT_SHARES: Readonly<Record<SoakTenant, number>> = { acme: 0.35, globex: 0.2, initech: 0.3, hooli: 0.15 };

/**
 * Names of the keys the load uses. `created` is made by the admin CLI during the run; the others
 * are in the config. Admin changes (admin-changes.ts): `acme-a` is revoked, `hooli` disabled
 * (its tenant), `globex`'s default-tier limit lowered.
 */
export const KEY_NAMES = ['acme-a', 'acme-b', 'globex', 'initech', 'initech-created', 'hooli'] as const;
/** A key name of the soak. */
export type KeyName = (typeof KEY_NAMES)[number];

/** The configured keys (local test keys: 32 hex characters after the name). */
export const CONFIG_KEYS: Readonly<Record<Exclude<KeyName, 'initech-created'>, string>> = {
  'acme-a': 'sk-ss-soak-acme-a-4f1c2e9a7b3d5f60818293a4b5c6d7e8',
  'acme-b': 'sk-ss-soak-acme-b-9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b',
  globex: 'sk-ss-soak-globex-0a1b2c3d4e5f60718293a4b5c6d7e8f9',
  initech: 'sk-ss-soak-initech-f0e1d2c3b4a5968778695a4b3c2d1e0f',
  hooli: 'sk-ss-soak-hooli-13579bdf02468ace13579bdf02468ace',
};

/** The tenant of each key. */
export const KEY_TENANT: Readonly<Record<KeyName, SoakTenant>> = {
  'acme-a': 'acme',
  'acme-b': 'acme',
  globex: 'globex',
  initech: 'initech',
  'initech-created': 'initech',
  hooli: 'hooli',
};

/** Limits far above the soak's load (they are checked on every request, never hit). */
const ROOMY = { rpm: 1_000_000, tpm: 100_000_000 } as const;

/** globex's default-tier limit after the admin lowers it: well under its share of the load. */
export const LOWERED_GLOBEX_RPM = 30;

/**
 * The config file's content for simulators at `urls`.
 *
 * @example
 * writeFileSync(file, JSON.stringify(soakConfig({ prefill: 'http://127.0.0.1:9001', decode: '…', gpu: '…' })));
 */
export function soakConfig(urls: Readonly<Record<SoakSim, string>>): object {
  const pool = (protocol: string, role: string, url: string): object => ({
    protocol,
    role,
    endpoints: [url],
    timeoutMs: POOL_TIMEOUT_MS,
    breaker: { failures: 5, coolDownMs: 2_000 },
  });
  return {
    pools: {
      prefill: pool('vllm-nixl', 'prefill', urls.prefill),
      decode: pool('vllm-nixl', 'decode', urls.decode),
      gpu: pool('openai', 'both', urls.gpu),
    },
    models: { [SOAK_MODEL]: { pools: ['prefill', 'decode', 'gpu'] } },
    tiers: {
      priority: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' }, slo: { ttftMs: 500, tpotMs: 20 }, fallback: 'default', priceFactor: 2 },
      default: { route: { mode: 'aggregated', pool: 'gpu' }, slo: { ttftMs: 2_000, tpotMs: 100 } },
    },
    defaultMaxTokens: 64,
    tenants: [
      { id: 'acme', apiKeys: [CONFIG_KEYS['acme-a'], CONFIG_KEYS['acme-b']], tiers: ['priority', 'default'], limits: { priority: ROOMY, default: { ...ROOMY, monthlyTokens: 1_000_000_000 } } },
      { id: 'globex', apiKeys: [CONFIG_KEYS.globex], tiers: ['default'], limits: { default: ROOMY } },
      { id: 'initech', apiKeys: [CONFIG_KEYS.initech], tiers: ['priority', 'default'] },
      { id: 'hooli', apiKeys: [CONFIG_KEYS.hooli], tiers: ['default'], limits: { default: { ...ROOMY, monthlyTokens: 1_000_000_000 } } },
    ],
  };
}
