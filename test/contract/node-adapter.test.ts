/**
 * The gateway contract against the local Node HTTP adapter (what `npm start` serves).
 */
import { startLocal } from '../../local/start-local.ts';
import { describeGatewayContract } from './gateway-contract.ts';
import { silentLogger } from '../helpers/silent-logger.ts';

describeGatewayContract('node http adapter', async (config) => {
  const local = await startLocal({ config, port: 0, logger: silentLogger });
  return { url: local.url, close: () => local.close() };
});
