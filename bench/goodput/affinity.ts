/**
 * The prefix-cache affinity comparison of `npm run bench:goodput`: the multi-turn chat mix
 * (chat-sessions.ts) on replicas that each keep an LRU prefix cache (sim/prefix-cache.ts; a hit
 * prefills only the uncached suffix: sim/model.ts), routed by the gateway's own policies
 * (lambda/routing/): least-outstanding with power of two choices (what the gateway does by load
 * without `affinity`) against prefix affinity (rendezvous hashing with bounded loads over the same
 * fallback), keyed per conversation as the gateway keys a conversation. Aggregated GPU replicas,
 * and the prefill side of a Trainium-prefill + Cerebras-decode split (decode does not route by
 * affinity here). Virtual time, same event loop as cluster.ts.
 *
 * A replica looks its cache up and stores the prompt's blocks when the request is routed to it
 * (not when its prefill ends): a turn that arrives while its previous turn is still being
 * prefilled counts as a hit it would partly miss on a real engine.
 */
import { leastOutstanding } from '../../lambda/routing/least-outstanding.ts';
import type { SelectionPolicy } from '../../lambda/routing/policy.ts';
import { DEFAULT_LOAD_FACTOR, prefixAffinity } from '../../lambda/routing/prefix-affinity.ts';
import { PrefixCache } from '../../sim/prefix-cache.ts';
import { mulberry32 } from '../../sim/prng.ts';
import type { SimProfile } from '../../sim/profiles.ts';
import { replicaCapacity } from './capacity.ts';
import type { ChatTurn } from './chat-sessions.ts';
import { CHAT_SESSIONS, generateChatSessions } from './chat-sessions.ts';
import type { DeploymentProfiles, RequestOutcome } from './cluster.ts';
import { DEFAULT_PROFILES } from './cluster.ts';
import { ReplicaWakeups } from './replica-wakeups.ts';
import type { RunScore } from './metrics.ts';
import { scoreRun } from './metrics.ts';
import type { ReplicaEvent, ReplicaJob } from './replica.ts';
import { Replica } from './replica.ts';
import { TIER_SLOS } from './experiment.ts';
import type { SloName } from './experiment.ts';

/** The two routings compared. */
export const AFFINITY_ROUTERS = ['least-outstanding', 'affinity'] as const;
export type AffinityRouter = (typeof AFFINITY_ROUTERS)[number];

/**
 * Prefix-cache capacity per replica, tokens. ASSUMPTION: an 8B model on an 80 GB accelerator
 * leaves ~50 GB of KV cache, at 128 KiB a token (sim/profiles.ts) ≈ 400,000 tokens.
 */
export const CACHE_TOKENS_PER_REPLICA = 400_000;

/**
 * Offered loads: these fractions of the deployment's capacity without any prefix cache
 * (capacity.ts, an estimate at full batch: the replicas are not saturated at 1.0).
 */
export const AFFINITY_LOAD_FRACTIONS = [0.8, 1.2] as const;

/** One deployment run under one routing. */
export interface AffinityDeployment {
  readonly mode: 'aggregated' | 'disaggregated';
  /** Aggregated replicas, or prefill replicas of the split. */
  readonly replicas: number;
  /** Decode replicas of the split (0 when aggregated). */
  readonly decode: number;
  readonly router: AffinityRouter;
  readonly cacheTokens: number;
  /** c of the load bound. @default DEFAULT_LOAD_FACTOR */
  readonly loadFactor?: number;
}

/** What a run gives: each turn's outcome, and the prefix-cache hit rate (cached / prompt tokens). */
export interface AffinityRun {
  readonly outcomes: RequestOutcome[];
  readonly hitRate: number;
}

/** The replicas of `pool` as the policies see them, and the policy's pick. */
function pick(pool: readonly Replica[], policy: SelectionPolicy, key: string): Replica {
  return pool[policy.select(pool.map((r) => ({ url: `replica-${r.id}`, outstanding: r.outstanding })), key)]!;
}

/**
 * Runs `turns` (sorted by arrival) until every turn has finished.
 *
 * @example
 * runAffinityDeployment({ mode: 'aggregated', replicas: 8, decode: 0, router: 'affinity', cacheTokens: 400_000 }, turns, 1);
 */
