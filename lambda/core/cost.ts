/**
 * The price of a request: cost units = tokens (prompt + completion) × the `priceFactor` of the
 * tier that served it, rounded up to a whole unit. A request moved to a fallback tier is billed
 * at the tier that served it. Monthly budgets (`monthlyTokens`) count cost units, so with every
 * `priceFactor` at its default of 1 a budget is a token budget, as before; requests-per-minute and
 * tokens-per-minute limits count requests and tokens, whatever the price.
 */
import { TIER_NAMES, type SplitserveConfig, type TierName } from './config.ts';

/** A tier's price factor (1 when the tier is not configured). */
export function priceFactorOf(config: SplitserveConfig, tier: TierName): number {
  return config.tiers[tier]?.priceFactor ?? 1;
}

/**
 * Cost units of `tokens` at `priceFactor`: ⌈tokens × priceFactor⌉ (a request is never billed
 * less than its tokens are worth; the rounding adds less than one unit per request).
 *
 * @example
 * costUnits(301, 1.5); // 452
 */
export function costUnits(tokens: number, priceFactor: number): number {
  if (tokens <= 0) return 0;
  // Cancels floating-point noise (0.1 × 3 = 0.30000000000000004) before rounding up.
  return Math.ceil(Math.round(tokens * priceFactor * 1e6) / 1e6);
}

/**
 * The price factor a request's reservation is made at: the highest of its tier and of every tier
 * it may be moved to (the `fallback` chain, which overload placement and failure fallback
 * follow), so that a request served on a dearer tier still costs no more than it reserved.
 *
 * @example
 * // priority (2) falls back to default (1): reserved at 2; default alone: at 1
 * reservePriceFactor(config, 'priority'); // 2
 */
export function reservePriceFactor(config: SplitserveConfig, tier: TierName): number {
  let factor = priceFactorOf(config, tier);
  // At most one step per tier: a chain longer than that has come round a cycle, and a tier seen
  // again changes no maximum. No set to allocate on the request path.
  let next = config.tiers[tier]?.fallback;
  for (let steps = 0; next && steps < TIER_NAMES.length; steps += 1) {
    factor = Math.max(factor, priceFactorOf(config, next));
    next = config.tiers[next]?.fallback;
  }
  return factor;
}
