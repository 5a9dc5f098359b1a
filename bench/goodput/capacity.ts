/**
 * Back-of-the-envelope capacity of a deployment, from the model's timings at full batch: how the
 * benchmark sets its offered load without looking at any strategy's simulated result.
 */
import { firstTokenMs, interTokenMs } from '../../sim/model.ts';
import type { RequestKind } from '../../sim/model.ts';
import type { SimProfile } from '../../sim/profiles.ts';
import type { DeploymentProfiles } from './cluster.ts';
import { DEFAULT_PROFILES } from './cluster.ts';
import type { SimRequest } from './workloads.ts';

/** Mean slot time (ms) of `requests` on one replica of `profile` running a full batch. */
export function meanSlotMs(profile: SimProfile, kind: RequestKind, requests: readonly SimRequest[]): number {
  const itl = interTokenMs(profile, profile.maxBatch);
  let sum = 0;
  for (const r of requests) {
    const first = firstTokenMs({ profile, promptTokens: r.promptTokens, kind }).totalMs;
    sum += first + (kind === 'prefill' ? 0 : Math.max(0, r.completionTokens - 1) * itl);
  }
  return sum / Math.max(1, requests.length);
}

/**
 * Requests per second one replica of `profile` sustains at full batch. A job that computes its
 * prompt on a replica that also decodes (`aggregated`, `decode-recompute`) stalls the replica's
 * decodes while it does (replica.ts), so its prompt time is not shared by the batch: capacity =
 * 1000 / (mean prompt time + mean decode time / maxBatch).
 */
export function replicaCapacity(profile: SimProfile, kind: RequestKind, requests: readonly SimRequest[]): number {
  if (kind !== 'aggregated' && kind !== 'decode-recompute') return (profile.maxBatch * 1000) / meanSlotMs(profile, kind, requests);
  let first = 0;
  for (const r of requests) first += firstTokenMs({ profile, promptTokens: r.promptTokens, kind }).totalMs;
  first /= Math.max(1, requests.length);
  const decode = meanSlotMs(profile, kind, requests) - first;
  return 1000 / (first + decode / profile.maxBatch);
}

/**
 * Capacity (req/s) of `units` replicas split at the best prefill/decode ratio for always-
 * disaggregated serving: max over p of min(p × prefill capacity, (units − p) × decode capacity).
 */
export function disaggregatedCapacity(units: number, requests: readonly SimRequest[], profiles: DeploymentProfiles = DEFAULT_PROFILES): number {
  const pre = replicaCapacity(profiles.prefill, 'prefill', requests);
  const dec = replicaCapacity(profiles.decode, 'decode-remote', requests);
  let best = 0;
  for (let p = 1; p < units; p++) best = Math.max(best, Math.min(p * pre, (units - p) * dec));
  return best;
}