export function runAffinityDeployment(d: AffinityDeployment, turns: readonly ChatTurn[], seed: number, profiles: DeploymentProfiles = DEFAULT_PROFILES): AffinityRun {
  let nextId = 0;
  const make = (profile: SimProfile, n: number) => Array.from({ length: n }, () => new Replica(profile, nextId++));
  const aggregated = d.mode === 'aggregated';
  const first = make(aggregated ? profiles.gpu : profiles.prefill, d.replicas);
  const decode = make(profiles.decode, aggregated ? 0 : d.decode);
  if (first.length === 0 || (!aggregated && decode.length === 0)) throw new RangeError(`deployment needs replicas: ${JSON.stringify(d)}`);
  const caches = new Map(first.map((r) => [r, new PrefixCache(d.cacheTokens, CHAT_SESSIONS.blockTokens)]));
  const fallback = leastOutstanding(mulberry32(seed));
  const policy = d.router === 'affinity' ? prefixAffinity(fallback, { loadFactor: d.loadFactor ?? DEFAULT_LOAD_FACTOR }) : fallback;
  const decodePolicy = leastOutstanding(mulberry32(seed + 1));
  const wakeups = new ReplicaWakeups((events) => handle(events));
  const byId = new Map(turns.map((t) => [t.id, t]));
  const firstTokenAt = new Map<number, number>();
  const outcomes: RequestOutcome[] = [];

  const submit = (replica: Replica, job: ReplicaJob, now: number) => wakeups.submit(replica, job, now);
  const handle = (events: readonly ReplicaEvent[]) => {
    for (const e of events) {
      const t = byId.get(e.job.requestId)!;
      if (e.job.kind === 'prefill') {
        if (e.type === 'done') submit(pick(decode, decodePolicy, ''), { requestId: t.id, kind: 'decode-remote', promptTokens: t.promptTokens, completionTokens: t.completionTokens }, e.at);
      } else if (e.type === 'first-token') {
        firstTokenAt.set(t.id, e.at);
      } else if (e.type === 'done') {
        const ft = firstTokenAt.get(t.id)!;
        outcomes.push({ request: t, route: aggregated ? 'aggregated' : 'disaggregated', ttftMs: ft - t.arrivalMs, tpotMs: t.completionTokens > 1 ? (e.at - ft) / (t.completionTokens - 1) : 0, e2eMs: e.at - t.arrivalMs });
        firstTokenAt.delete(t.id);
      }
    }
  };
  const arrive = (t: ChatTurn) => {
    const replica = pick(first, policy, `s:${t.session}`);
    const { cachedTokens } = caches.get(replica)!.admit(t.blocks, t.promptTokens);
    const job: ReplicaJob = aggregated
      ? { requestId: t.id, kind: 'aggregated', promptTokens: t.promptTokens, completionTokens: t.completionTokens, cachedTokens }
      : { requestId: t.id, kind: 'prefill', promptTokens: t.promptTokens, completionTokens: 0, cachedTokens };
    submit(replica, job, t.arrivalMs);
  };

  wakeups.run(turns, arrive);
  let cached = 0;
  let prompt = 0;
  for (const c of caches.values()) {
    cached += c.hitTokens;
    prompt += c.promptTokens;
  }
  return { outcomes, hitRate: prompt > 0 ? cached / prompt : 0 };
}

/** Options of {@link runAffinityExperiment}. */
export interface AffinityExperimentOptions {
  readonly seed: number;
  /** Virtual seconds of conversation starts. */
  readonly durationS: number;
  /** Replicas per deployment (the split: the best prefill/decode ratio for this mix without a cache). */
  readonly units: number;
}

/** One deployment and routing, measured. */
export interface AffinityCell {
  /** Offered load, as a fraction of the capacity without a cache. */
  readonly load: number;
  /** Offered turns per second (in the scored window). */
  readonly turnsPerSecond: number;
  readonly mode: AffinityDeployment['mode'];
  readonly router: AffinityRouter;
  readonly deployment: AffinityDeployment;
  readonly hitRate: number;
  readonly scores: Readonly<Record<SloName, RunScore>>;
}

/** The comparison's figures. */
export interface AffinityResult {
  readonly seed: number;
  readonly durationS: number;
  readonly units: number;
  readonly cacheTokensPerReplica: number;
  readonly cells: readonly AffinityCell[];
}

/**
 * Both modes under both routings, on the same turns per mode and load, at each of
 * {@link AFFINITY_LOAD_FRACTIONS} of the mode's capacity without a prefix cache.
 *
 * @example
 * const result = runAffinityExperiment({ seed: 1, durationS: 60, units: 8 });
 */
