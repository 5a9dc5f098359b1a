/**
 * The plan scenarios on the Step Functions executor: the synthesized state machine run locally
 * behind the gateway's Lambda bundle (what `npm start` serves).
 */
import { describePlanScenarios } from '../../contract/plan-scenarios.ts';
import { KEY, MODEL, startTestStack } from './fixture.ts';

describePlanScenarios('step-functions', async () => {
  const stack = await startTestStack();
  return { url: stack.url, apiKey: KEY, model: MODEL, setFaults: (pool, faults) => stack.setFaults(pool, faults), close: () => stack.close() };
});
