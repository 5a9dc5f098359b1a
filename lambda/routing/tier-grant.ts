/**
 * Classification, the first routing decision: the tier a client asked for → the tier it is
 * granted (tier-route.ts then gives that tier's route, and the pool policies its endpoints). A tenant asking for a tier
 * it is not entitled to is served at its best entitled tier (as OpenAI does), never refused.
 */
import type { TierName } from '../core/config.ts';
import type { ServiceTierValue } from '../core/request-schema.ts';

/** Tiers from best to worst. */
export const TIER_RANK: readonly TierName[] = ['priority', 'default', 'flex'];

/** Normalises the client's `service_tier` (`fast` → `priority`; absent → `auto`). */
export function normaliseTier(value: ServiceTierValue | null | undefined): TierName | 'auto' {
  if (value === undefined || value === null || value === 'auto') return 'auto';
  return value === 'fast' ? 'priority' : value;
}

/**
 * Grants a tier. `auto` means `default` when entitled, else the best entitled tier. An explicit
 * tier not entitled becomes the best entitled tier below it, or, if none is below, the closest above.
 *
 * @param asked - normalised tier asked for
 * @param entitled - tiers the tenant may use that are also configured
 * @returns the tier to serve, or undefined when the tenant has none
 * @example grantTier('priority', ['default', 'flex']) // 'default'
 */
export function grantTier(asked: TierName | 'auto', entitled: readonly TierName[]): TierName | undefined {
  const usable = TIER_RANK.filter((t) => entitled.includes(t));
  if (usable.length === 0) return undefined;
  const wanted = asked === 'auto' ? 'default' : asked;
  if (usable.includes(wanted)) return wanted;
  if (asked === 'auto') return usable[0];
  const rank = TIER_RANK.indexOf(wanted);
  return usable.find((t) => TIER_RANK.indexOf(t) > rank) ?? usable[usable.length - 1];
}
