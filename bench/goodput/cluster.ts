/**
 * A deployment of replicas under one serving strategy, run over a list of requests in virtual
 * time: arrivals and replica wake-ups on one event queue, no timers, no HTTP. Conditional
 * disaggregation asks the gateway's own decision function (lambda/routing/conditional-
 * disaggregation.ts) with the prefill pool's calls in flight, as the gateway would count them.
 */
import type { ConditionalRoute, PrefillDecision } from '../../lambda/routing/conditional-disaggregation.ts';
import { PREFILL_DECISIONS, decidePrefill } from '../../lambda/routing/conditional-disaggregation.ts';
import type { SimProfile } from '../../sim/profiles.ts';
import { PROFILES } from '../../sim/profiles.ts';
import { ReplicaWakeups } from './replica-wakeups.ts';
import type { ReplicaEvent, ReplicaJob } from './replica.ts';
import { Replica } from './replica.ts';
import type { SimRequest } from './workloads.ts';

/** The three serving strategies compared. */
export const STRATEGIES = ['aggregated', 'disaggregated', 'conditional'] as const;
export type StrategyName = (typeof STRATEGIES)[number];

/** Replica counts and route of one deployment. */
export interface Deployment {
  readonly strategy: StrategyName;
  /** Aggregated GPU replicas (`aggregated` only). */
  readonly gpu: number;
  /** Prefill replicas (`disaggregated`, `conditional`). */
  readonly prefill: number;
  /** Decode replicas (`disaggregated`, `conditional`). */
  readonly decode: number;
  /** The route's conditional fields; `{}` always disaggregates. */
  readonly route: ConditionalRoute;
}

/** The hardware profiles a deployment runs on. */
export interface DeploymentProfiles {
  readonly gpu: SimProfile;
  readonly prefill: SimProfile;
  readonly decode: SimProfile;
}

/** The simulator's cited profiles: GPU aggregated, Trainium prefill, Cerebras decode. */
export const DEFAULT_PROFILES: DeploymentProfiles = {
  gpu: PROFILES['gpu-aggregated'],
  prefill: PROFILES['trainium-prefill'],
  decode: PROFILES['cerebras-decode'],
};

/** How one request went, virtual milliseconds. */
export interface RequestOutcome {
  readonly request: SimRequest;
  /** `aggregated`, or the conditional decision (`disaggregated`, `local-prefill-*`). */
  readonly route: PrefillDecision | 'aggregated';
  readonly ttftMs: number;
  /** Mean time per output token after the first ((end − first token) / (tokens − 1)); 0 for one token. */
  readonly tpotMs: number;
  readonly e2eMs: number;
}

interface Pending {
  readonly request: SimRequest;
  route: RequestOutcome['route'];
  firstTokenAt: number;
}

/** The replica with the fewest calls in flight (lowest index on ties). */
function leastOutstanding(pool: readonly Replica[]): Replica {
  let best = pool[0]!;
  for (const r of pool) if (r.outstanding < best.outstanding) best = r;
  return best;
}

/**
 * Runs `requests` (sorted by arrival) through `deployment` until every request has finished.
 *
 * @example
 * const outcomes = runDeployment({ strategy: 'aggregated', gpu: 1, prefill: 0, decode: 0, route: {} }, requests);
 */
export function runDeployment(deployment: Deployment, requests: readonly SimRequest[], profiles: DeploymentProfiles = DEFAULT_PROFILES): RequestOutcome[] {
  let nextId = 0;
  const make = (profile: SimProfile, n: number) => Array.from({ length: n }, () => new Replica(profile, nextId++));
  const aggregated = deployment.strategy === 'aggregated';
  const gpu = make(profiles.gpu, aggregated ? deployment.gpu : 0);
  const prefill = make(profiles.prefill, aggregated ? 0 : deployment.prefill);
  const decode = make(profiles.decode, aggregated ? 0 : deployment.decode);
  if (aggregated ? gpu.length === 0 : prefill.length === 0 || decode.length === 0) {
    throw new RangeError(`deployment needs replicas: ${JSON.stringify(deployment)}`);
  }
  const route = deployment.strategy === 'conditional' ? deployment.route : {};
  const wakeups = new ReplicaWakeups((events) => handle(events));
  const pending = new Map<number, Pending>();
  const outcomes: RequestOutcome[] = [];

  const submit = (pool: readonly Replica[], job: ReplicaJob, now: number) => wakeups.submit(leastOutstanding(pool), job, now);
  const handle = (events: readonly ReplicaEvent[]) => {
    for (const e of events) {
      const p = pending.get(e.job.requestId)!;
      if (e.job.kind === 'prefill') {
        if (e.type === 'done') {
          submit(decode, { requestId: p.request.id, kind: 'decode-remote', promptTokens: p.request.promptTokens, completionTokens: p.request.completionTokens }, e.at);
        }
      } else if (e.type === 'first-token') {
        p.firstTokenAt = e.at;
      } else if (e.type === 'done') {
        const tokens = p.request.completionTokens;
        outcomes.push({
          request: p.request,
          route: p.route,
          ttftMs: p.firstTokenAt - p.request.arrivalMs,
          tpotMs: tokens > 1 ? (e.at - p.firstTokenAt) / (tokens - 1) : 0,
          e2eMs: e.at - p.request.arrivalMs,
        });
        pending.delete(p.request.id);
      }
    }
  };
  const arrive = (r: SimRequest) => {
    if (aggregated) {
      pending.set(r.id, { request: r, route: 'aggregated', firstTokenAt: NaN });
      submit(gpu, { requestId: r.id, kind: 'aggregated', promptTokens: r.promptTokens, completionTokens: r.completionTokens }, r.arrivalMs);
      return;
    }
    const queue = prefill.reduce((n, x) => n + x.outstanding, 0);
    const decision = decidePrefill(route, r.promptTokens, queue);
    pending.set(r.id, { request: r, route: decision, firstTokenAt: NaN });
    if (decision === PREFILL_DECISIONS.disaggregated) {
      submit(prefill, { requestId: r.id, kind: 'prefill', promptTokens: r.promptTokens, completionTokens: 0 }, r.arrivalMs);
    } else {
      submit(decode, { requestId: r.id, kind: 'decode-recompute', promptTokens: r.promptTokens, completionTokens: r.completionTokens }, r.arrivalMs);
    }
  };

  wakeups.run(requests, arrive);
  return outcomes;
}
