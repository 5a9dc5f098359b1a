/**
 * What the planner recommends: replica counts per pool and hardware profile, either one
 * aggregated pool or a prefill pool and a decode pool; their hourly cost; and how to run them in
 * the goodput benchmark's virtual-time cluster.
 */
import type { Deployment, DeploymentProfiles } from '../bench/goodput/cluster.ts';
import type { SimProfileName } from '../sim/profiles.ts';
import { PROFILES } from '../sim/profiles.ts';

/** A pool: a hardware profile and how many replicas of it. */
export interface Pool {
  readonly profile: SimProfileName;
  readonly count: number;
}

/** A deployment the planner can recommend. */
export type PoolPlan =
  | { readonly kind: 'aggregated'; readonly aggregated: Pool }
  | { readonly kind: 'disaggregated'; readonly prefill: Pool; readonly decode: Pool };

/** US dollars per replica-hour by profile: the profiles' prices, with any overrides. */
export type PriceTable = Readonly<Record<SimProfileName, number>>;

/** The profiles' prices (sim/profiles.ts), overridden where `overrides` names a profile. */
export function priceTable(overrides: Readonly<Partial<Record<SimProfileName, number>>> = {}): PriceTable {
  const out = {} as Record<SimProfileName, number>;
  for (const [name, p] of Object.entries(PROFILES) as [SimProfileName, (typeof PROFILES)[SimProfileName]][]) out[name] = overrides[name] ?? p.costPerHourUsd;
  return out;
}

/** Hourly cost of a plan, US dollars. */
export function planCost(plan: PoolPlan, prices: PriceTable): number {
  if (plan.kind === 'aggregated') return plan.aggregated.count * prices[plan.aggregated.profile];
  return plan.prefill.count * prices[plan.prefill.profile] + plan.decode.count * prices[plan.decode.profile];
}

/** Total replicas of a plan. */
export function planReplicas(plan: PoolPlan): number {
  return plan.kind === 'aggregated' ? plan.aggregated.count : plan.prefill.count + plan.decode.count;
}

/** `8 gpu-aggregated` or `3 trainium-prefill : 2 cerebras-decode`. */
export function describePlan(plan: PoolPlan): string {
  if (plan.kind === 'aggregated') return `${plan.aggregated.count} ${plan.aggregated.profile} (aggregated)`;
  return `${plan.prefill.count} ${plan.prefill.profile} : ${plan.decode.count} ${plan.decode.profile}`;
}

/** A stable key of a plan's pool shape (profiles, not counts). */
export function shapeOf(plan: PoolPlan): string {
  return plan.kind === 'aggregated' ? `agg:${plan.aggregated.profile}` : `pd:${plan.prefill.profile}>${plan.decode.profile}`;
}

/**
 * The benchmark cluster's deployment and profiles for a plan (always-disaggregated routing for a
 * prefill:decode plan; a GPU in both pools is GPU-only P/D, DistServe's deployment).
 */
export function toClusterRun(plan: PoolPlan): { readonly deployment: Deployment; readonly profiles: DeploymentProfiles } {
  if (plan.kind === 'aggregated') {
    const p = PROFILES[plan.aggregated.profile];
    return { deployment: { strategy: 'aggregated', gpu: plan.aggregated.count, prefill: 0, decode: 0, route: {} }, profiles: { gpu: p, prefill: p, decode: p } };
  }
  return {
    deployment: { strategy: 'disaggregated', gpu: 0, prefill: plan.prefill.count, decode: plan.decode.count, route: {} },
    profiles: { gpu: PROFILES['gpu-aggregated'], prefill: PROFILES[plan.prefill.profile], decode: PROFILES[plan.decode.profile] },
  };
}
