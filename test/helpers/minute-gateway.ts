/**
 * A local gateway in front of one aggregated simulator pool, `gpu`, whose admission clock has
 * just entered a new minute: a test's per-minute windows (RPM, TPM) then stay in one minute.
 */
import { parseConfig } from '../../lambda/core/config.ts';
import type { LocalGateway } from '../../local/start-local.ts';
import { startLocal } from '../../local/start-local.ts';
import { startSimulator } from '../../sim/index.ts';
import type { SimulatorHandle, SimulatorOptions } from '../../sim/index.ts';
import { silentLogger } from './silent-logger.ts';

/** The simulator, the gateway and the gateway's clock (one second into a minute when started). */
export interface MinuteGateway {
  readonly gpu: SimulatorHandle;
  readonly local: LocalGateway;
  readonly now: () => number;
}

/**
 * Starts a simulator (`simulator`: its options) and a gateway whose config is `config` plus the
 * pool `gpu` (that simulator, OpenAI protocol) serving `model`. The caller closes both.
 *
 * @example
 * ({ gpu, local, now } = await startMinuteGateway(MODEL, { schedulingPolicy: 'priority', profile: 'gpu-aggregated', speedup: 1000 }, {
 *   tiers: { default: { route: { mode: 'aggregated', pool: 'gpu' } } },
 *   tenants: [{ id: 'rpm', apiKeys: [KEY], tiers: ['default'], limits: { default: { rpm: 50 } } }],
 * }));
 */
export async function startMinuteGateway(model: string, simulator: SimulatorOptions, config: Record<string, unknown>): Promise<MinuteGateway> {
  const gpu = await startSimulator(simulator);
  const offset = 1000 - (Date.now() % 60_000);
  const now = () => Date.now() + offset;
  try {
    const local = await startLocal({
      port: 0,
      logger: silentLogger,
      now,
      config: parseConfig({ pools: { gpu: { protocol: 'openai', endpoints: [gpu.url] } }, models: { [model]: { pools: ['gpu'] } }, ...config }),
    });
    return { gpu, local, now };
  } catch (err) {
    await gpu.close();
    throw err;
  }
}
