/**
 * The tier scenarios on the synthesized stack (what `npm start` serves): the gateway's Lambda
 * bundle behind the API Gateway emulator, non-streamed requests on the Step Functions executor.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startStack } from '../../../local/stack/start-stack.ts';
import { REPO_ROOT } from '../../../local/stack/synth.ts';
import { TIER_CONFIG, describeTierScenarios } from '../../contract/tier-scenarios.ts';

describeTierScenarios('synthesized stack, Step Functions executor', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'splitserve-tiers-'));
  const configPath = join(dir, 'config.json');
  await writeFile(configPath, JSON.stringify(TIER_CONFIG));
  const stack = await startStack({
    configPath,
    port: 0,
    assemblyDir: join(REPO_ROOT, '.splitserve', 'cdk.out.test-tiers'),
    retryIntervalMs: 5,
    environment: { POWERTOOLS_LOG_LEVEL: 'CRITICAL', POWERTOOLS_METRICS_DISABLED: 'true' },
  });
  return {
    url: stack.url,
    storeEndpoint: stack.storeEndpoint,
    simulators: stack.simulators,
    close: async () => {
      await stack.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
});
