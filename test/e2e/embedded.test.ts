/**
 * The end-to-end suite against the embedded runtime: the synthesized stack executed locally
 * (what `npm start` runs), on simulated pools.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../../local/stack/start-stack.ts';
import { REPO_ROOT } from '../../local/stack/synth.ts';
import { describeE2E } from './e2e-suite.ts';

const KEY = 'sk-ss-test-e2e-0123456789abcdef0123456789abcd';
const MODEL = 'llama-3.1-8b';

describeE2E('embedded runtime', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'splitserve-e2e-'));
  const configPath = join(dir, 'config.json');
  await writeFile(
    configPath,
    JSON.stringify({
      pools: {
        prefill: { protocol: 'vllm-nixl', role: 'prefill', simulate: { profile: 'trainium-prefill', speedup: 100 } },
        decode: { protocol: 'vllm-nixl', role: 'decode', simulate: { profile: 'cerebras-decode', speedup: 100 } },
        gpu: { protocol: 'openai', simulate: { profile: 'gpu-aggregated', speedup: 100 } },
      },
      models: { [MODEL]: { pools: ['prefill', 'decode', 'gpu'] } },
      tiers: {
        priority: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' }, fallback: 'default' },
        default: { route: { mode: 'aggregated', pool: 'gpu' } },
      },
      tenants: [{ id: 'e2e', apiKeys: [KEY], tiers: ['priority', 'default'] }],
    }),
  );
  const stack = await startStack({
    configPath,
    port: 0,
    assemblyDir: join(REPO_ROOT, '.splitserve', 'cdk.out.e2e'),
    environment: { POWERTOOLS_LOG_LEVEL: 'CRITICAL', POWERTOOLS_METRICS_DISABLED: 'true' },
  });
  return {
    url: stack.url,
    apiKey: KEY,
    model: MODEL,
    close: async () => {
      await stack.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
