/**
 * The tier scenarios on the synthesized stack (what `npm start` serves): the gateway's Lambda
 * bundle behind the API Gateway emulator, non-streamed requests on the Step Functions executor.
 */
import { TIER_CONFIG, describeTierScenarios } from '../../contract/tier-scenarios.ts';
import { startTestStack } from './fixture.ts';

describeTierScenarios('synthesized stack, Step Functions executor', async () => {
  const stack = await startTestStack({ config: TIER_CONFIG, cache: 'cdk.out.test-tiers' });
  return { url: stack.url, storeEndpoint: stack.storeEndpoint, simulators: stack.simulators, close: () => stack.close() };
});
