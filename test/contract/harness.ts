/**
 * Shared set-up of the gateway contract suite: three simulators on loopback ports (Trainium-style
 * prefill, Cerebras-style decode, a GPU aggregated pool), a config over them, and two tenants.
 */
import type { SplitserveConfig } from '../../lambda/core/config.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import type { SimulatorHandle } from '../../sim/index.ts';
import { startSimulator } from '../../sim/index.ts';

/** Key of tenant `acme` (priority + default). */
export const ACME_KEY = 'sk-ss-test-acme-0123456789abcdef0123456789';
/** Key of tenant `basic` (default only). */
export const BASIC_KEY = 'sk-ss-test-basic-0123456789abcdef012345678';
export const MODEL = 'llama-3.1-8b';

/** The simulators behind the pools. */
export interface Backends {
  readonly prefill: SimulatorHandle;
  readonly decode: SimulatorHandle;
  readonly gpu: SimulatorHandle;
  close(): Promise<void>;
}

/** Starts the three simulators (real time: the figures are small enough for tests). */
export async function startBackends(): Promise<Backends> {
  const [prefill, decode, gpu] = await Promise.all([
    startSimulator({ schedulingPolicy: 'priority', profile: 'trainium-prefill', role: 'prefill', seed: 1, speedup: 4 }),
    startSimulator({ schedulingPolicy: 'priority', profile: 'cerebras-decode', role: 'decode', seed: 2, speedup: 1 }),
    startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', seed: 3, speedup: 20 }),
  ]);
  return {
    prefill: prefill!,
    decode: decode!,
    gpu: gpu!,
    close: async () => void (await Promise.all([prefill!.close(), decode!.close(), gpu!.close()])),
  };
}

/** The config of the contract suite: priority = disaggregated, falling back to default = aggregated. */
export function contractConfig(backends: Backends): SplitserveConfig {
  return parseConfig({
    pools: {
      'trn-prefill': { protocol: 'vllm-nixl', role: 'prefill', endpoints: [backends.prefill.url], timeoutMs: 10_000 },
      'cs3-decode': { protocol: 'vllm-nixl', role: 'decode', endpoints: [backends.decode.url], timeoutMs: 10_000 },
      gpu: { protocol: 'openai', endpoints: [backends.gpu.url], timeoutMs: 10_000 },
    },
    models: { [MODEL]: { pools: ['trn-prefill', 'cs3-decode', 'gpu'] } },
    tiers: {
      priority: { route: { mode: 'disaggregated', prefill: 'trn-prefill', decode: 'cs3-decode' }, fallback: 'default' },
      default: { route: { mode: 'aggregated', pool: 'gpu' } },
    },
    tenants: [
      { id: 'acme', apiKeys: [ACME_KEY], tiers: ['priority', 'default'] },
      { id: 'basic', apiKeys: [BASIC_KEY], tiers: ['default'] },
    ],
  });
}

/** Waits until `check` holds, polling; fails after `timeoutMs`. */
export async function eventually(check: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 20));
  }
}
