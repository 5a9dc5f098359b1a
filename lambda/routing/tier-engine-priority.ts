/**
 * A tier's engine priority, in vLLM's convention (lower is scheduled first): what the engines of
 * a pool receive for the tier (lambda/backends/engine-priority.ts puts it in each engine's
 * polarity) and where overload control looks for which tiers wait behind untagged requests.
 */
import type { TierConfig, TierName } from '../core/config.ts';

/** The engine priority of each tier when the tier sets none (vLLM's convention: lower first). */
export const DEFAULT_ENGINE_PRIORITY: Readonly<Record<TierName, number>> = { priority: -10, default: 0, flex: 10 };

/** A tier's engine priority in vLLM's convention (lower first). */
export function tierEnginePriority(tier: TierName, config: TierConfig | undefined): number {
  return config?.enginePriority ?? DEFAULT_ENGINE_PRIORITY[tier];
}
