/**
 * The stack configuration the local-stack tests share (one synth, cached under
 * .splitserve/cdk.out.test-stack, serves every file that uses it).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { LocalStack } from '../../../local/stack/start-stack.ts';
import { startStack } from '../../../local/stack/start-stack.ts';
import { REPO_ROOT } from '../../../local/stack/synth.ts';

export const KEY = 'sk-ss-test-stack-0123456789abcdef0123456789ab';
export const MODEL = 'llama-3.1-8b';

export const CONFIG = {
  pools: {
    prefill: { protocol: 'vllm-nixl', role: 'prefill', simulate: { profile: 'trainium-prefill', replicas: 1, speedup: 1000 } },
    decode: { protocol: 'vllm-nixl', role: 'decode', simulate: { profile: 'cerebras-decode', replicas: 1, speedup: 1000 } },
    gpu: { protocol: 'openai', simulate: { profile: 'gpu-aggregated', replicas: 1, speedup: 1000 } },
  },
  models: { [MODEL]: { pools: ['prefill', 'decode', 'gpu'] } },
  tiers: {
    priority: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' }, fallback: 'default' },
    default: { route: { mode: 'aggregated', pool: 'gpu' } },
  },
  tenants: [{ id: 'stack-test', apiKeys: [KEY], tiers: ['priority', 'default'] }],
};

/** What {@link startTestStack} starts, when not the shared {@link CONFIG}. */
export interface TestStackOptions {
  readonly onProgress?: (message: string) => void;
  /** @default CONFIG */
  readonly config?: object;
  /** Name of the assembly cache under .splitserve/ (one per config). @default 'cdk.out.test-stack' */
  readonly cache?: string;
  /** A store in another process (or the test's own embedded one). @default an embedded store */
  readonly storeEndpoint?: string;
}

/** Starts a test stack from a temporary copy of its config (the shared {@link CONFIG} by default); `close` removes it. */
export async function startTestStack(options: TestStackOptions = {}): Promise<LocalStack> {
  const { onProgress, config = CONFIG, cache = 'cdk.out.test-stack', storeEndpoint } = options;
  const dir = await mkdtemp(join(tmpdir(), 'splitserve-stack-'));
  const configPath = join(dir, 'config.json');
  await writeFile(configPath, JSON.stringify(config));
  const stack = await startStack({
    configPath,
    port: 0,
    // Its own cache (the config differs from npm start's); under the repository so the bundles
    // resolve the runtime-provided AWS SDK packages from node_modules, as Lambda's runtime does.
    assemblyDir: join(REPO_ROOT, '.splitserve', cache),
    retryIntervalMs: 5,
    environment: { POWERTOOLS_LOG_LEVEL: 'CRITICAL', POWERTOOLS_METRICS_DISABLED: 'true' },
    ...(onProgress ? { onProgress } : {}),
    ...(storeEndpoint ? { storeEndpoint } : {}),
  });
  return {
    ...stack,
    close: async (closeOptions) => {
      await stack.close(closeOptions);
      await rm(dir, { recursive: true, force: true });
    },
  };
}
