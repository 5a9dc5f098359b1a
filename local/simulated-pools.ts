/**
 * Starts the simulator replicas that `simulate` pools ask for and returns their endpoints.
 */
import { priorityOrderOf } from '../lambda/backends/engine-priority.ts';
import type { SplitserveConfig } from '../lambda/core/config.ts';
import { startSimulator } from '../sim/index.ts';
import type { SimulatorHandle } from '../sim/index.ts';

/** Simulators started for a config. */
export interface SimulatedPools {
  /** Pool name → endpoints of its replicas. */
  readonly endpoints: Record<string, string[]>;
  readonly handles: readonly SimulatorHandle[];
  close(): Promise<void>;
}

/** Starts every replica of every `simulate` pool on an ephemeral loopback port. */
export async function startSimulatedPools(config: SplitserveConfig): Promise<SimulatedPools> {
  const endpoints: Record<string, string[]> = {};
  const handles: SimulatorHandle[] = [];
  try {
    for (const [name, pool] of Object.entries(config.pools)) {
      const sim = pool.simulate;
      if (!sim) continue;
      endpoints[name] = [];
      for (let replica = 0; replica < sim.replicas; replica += 1) {
        const handle = await startSimulator({
          profile: sim.profile,
          speedup: sim.speedup,
          seed: (sim.seed ?? 0) + replica,
          role: pool.role === 'both' ? undefined : pool.role,
          model: Object.keys(config.models),
          ...(sim.slots !== undefined ? { slots: sim.slots } : {}),
          schedulingPolicy: sim.schedulingPolicy,
          ...(sim.prefixCacheTokens !== undefined ? { prefixCacheTokens: sim.prefixCacheTokens } : {}),
          priorityOrder: priorityOrderOf(pool),
        });
        handles.push(handle);
        endpoints[name].push(handle.url);
      }
    }
  } catch (err) {
    await Promise.all(handles.map((h) => h.close()));
    throw err;
  }
  return { endpoints, handles, close: async () => void (await Promise.all(handles.map((h) => h.close()))) };
}