export function runAffinityExperiment(options: AffinityExperimentOptions): AffinityResult {
  const { seed, durationS, units } = options;
  const sample = generateChatSessions(CHAT_SESSIONS, 1, 600_000, seed + 2000);
  const turnsPerSession = sample.length / (new Set(sample.map((t) => t.session)).size || 1);
  const gpuCap = replicaCapacity(DEFAULT_PROFILES.gpu, 'aggregated', sample);
  const preCap = replicaCapacity(DEFAULT_PROFILES.prefill, 'prefill', sample);
  const decCap = replicaCapacity(DEFAULT_PROFILES.decode, 'decode-remote', sample);
  let split = { prefill: 1, capacity: 0 };
  for (let p = 1; p < units; p++) {
    const capacity = Math.min(p * preCap, (units - p) * decCap);
    if (capacity > split.capacity) split = { prefill: p, capacity };
  }
  const capacities = { aggregated: units * gpuCap, disaggregated: split.capacity };
  const cells: AffinityCell[] = [];
  const fromMs = durationS * 200;
  const toMs = durationS * 1000;
  for (const load of AFFINITY_LOAD_FRACTIONS) for (const mode of ['aggregated', 'disaggregated'] as const) {
    const sessionsPerSecond = (load * capacities[mode]) / turnsPerSession;
    const turns = generateChatSessions(CHAT_SESSIONS, sessionsPerSecond, durationS * 1000, seed);
    const turnsPerSecond = turns.filter((t) => t.arrivalMs >= fromMs && t.arrivalMs < toMs).length / ((toMs - fromMs) / 1000);
    for (const router of AFFINITY_ROUTERS) {
      const deployment: AffinityDeployment = {
        mode,
        replicas: mode === 'aggregated' ? units : split.prefill,
        decode: mode === 'aggregated' ? 0 : units - split.prefill,
        router,
        cacheTokens: CACHE_TOKENS_PER_REPLICA,
      };
      const run = runAffinityDeployment(deployment, turns, seed);
      cells.push({
        load,
        turnsPerSecond,
        mode,
        router,
        deployment,
        hitRate: run.hitRate,
        scores: { priority: scoreRun(run.outcomes, TIER_SLOS.priority, fromMs, toMs), default: scoreRun(run.outcomes, TIER_SLOS.default, fromMs, toMs) },
      });
    }
  }
  return { seed, durationS, units, cacheTokensPerReplica: CACHE_TOKENS_PER_REPLICA, cells };
}

const pct = (after: number, before: number): string => (before > 0 ? `${after >= before ? '+' : ''}${(((after - before) / before) * 100).toFixed(0)}%` : 'n/a');

/** The comparison as printed lines: a table, then the gain of affinity per mode. */
export function formatAffinity(result: AffinityResult): string[] {
  const lines = [
    `prefix-cache affinity, multi-turn chat (seed ${result.seed}, ${result.durationS} s, ${result.units} replicas, ${result.cacheTokensPerReplica.toLocaleString('en-US')}-token prefix cache per replica;`,
    `load: x capacity without a cache; scored after the first ${result.durationS / 5} s; goodput in turns/s meeting the SLO):`,
    '  load  deployment      routing            turns/s  cache hit  TTFT p50  TTFT p99  goodput default  goodput priority',
  ];
  for (const c of result.cells) {
    const d = c.scores.default;
    const label = c.mode === 'aggregated' ? `aggregated ${c.deployment.replicas}` : `P/D ${c.deployment.replicas}+${c.deployment.decode}`;
    lines.push(
      `  ${c.load.toFixed(1).padEnd(4)}  ${label.padEnd(15)} ${c.router.padEnd(18)} ${c.turnsPerSecond.toFixed(1).padStart(7)}  ${`${(c.hitRate * 100).toFixed(1)}%`.padStart(9)}  ${`${d.ttftP50.toFixed(0)} ms`.padStart(8)}  ${`${d.ttftP99.toFixed(0)} ms`.padStart(8)}  ${d.goodput.toFixed(2).padStart(15)}  ${c.scores.priority.goodput.toFixed(2).padStart(16)}`,
    );
  }
  for (const load of AFFINITY_LOAD_FRACTIONS) for (const mode of ['aggregated', 'disaggregated'] as const) {
    const base = result.cells.find((c) => c.load === load && c.mode === mode && c.router === 'least-outstanding');
    const aff = result.cells.find((c) => c.load === load && c.mode === mode && c.router === 'affinity');
    if (!base || !aff) continue;
    lines.push(
      `  affinity gain at ${load.toFixed(1)}, ${mode === 'aggregated' ? 'aggregated' : 'prefill side of P/D'}: cache hit ${(base.hitRate * 100).toFixed(1)}% -> ${(aff.hitRate * 100).toFixed(1)}%, ` +
        `TTFT p50 ${pct(aff.scores.default.ttftP50, base.scores.default.ttftP50)}, p99 ${pct(aff.scores.default.ttftP99, base.scores.default.ttftP99)}, ` +
        `goodput ${pct(aff.scores.default.goodput, base.scores.default.goodput)} (default SLO), ${pct(aff.scores.priority.goodput, base.scores.priority.goodput)} (priority SLO)`,
    );
  }
  return lines;
}
