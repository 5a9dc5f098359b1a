/**
 * Public option and handle types of the simulator, and the per-server state its routes share.
 */
import type { SimProfileName } from '../lambda/core/config.ts';
import type { SimFaults } from './faults.ts';
import type { SimProfile, SimRole } from './profiles.ts';
import type { Random } from './prng.ts';
import type { BatchSlots, SchedulingPolicy } from './slots.ts';
import type { SimStats, StatsRecorder } from './stats.ts';
import type { BootstrapRooms } from './bootstrap.ts';
import type { PrefixCache } from './prefix-cache.ts';

/** Options of {@link startSimulator}. */
export interface SimulatorOptions {
  /** Hardware profile (see sim/profiles.ts). */
  readonly profile: SimProfileName;
  /** Interface to listen on. @default '127.0.0.1' */
  readonly host?: string;
  /** Port; 0 picks a free one. @default 0 */
  readonly port?: number;
  /** Every simulated duration is divided by this factor (tests use e.g. 1000). @default 1 */
  readonly speedup?: number;
  /** Seed of every random choice (text, ids, error rate). @default 0 */
  readonly seed?: number;
  /** Model name(s) listed by `GET /v1/models`; requests may name any model. @default 'llama-3.1-8b' */
  readonly model?: string | readonly string[];
  /** Faults injected from the start. @default {} */
  readonly faults?: SimFaults;
  /** Role in a disaggregated pair. @default the profile's `defaultRole` */
  readonly role?: SimRole;
  /** Output tokens when a request sets no `max_tokens`. @default 16 */
  readonly defaultMaxTokens?: number;
  /**
   * SGLang PD: how long a decode waits for its prefill's bootstrap room, in REAL milliseconds.
   * @default 10000
   */
  readonly bootstrapTimeoutMs?: number;
  /** Batch slots (sequences decoded at once; vLLM's `--max-num-seqs`). @default the profile's `maxBatch` */
  readonly slots?: number;
  /**
   * How waiting sequences are ordered, as vLLM's `--scheduling-policy`: under `fcfs` a request
   * whose `priority` is not 0 is refused (vLLM's "Got priority N but Priority scheduling is not
   * enabled.") by a `low-first` (vLLM) simulator and ignored by a `high-first` (SGLang) one;
   * `priority` admits the first value of the order first. @default 'fcfs'
   */
  readonly schedulingPolicy?: SchedulingPolicy;
  /**
   * Which `priority` values go first under the `priority` policy: `low-first` (vLLM) or
   * `high-first` (SGLang's default, without `--schedule-low-priority-values-first`). @default 'low-first'
   */
  readonly priorityOrder?: PriorityOrder;
  /**
   * Capacity of the engine's prefix cache, in tokens (sim/prefix-cache.ts): prompt tokens found
   * in it are not prefilled again and are reported as `usage.prompt_tokens_details.cached_tokens`.
   * 0: no prefix cache (and no `prompt_tokens_details`). @default 0
   */
  readonly prefixCacheTokens?: number;
}

/** Counters of a simulator's prefix cache. */
export interface PrefixCacheCounters {
  readonly lookups: number;
  readonly promptTokens: number;
  readonly cachedTokens: number;
}

/** Which engine `priority` values are scheduled first. */
export type PriorityOrder = 'low-first' | 'high-first';

/** A running simulator. */
export interface SimulatorHandle {
  /** Base URL, e.g. `http://127.0.0.1:40123` (no trailing slash). */
  readonly url: string;
  readonly port: number;
  /** Stops listening, ends open connections, cancels in-flight replies. */
  close(): Promise<void>;
  /** A snapshot of the counters. */
  stats(): SimStats;
  /** The prefix cache's counters: lookups, prompt tokens looked up, and those found cached. */
  prefixCache(): PrefixCacheCounters;
  /**
   * Replaces the fault plan (affects calls that arrive afterwards). With `refuse` the port closes
   * at once (open connections dropped); a plan without it opens the same port again.
   */
  setFaults(faults: SimFaults): void;
}

/** State shared by one server's routes (internal). */
export interface SimContext {
  readonly profile: SimProfile;
  readonly role: SimRole;
  readonly speedup: number;
  readonly seed: number;
  readonly models: readonly string[];
  readonly defaultMaxTokens: number;
  readonly bootstrapTimeoutMs: number;
  readonly schedulingPolicy: SchedulingPolicy;
  readonly priorityOrder: PriorityOrder;
  readonly host: string;
  port: number;
  /** Stable NIXL engine id of this server. */
  engineId: string;
  faults: SimFaults;
  /** Drawn once per call when `errorRate > 0`. */
  readonly faultRandom: Random;
  /** Request ids when the caller sent no `X-Request-Id`. */
  readonly idRandom: Random;
  readonly slots: BatchSlots;
  readonly stats: StatsRecorder;
  /** Next KV block id handed out by a prefill answer. */
  nextBlockId: number;
  readonly rooms: BootstrapRooms;
  /** The engine's prefix cache (capacity 0 when off). */
  readonly prefixCache: PrefixCache;
  /** Aborted when the server closes. */
  readonly shutdown: AbortController;
}
