/**
 * Tier → route: the route plan of a granted tier for a model, the second routing decision
 * (tier-grant.ts makes the first; the pool policies pick the endpoints). Pure, cached per config.
 */
import type { RouteConfig, SplitserveConfig, TierName } from '../core/config.ts';
import { InvalidRequestError } from '../core/errors.ts';

/** The pools a route calls, in order. */
export function routePools(route: RouteConfig): string[] {
  return route.mode === 'disaggregated' ? [route.prefill, route.decode] : [route.pool];
}

/**
 * Looks up a tier's route and checks that the model is served by every pool it uses.
 *
 * @throws InvalidRequestError when the tier is not configured or cannot serve the model
 */
export function tierRoute(config: SplitserveConfig, tier: TierName, model: string): RouteConfig {
  // A request looks its route up several times (classify, prefill, decode): the answer for a
  // config, tier and model never changes, so it is worked out once (for configured models only,
  // so the cache stays as small as the config).
  if (!Object.hasOwn(config.models, model)) return routeOrThrow(lookUpRoute(config, tier, model));
  let byTier = ROUTES.get(config);
  if (!byTier) ROUTES.set(config, (byTier = new Map()));
  let byModel = byTier.get(tier);
  if (!byModel) byTier.set(tier, (byModel = new Map()));
  let found = byModel.get(model);
  if (found === undefined) byModel.set(model, (found = lookUpRoute(config, tier, model)));
  return routeOrThrow(found);
}

function routeOrThrow(found: RouteConfig | string): RouteConfig {
  if (typeof found === 'string') throw new InvalidRequestError(found, 'service_tier');
  return found;
}

/** Known routes (or the refusal message) per config, tier and model. */
const ROUTES = new WeakMap<SplitserveConfig, Map<TierName, Map<string, RouteConfig | string>>>();

function lookUpRoute(config: SplitserveConfig, tier: TierName, model: string): RouteConfig | string {
  const route = config.tiers[tier]?.route;
  if (!route) return `The '${tier}' service tier is not available.`;
  const served = config.models[model]?.pools ?? [];
  if (routePools(route).some((p) => !served.includes(p))) return `The model '${model}' is not served at the '${tier}' service tier.`;
  return route;
}

