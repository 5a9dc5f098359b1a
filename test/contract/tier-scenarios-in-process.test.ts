/**
 * The tier scenarios on the gateway core over the Node adapter (what `npm start -- --runtime node`
 * serves): streamed and non-streamed requests on the in-process executor.
 */
import { parseConfig } from '../../lambda/core/config.ts';
import { startLocal } from '../../local/start-local.ts';
import { silentLogger } from '../helpers/silent-logger.ts';
import { TIER_CONFIG, describeTierScenarios } from './tier-scenarios.ts';

describeTierScenarios('node http adapter, in-process executor', async () => {
  const local = await startLocal({ config: parseConfig(TIER_CONFIG), port: 0, logger: silentLogger });
  return { url: local.url, storeEndpoint: local.storeEndpoint, simulators: local.simulators, close: () => local.close() };
});
