import { describe, expect, it } from 'vitest';
import type { SplitserveConfig } from '../../lambda/core/config.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { DEFAULT_ENGINE_PRIORITY, tierEnginePriority } from '../../lambda/routing/tier-engine-priority.ts';

/** One vLLM pool named `p` and the given tiers, parsed. */
function config(pool: Record<string, unknown>, tiers: Record<string, unknown>): SplitserveConfig {
  return parseConfig({ pools: { p: pool }, models: { m: { pools: ['p'] } }, tiers });
}

const LOCAL = ['http://127.0.0.1:8000'];

describe('tierEnginePriority', () => {
  it('defaults to priority -10, default 0, flex 10', () => {
    expect(DEFAULT_ENGINE_PRIORITY).toEqual({ priority: -10, default: 0, flex: 10 });
    expect(tierEnginePriority('priority', undefined)).toBe(-10);
    expect(tierEnginePriority('default', undefined)).toBe(0);
    expect(tierEnginePriority('flex', undefined)).toBe(10);
  });

  it('takes the defaults for a configured tier that sets no enginePriority', () => {
    const tiers = config({ protocol: 'vllm-nixl', endpoints: LOCAL }, { flex: { route: { mode: 'aggregated', pool: 'p' } } }).tiers;
    expect(tierEnginePriority('flex', tiers.flex)).toBe(10);
  });

  it("uses a tier's enginePriority over the default, 0 included", () => {
    const tiers = config({ protocol: 'vllm-nixl', endpoints: LOCAL }, {
      priority: { route: { mode: 'aggregated', pool: 'p' }, enginePriority: -100 },
      flex: { route: { mode: 'aggregated', pool: 'p' }, enginePriority: 0 },
    }).tiers;
    expect(tierEnginePriority('priority', tiers.priority)).toBe(-100);
    expect(tierEnginePriority('flex', tiers.flex)).toBe(0);
  });
});
