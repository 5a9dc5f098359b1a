/**
 * The plan scenarios on the in-process executor (the gateway core over the Node adapter).
 */
import { parseConfig } from '../../lambda/core/config.ts';
import { startLocal } from '../../local/start-local.ts';
import { startSimulator } from '../../sim/index.ts';
import { CONFIG, KEY, MODEL } from '../local/stack/fixture.ts';
import { silentLogger } from '../helpers/silent-logger.ts';
import { describePlanScenarios } from './plan-scenarios.ts';

describePlanScenarios('in-process', async () => {
  const sims = {
    prefill: await startSimulator({ schedulingPolicy: 'priority', profile: 'trainium-prefill', role: 'prefill', speedup: 1000 }),
    decode: await startSimulator({ schedulingPolicy: 'priority', profile: 'cerebras-decode', role: 'decode', speedup: 1000 }),
    gpu: await startSimulator({ schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 1000 }),
  };
  const pools = Object.fromEntries(
    Object.entries(CONFIG.pools).map(([name, { simulate: _simulated, ...pool }]) => [name, { ...pool, endpoints: [sims[name as keyof typeof sims].url] }]),
  );
  const local = await startLocal({ config: parseConfig({ ...CONFIG, pools }), port: 0, logger: silentLogger });
  return {
    url: local.url,
    apiKey: KEY,
    model: MODEL,
    setFaults: (pool, faults) => sims[pool].setFaults(faults),
    close: async () => {
      await local.close();
      await Promise.all(Object.values(sims).map((s) => s.close()));
    },
  };
});
