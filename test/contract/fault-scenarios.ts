/**
 * The fault matrix: every fault class × the phase it hits, as a table of cells, run
 * through a gateway whose backends are simulators on loopback ports and whose store is the
 * embedded DynamoDB, with the official `openai` client (no client retries) as the caller.
 *
 * Each cell asserts its outcome: served at the tier asked (after the gateway's retries), served
 * by the fallback tier with `service_tier` echoing it, or the exact OpenAI error (status, type,
 * code; on a stream already started, the error event), within the deadline the pools' timeouts
 * allow; how many calls each pool received (the retries); and that the request is metered
 * exactly once (one usage record with its request id and the tier that served it), or not at all
 * when admission refused it. After the cells, the daily aggregates count exactly the records.
 *
 * Lanes: `stream` (streamed requests: the in-process executor on every runtime) and `json`
 * (non-streamed requests: the executor under test, in-process or Step Functions). Store faults
 * (admission and metering phases) are injected at the SDK boundary: a middleware on the
 * in-process gateway's client, a proxy in front of the store for the stack's functions
 * (test/helpers/store-faults.ts). Cells run side by side, each on a gateway of its own for its
 * duration (a pool of targets), so the faults a cell scripts meet only its own request.
 */
import OpenAI from 'openai';
import { performance } from 'node:perf_hooks';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TierName } from '../../lambda/core/config.ts';
import type { UsageRecord } from '../../lambda/core/ports.ts';
import type { TierUsage } from '../../lambda/store/usage-report.ts';
import type { SimFaults } from '../../sim/index.ts';
import type { StoreFaults, StoreStorm } from '../helpers/store-faults.ts';
import { STORE_FAULTS, firstCalls } from '../helpers/store-faults.ts';

/** The API key of the matrix's one tenant. */
export const FAULT_KEY = 'sk-ss-test-faults-0123456789abcdef0123456789';
/** The matrix's one tenant. */
export const FAULT_TENANT = 'faults';
/** The model every cell asks for. */
export const FAULT_MODEL = 'llama-3.1-8b';
/** Every pool's timeout (longest silence on a backend connection): small, so stalls end fast. */
export const POOL_TIMEOUT_MS = 300;
/** An endpoint nobody listens on: port 1 on loopback refuses every connection. */
export const REFUSED_ENDPOINT = 'http://127.0.0.1:1';
/** What a cell may take beyond its backend timeouts (retry backoffs, fallbacks, a loaded machine). */
const SLACK_MS = 2_000;

/** The simulated pools a cell scripts. */
export const FAULT_POOLS = ['prefill', 'decode', 'gpu'] as const;
/** One of {@link FAULT_POOLS}. */
export type FaultPool = (typeof FAULT_POOLS)[number];

/**
 * The matrix's config: `priority` = disaggregated (prefill → decode) falling back to `default` =
 * aggregated (gpu, no fallback); `flex` = aggregated on a pool whose only endpoint refuses
 * connections, falling back to `default`. Limits on every tier, so admission writes its windows.
 */
export const FAULT_CONFIG = {
  pools: {
    prefill: { protocol: 'vllm-nixl', role: 'prefill', timeoutMs: POOL_TIMEOUT_MS, simulate: { profile: 'trainium-prefill', replicas: 1, speedup: 1000 } },
    decode: { protocol: 'vllm-nixl', role: 'decode', timeoutMs: POOL_TIMEOUT_MS, simulate: { profile: 'cerebras-decode', replicas: 1, speedup: 1000 } },
    gpu: { protocol: 'openai', timeoutMs: POOL_TIMEOUT_MS, simulate: { profile: 'gpu-aggregated', replicas: 1, speedup: 1000 } },
    refused: { protocol: 'openai', timeoutMs: POOL_TIMEOUT_MS, endpoints: [REFUSED_ENDPOINT] },
  },
  models: { [FAULT_MODEL]: { pools: ['prefill', 'decode', 'gpu', 'refused'] } },
  tiers: {
    priority: { route: { mode: 'disaggregated', prefill: 'prefill', decode: 'decode' }, fallback: 'default' },
    default: { route: { mode: 'aggregated', pool: 'gpu' } },
    flex: { route: { mode: 'aggregated', pool: 'refused' }, fallback: 'default' },
  },
  tenants: [
    {
      id: FAULT_TENANT,
      apiKeys: [FAULT_KEY],
      tiers: ['priority', 'default', 'flex'],
      limits: {
        priority: { rpm: 100_000, tpm: 100_000_000, monthlyTokens: 1_000_000_000 },
        default: { rpm: 100_000, tpm: 100_000_000 },
        flex: { rpm: 100_000 },
      },
    },
  ],
};

/** A running gateway over {@link FAULT_CONFIG} whose faults the matrix scripts. */
export interface FaultTarget {
  readonly url: string;
  /** Replaces a pool's simulator fault plan. */
  setFaults(pool: FaultPool, faults: SimFaults): Promise<void>;
  /** Completion calls a pool's simulator has received so far. */
  calls(pool: FaultPool): Promise<number>;
  /** The tenant's usage records of this month. */
  records(): Promise<UsageRecord[]>;
  /** The tenant's per-tier daily aggregates of today. */
  aggregates(): Promise<readonly TierUsage[]>;
  /** Makes the metering so far durable where the target can (in-process); resolves anyway. */
  flush(): Promise<void>;
  /** The store client's fault switch (targets whose store client the test owns). */
  readonly store?: StoreFaults;
  close(): Promise<void>;
}

/** Where a fault hits. */
export const FAULT_PHASES = { prefill: 'prefill', decode: 'decode', aggregated: 'aggregated', admission: 'admission', metering: 'metering' } as const;
/** One of {@link FAULT_PHASES}. */
export type FaultPhase = (typeof FAULT_PHASES)[keyof typeof FAULT_PHASES];

/** Streamed requests, or not. */
export const FAULT_LANES = { stream: 'stream', json: 'json' } as const;
/** One of {@link FAULT_LANES}. */
export type FaultLane = (typeof FAULT_LANES)[keyof typeof FAULT_LANES];

/** The executors of non-streamed plans (streams always run in-process). */
export const FAULT_EXECUTORS = { inProcess: 'in-process', stepFunctions: 'step-functions' } as const;
/** One of {@link FAULT_EXECUTORS}. */
export type FaultExecutor = (typeof FAULT_EXECUTORS)[keyof typeof FAULT_EXECUTORS];

/** What the client must see. */
export type FaultOutcome =
  /** A 200 answer (every chunk of a stream) with `service_tier` = `tier`. */
  | { readonly served: TierName }
  /** An HTTP error with the OpenAI body. */
  | { readonly error: { readonly status: number; readonly type: string; readonly code: string } }
  /** A stream that started at `tier`, then an error event (no HTTP status: the 200 is sent). */
  | { readonly streamError: { readonly tier: TierName; readonly type: string; readonly code: string } };

/** One cell of the matrix. */
export interface FaultCell {
  readonly fault: string;
  readonly phase: FaultPhase;
  /** How the fault is scripted (once, every call…), for the test name. */
  readonly script: string;
  readonly lanes: readonly FaultLane[];
  /** Executors the cell runs on. @default both */
  readonly executors?: readonly FaultExecutor[];
  readonly tier: TierName;
  /** Fault plans per pool; `next` is the 1-based index of the pool's next completion call. */
  readonly sim?: Partial<Record<FaultPool, (next: number) => SimFaults>>;
  readonly store?: StoreStorm;
  readonly outcome: FaultOutcome;
  /** Completion calls each pool receives (the gateway's retries and fallbacks). */
  readonly calls?: Partial<Record<FaultPool, number>>;
  /** Pool timeouts the cell may spend waiting on silent backends (sets its deadline). */
  readonly timeouts?: number;
  /** Extra deadline (the SDK's own backoff on throttled store calls). */
  readonly extraMs?: number;
  /** Usage records the request leaves: 1, or 0 when admission refused it. @default 1 */
  readonly metered?: 0 | 1;
  /** @default 4 */
  readonly maxTokens?: number;
}

const BOTH: readonly FaultLane[] = ['stream', 'json'];
const always = (faults: SimFaults) => () => faults;
const once = (faults: SimFaults) => (next: number) => ({ ...faults, onCalls: [next] });
const upstream502 = { status: 502, type: 'upstream_error', code: 'upstream_error' } as const;
const upstream503 = { status: 503, type: 'upstream_error', code: 'upstream_error' } as const;
const timeout504 = { status: 504, type: 'timeout', code: 'upstream_timeout' } as const;
/** Three attempts of one step (the first and TASK_RETRY.maxRetries retries). */
const ATTEMPTS = 3;
const STALL = { stallMs: 20 * POOL_TIMEOUT_MS };
/**
 * The SDK's longest total backoff over `retries` throttled attempts of one call: up to 500 ms ×
 * 2^n before retry n (full jitter). Its DynamoDB client makes 4 attempts (measured: a storm
 * fails after 4 attempts in 2.0 to 5.8 s).
 */
const sdkBackoffMs = (retries: number): number => Array.from({ length: retries }, (_, i) => 500 * 2 ** (i + 1)).reduce((a, b) => a + b, 0);
/** A store busy past the SDK's retries on the request path: a 503 the client may retry. */
const STORE_BUSY = { status: 503, type: 'server_error', code: 'service_unavailable' } as const;

/** The matrix. */
export const FAULT_CELLS: readonly FaultCell[] = [
  // refused: a closed port (a pool whose only endpoint nobody listens on; a simulator that closed its port)
  { fault: 'refused', phase: 'aggregated', script: 'an endpoint nobody listens on', lanes: BOTH, tier: 'flex', outcome: { served: 'default' }, calls: { gpu: 1 } },
  { fault: 'refused', phase: 'prefill', script: 'port closed', lanes: BOTH, tier: 'priority', sim: { prefill: always({ refuse: true }) }, outcome: { served: 'default' }, calls: { prefill: 0, decode: 0, gpu: 1 } },
  { fault: 'refused', phase: 'decode', script: 'port closed', lanes: BOTH, tier: 'priority', sim: { decode: always({ refuse: true }) }, outcome: { served: 'default' }, calls: { prefill: 1, decode: 0, gpu: 1 } },
  { fault: 'refused', phase: 'aggregated', script: 'port closed', lanes: BOTH, tier: 'default', sim: { gpu: always({ refuse: true }) }, outcome: { error: upstream502 }, calls: { gpu: 0 } },

  // connection reset before any answer
  { fault: 'reset', phase: 'prefill', script: 'once', lanes: BOTH, tier: 'priority', sim: { prefill: once({ reset: true }) }, outcome: { served: 'priority' }, calls: { prefill: 2, decode: 1 } },
  { fault: 'reset', phase: 'prefill', script: 'every call', lanes: BOTH, tier: 'priority', sim: { prefill: always({ reset: true }) }, outcome: { served: 'default' }, calls: { prefill: ATTEMPTS, decode: 0, gpu: 1 } },
  { fault: 'reset', phase: 'decode', script: 'every call', lanes: BOTH, tier: 'priority', sim: { decode: always({ reset: true }) }, outcome: { served: 'default' }, calls: { decode: ATTEMPTS, gpu: 1 } },
  { fault: 'reset', phase: 'aggregated', script: 'once', lanes: BOTH, tier: 'default', sim: { gpu: once({ reset: true }) }, outcome: { served: 'default' }, calls: { gpu: 2 } },
  { fault: 'reset', phase: 'aggregated', script: 'every call', lanes: BOTH, tier: 'default', sim: { gpu: always({ reset: true }) }, outcome: { error: upstream502 }, calls: { gpu: ATTEMPTS } },

  // 5xx from the backend
  { fault: '5xx', phase: 'decode', script: 'once', lanes: BOTH, tier: 'priority', sim: { decode: (next) => ({ failNth: [next], errorStatus: 500 }) }, outcome: { served: 'priority' }, calls: { prefill: 1, decode: 2 } },
  { fault: '5xx', phase: 'prefill', script: 'every call', lanes: BOTH, tier: 'priority', sim: { prefill: always({ errorRate: 1, errorStatus: 502 }) }, outcome: { served: 'default' }, calls: { prefill: ATTEMPTS, decode: 0, gpu: 1 } },
  { fault: '5xx', phase: 'decode', script: 'every call', lanes: BOTH, tier: 'priority', sim: { decode: always({ errorRate: 1, errorStatus: 500 }) }, outcome: { served: 'default' }, calls: { decode: ATTEMPTS, gpu: 1 } },
  { fault: '5xx', phase: 'aggregated', script: 'every call', lanes: BOTH, tier: 'default', sim: { gpu: always({ errorRate: 1, errorStatus: 500 }) }, outcome: { error: upstream502 }, calls: { gpu: ATTEMPTS } },

  // 429 from the backend, with retry-after
  { fault: '429', phase: 'aggregated', script: 'once', lanes: BOTH, tier: 'default', sim: { gpu: (next) => ({ failNth: [next], errorStatus: 429, retryAfterMs: 1000 }) }, outcome: { served: 'default' }, calls: { gpu: 2 } },
  { fault: '429', phase: 'prefill', script: 'every call', lanes: BOTH, tier: 'priority', sim: { prefill: always({ errorRate: 1, errorStatus: 429, retryAfterMs: 1000 }) }, outcome: { served: 'default' }, calls: { prefill: ATTEMPTS, gpu: 1 } },
  { fault: '429', phase: 'decode', script: 'every call', lanes: BOTH, tier: 'priority', sim: { decode: always({ errorRate: 1, errorStatus: 429, retryAfterMs: 1000 }) }, outcome: { served: 'default' }, calls: { decode: ATTEMPTS, gpu: 1 } },
  { fault: '429', phase: 'aggregated', script: 'every call', lanes: BOTH, tier: 'default', sim: { gpu: always({ errorRate: 1, errorStatus: 429, retryAfterMs: 1000 }) }, outcome: { error: upstream503 }, calls: { gpu: ATTEMPTS } },

  // stall before the headers
  { fault: 'stall before headers', phase: 'decode', script: 'once', lanes: BOTH, tier: 'priority', sim: { decode: once(STALL) }, outcome: { served: 'priority' }, calls: { decode: 2 }, timeouts: 1 },
  { fault: 'stall before headers', phase: 'prefill', script: 'every call', lanes: BOTH, tier: 'priority', sim: { prefill: always(STALL) }, outcome: { served: 'default' }, calls: { prefill: ATTEMPTS, gpu: 1 }, timeouts: ATTEMPTS },
  { fault: 'stall before headers', phase: 'aggregated', script: 'every call', lanes: BOTH, tier: 'default', sim: { gpu: always(STALL) }, outcome: { error: timeout504 }, calls: { gpu: ATTEMPTS }, timeouts: ATTEMPTS },

  // stall mid-body: some of the answer, then silence with the socket open
  { fault: 'stall mid-body', phase: 'prefill', script: 'every call', lanes: BOTH, tier: 'priority', sim: { prefill: always({ stallAfterTokens: 0 }) }, outcome: { served: 'default' }, calls: { prefill: ATTEMPTS, gpu: 1 }, timeouts: ATTEMPTS },
  { fault: 'stall mid-body', phase: 'decode', script: 'every call', lanes: ['json'], tier: 'priority', sim: { decode: always({ stallAfterTokens: 1 }) }, outcome: { served: 'default' }, calls: { decode: ATTEMPTS, gpu: 1 }, timeouts: ATTEMPTS },
  { fault: 'stall mid-body', phase: 'decode', script: 'every call', lanes: ['stream'], tier: 'priority', sim: { decode: always({ stallAfterTokens: 2 }) }, outcome: { streamError: { tier: 'priority', ...timeout504 } }, calls: { decode: 1, gpu: 0 }, timeouts: 1, maxTokens: 8 },
  { fault: 'stall mid-body', phase: 'aggregated', script: 'every call', lanes: ['json'], tier: 'default', sim: { gpu: always({ stallAfterTokens: 1 }) }, outcome: { error: timeout504 }, calls: { gpu: ATTEMPTS }, timeouts: ATTEMPTS },
  { fault: 'stall mid-body', phase: 'aggregated', script: 'every call', lanes: ['stream'], tier: 'default', sim: { gpu: always({ stallAfterTokens: 2 }) }, outcome: { streamError: { tier: 'default', ...timeout504 } }, calls: { gpu: 1 }, timeouts: 1, maxTokens: 8 },

  // drop mid-body: some of the answer, then the socket destroyed
  { fault: 'drop mid-body', phase: 'prefill', script: 'every call', lanes: BOTH, tier: 'priority', sim: { prefill: always({ dropAfterTokens: 0 }) }, outcome: { served: 'default' }, calls: { prefill: ATTEMPTS, gpu: 1 } },
  { fault: 'drop mid-body', phase: 'decode', script: 'once', lanes: ['json'], tier: 'priority', sim: { decode: once({ dropAfterTokens: 1 }) }, outcome: { served: 'priority' }, calls: { decode: 2 } },
  { fault: 'drop mid-body', phase: 'decode', script: 'every call', lanes: ['json'], tier: 'priority', sim: { decode: always({ dropAfterTokens: 1 }) }, outcome: { served: 'default' }, calls: { decode: ATTEMPTS, gpu: 1 } },
  { fault: 'drop mid-body', phase: 'decode', script: 'every call', lanes: ['stream'], tier: 'priority', sim: { decode: always({ dropAfterTokens: 2 }) }, outcome: { streamError: { tier: 'priority', ...upstream502 } }, calls: { decode: 1, gpu: 0 }, maxTokens: 8 },
  { fault: 'drop mid-body', phase: 'aggregated', script: 'every call', lanes: ['json'], tier: 'default', sim: { gpu: always({ dropAfterTokens: 1 }) }, outcome: { error: upstream502 }, calls: { gpu: ATTEMPTS } },
  { fault: 'drop mid-body', phase: 'aggregated', script: 'every call', lanes: ['stream'], tier: 'default', sim: { gpu: always({ dropAfterTokens: 2 }) }, outcome: { streamError: { tier: 'default', ...upstream502 } }, calls: { gpu: 1 }, maxTokens: 8 },

  // invalid JSON body / invalid SSE event
  { fault: 'invalid JSON', phase: 'prefill', script: 'every call', lanes: BOTH, tier: 'priority', sim: { prefill: always({ invalidBody: true }) }, outcome: { served: 'default' }, calls: { prefill: 1, decode: 0, gpu: 1 } },
  { fault: 'invalid JSON', phase: 'decode', script: 'every call', lanes: ['json'], tier: 'priority', sim: { decode: always({ invalidBody: true }) }, outcome: { served: 'default' }, calls: { decode: 1, gpu: 1 } },
  { fault: 'invalid JSON', phase: 'aggregated', script: 'every call', lanes: ['json'], tier: 'default', sim: { gpu: always({ invalidBody: true }) }, outcome: { error: upstream502 }, calls: { gpu: 1 } },

  { fault: 'invalid SSE event', phase: 'decode', script: 'every call', lanes: ['stream'], tier: 'priority', sim: { decode: always({ invalidBody: true }) }, outcome: { served: 'priority' }, calls: { decode: 1, gpu: 0 } },
  { fault: 'invalid SSE event', phase: 'aggregated', script: 'every call', lanes: ['stream'], tier: 'default', sim: { gpu: always({ invalidBody: true }) }, outcome: { served: 'default' }, calls: { gpu: 1 } },

  // missing kv_transfer_params: decode recomputes the prompt, at the tier asked
  { fault: 'missing kv params', phase: 'prefill', script: 'every call', lanes: BOTH, tier: 'priority', sim: { prefill: always({ omitKvParams: true }) }, outcome: { served: 'priority' }, calls: { prefill: 1, decode: 1, gpu: 0 } },

  // slow trickle: a stream with a token every third of the timeout is never silent that long and
  // is served in full (slowly, past the timeout in total); a JSON answer with a token every
  // timeout is silent until its last token, well past the timeout.
  { fault: 'slow trickle', phase: 'decode', script: 'every call', lanes: ['stream'], tier: 'priority', sim: { decode: always({ trickleMs: POOL_TIMEOUT_MS / 3 }) }, outcome: { served: 'priority' }, calls: { decode: 1, gpu: 0 }, timeouts: 2 },
  { fault: 'slow trickle', phase: 'decode', script: 'every call', lanes: ['json'], tier: 'priority', sim: { decode: always({ trickleMs: POOL_TIMEOUT_MS }) }, outcome: { served: 'default' }, calls: { decode: ATTEMPTS, gpu: 1 }, timeouts: ATTEMPTS, maxTokens: 6 },
  { fault: 'slow trickle', phase: 'aggregated', script: 'every call', lanes: ['stream'], tier: 'default', sim: { gpu: always({ trickleMs: POOL_TIMEOUT_MS / 3 }) }, outcome: { served: 'default' }, calls: { gpu: 1 }, timeouts: 2 },
  { fault: 'slow trickle', phase: 'aggregated', script: 'every call', lanes: ['json'], tier: 'default', sim: { gpu: always({ trickleMs: POOL_TIMEOUT_MS }) }, outcome: { error: timeout504 }, calls: { gpu: ATTEMPTS }, timeouts: ATTEMPTS, maxTokens: 6 },

  // store throttling and conditional-check storms. Admission (the window items) runs before the
  // plan, the same for both lanes: non-streamed requests only. Metering (the usage records and
  // the daily aggregates) ends a stream elsewhere than a JSON answer: both lanes. A throttled
  // call is retried by the SDK, with its backoff (`extraMs`: on the response path for admission,
  // and for metering on the Step Functions executor, whose Meter step runs before the answer).
  // On the Step Functions executor, a Meter step whose flush is not durable hands metering to
  // the gateway (MeterDeferred); its meter lives for that invocation only, so nothing it queued
  // is written again later (each cell still finds one record and one request in the aggregates).
  {
    fault: 'store throttling', phase: 'admission', script: 'two attempts (the SDK retries)', lanes: ['json'], tier: 'priority',
    store: { fault: STORE_FAULTS.throughput, command: 'UpdateItem', pkPrefix: 'WIN#', calls: firstCalls(2) },
    outcome: { served: 'priority' }, calls: { prefill: 1, decode: 1 }, extraMs: sdkBackoffMs(2),
  },
  {
    fault: 'store throttling', phase: 'admission', script: 'a storm past the SDK retries', lanes: ['json'], tier: 'priority',
    store: { fault: STORE_FAULTS.throttling, command: 'UpdateItem', pkPrefix: 'WIN#', calls: firstCalls(20) },
    outcome: { error: STORE_BUSY }, calls: { prefill: 0, decode: 0 }, extraMs: sdkBackoffMs(3), metered: 0,
  },
  {
    fault: 'conditional-check storm', phase: 'admission', script: 'three writes', lanes: ['json'], tier: 'priority',
    store: { fault: STORE_FAULTS.conditional, command: 'UpdateItem', pkPrefix: 'WIN#', calls: firstCalls(3) },
    outcome: { served: 'priority' }, calls: { prefill: 1, decode: 1 },
  },
  {
    fault: 'conditional-check storm', phase: 'admission', script: 'every write', lanes: ['json'], tier: 'priority',
    store: { fault: STORE_FAULTS.conditional, command: 'UpdateItem', pkPrefix: 'WIN#', calls: firstCalls(50) },
    outcome: { error: { status: 429, type: 'requests', code: 'rate_limit_exceeded' } }, calls: { prefill: 0, decode: 0 }, metered: 0,
  },
  {
    fault: 'store throttling', phase: 'metering', script: 'the usage batch, three attempts', lanes: BOTH, tier: 'priority',
    store: { fault: STORE_FAULTS.throughput, command: 'BatchWriteItem', pkPrefix: 'USAGE#', calls: firstCalls(3) },
    outcome: { served: 'priority' }, calls: { prefill: 1, decode: 1 }, extraMs: sdkBackoffMs(3),
  },
  {
    fault: 'store throttling', phase: 'metering', script: 'the usage batch, past the SDK retries (kept for the next flush)', lanes: BOTH, tier: 'priority',
    store: { fault: STORE_FAULTS.throughput, command: 'BatchWriteItem', pkPrefix: 'USAGE#', calls: firstCalls(6) },
    outcome: { served: 'priority' }, calls: { prefill: 1, decode: 1 }, extraMs: sdkBackoffMs(3) + sdkBackoffMs(2),
  },
  {
    fault: 'store throttling', phase: 'metering', script: 'the daily aggregate, past the SDK retries (kept for the next flush)', lanes: BOTH, tier: 'default',
    store: { fault: STORE_FAULTS.throttling, command: 'UpdateItem', pkPrefix: 'AGG#', calls: firstCalls(6) },
    outcome: { served: 'default' }, calls: { gpu: 1 }, extraMs: sdkBackoffMs(3) + sdkBackoffMs(2),
  },
  {
    fault: 'store throttling', phase: 'metering', script: 'the daily aggregate, three attempts', lanes: BOTH, tier: 'default',
    store: { fault: STORE_FAULTS.throttling, command: 'UpdateItem', pkPrefix: 'AGG#', calls: firstCalls(3) },
    outcome: { served: 'default' }, calls: { gpu: 1 }, extraMs: sdkBackoffMs(3),
  },
];

/** The cells of a lane that a target can run (store cells need the store's fault switch). */
export function cellsOf(lane: FaultLane, executor: FaultExecutor, withStore: boolean): FaultCell[] {
  return FAULT_CELLS.filter((c) => c.lanes.includes(lane) && (c.executors ?? Object.values(FAULT_EXECUTORS)).includes(executor) && (withStore || c.store === undefined));
}

function cellName(cell: FaultCell): string {
  const o = cell.outcome;
  const outcome = 'served' in o ? `served at ${o.served}` : 'error' in o ? `${o.error.status} ${o.error.code}` : `error event ${o.streamError.code}`;
  return `${cell.fault} × ${cell.phase} (${cell.script}, ${cell.tier}) → ${outcome}`;
}

/** How a request ended, as the client saw it. */
interface Seen {
  readonly requestId: string | null;
  readonly tiers: ReadonlySet<string | null | undefined>;
  /** The usage the answer reported (a stream's last chunk: `include_usage` is asked). */
  readonly usage?: OpenAI.CompletionUsage;
  /** Chunks of a stream that carried content (the tokens the client got). */
  readonly contentChunks: number;
  readonly error?: InstanceType<typeof OpenAI.APIError>;
}

async function ask(client: OpenAI, cell: FaultCell, lane: FaultLane): Promise<Seen> {
  const body = {
    model: FAULT_MODEL,
    messages: [{ role: 'user' as const, content: `Fault matrix: ${cell.fault} in ${cell.phase}.` }],
    max_tokens: cell.maxTokens ?? 4,
    service_tier: cell.tier,
  };
  const tiers = new Set<string | null | undefined>();
  let requestId: string | null = null;
  let usage: OpenAI.CompletionUsage | undefined;
  let contentChunks = 0;
  try {
    if (lane === 'stream') {
      const { data, response } = await client.chat.completions.create({ ...body, stream: true, stream_options: { include_usage: true } }).withResponse();
      requestId = response.headers.get('x-request-id');
      for await (const chunk of data) {
        tiers.add(chunk.service_tier);
        if (chunk.usage) usage = chunk.usage;
        if (chunk.choices[0]?.delta.content) contentChunks += 1;
      }
    } else {
      const { data, response } = await client.chat.completions.create(body).withResponse();
      requestId = response.headers.get('x-request-id');
      tiers.add(data.service_tier);
      usage = data.usage;
    }
    return { requestId, tiers, contentChunks, ...(usage ? { usage } : {}) };
  } catch (err) {
    if (!(err instanceof OpenAI.APIError)) throw err;
    return { requestId: requestId ?? err.headers?.get('x-request-id') ?? null, tiers, contentChunks, error: err };
  }
}

/** A target with its client. */
interface Lease {
  readonly target: FaultTarget;
  readonly client: OpenAI;
}

/**
 * Targets handed to one cell at a time: a cell scripts its target's simulators and store (and
 * counts their calls) with no other cell in flight there, while other cells run on the others.
 */
class TargetPool {
  readonly all: Lease[] = [];
  private readonly free: Lease[] = [];
  private readonly waiting: Array<(lease: Lease) => void> = [];

  add(target: FaultTarget): void {
    const lease = { target, client: new OpenAI({ baseURL: `${target.url}/v1`, apiKey: FAULT_KEY, maxRetries: 0, timeout: 60_000 }) };
    this.all.push(lease);
    this.release(lease);
  }

  async use<T>(work: (lease: Lease) => Promise<T>): Promise<T> {
    const lease = this.free.pop() ?? (await new Promise<Lease>((resolve) => this.waiting.push(resolve)));
    try {
      return await work(lease);
    } finally {
      this.release(lease);
    }
  }

  private release(lease: Lease): void {
    const next = this.waiting.shift();
    if (next) next(lease);
    else this.free.push(lease);
  }
}

/** Polls until `id` has `expected` records (or the time is up), then returns its records once a duplicate would have landed. */
async function recordsOf(target: FaultTarget, id: string, expected: number): Promise<UsageRecord[]> {
  const deadline = Date.now() + (expected > 0 ? 8_000 : 500);
  const mine = async (): Promise<UsageRecord[]> => {
    await target.flush().catch(() => undefined);
    return (await target.records()).filter((r) => r.requestId === id);
  };
  while ((expected === 0 || (await mine()).length < expected) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await new Promise((r) => setTimeout(r, 100));
  return mine();
}

/** Runs one cell on a target it has to itself. */
async function runCell({ target, client }: Lease, cell: FaultCell, lane: FaultLane): Promise<string | undefined> {
  if (cell.store) expect(target.store, 'the target exposes its store faults').toBeDefined();
  const requestsCounted = async (): Promise<number> => (await target.aggregates()).reduce((sum, t) => sum + t.requests, 0);
  const countedBefore = await requestsCounted();
  const before = Object.fromEntries(await Promise.all(FAULT_POOLS.map(async (p) => [p, await target.calls(p)] as const))) as Record<FaultPool, number>;
  for (const pool of FAULT_POOLS) await target.setFaults(pool, cell.sim?.[pool]?.(before[pool] + 1) ?? {});
  if (cell.store) target.store!.storm(cell.store);
  const started = performance.now();
  let seen: Seen;
  try {
    seen = await ask(client, cell, lane);
  } finally {
    for (const pool of FAULT_POOLS) await target.setFaults(pool, {});
  }
  const elapsed = performance.now() - started;
  // Metering writes off the response path: its storm is met at the flush (a flush fails what
  // the SDK could not retry; the records stay queued for the next one).
  await target.flush().catch(() => undefined);
  const storeInjected = target.store?.injected ?? 0;
  target.store?.clear();

  // the outcome
  const o = cell.outcome;
  if ('served' in o) {
    expect(seen.error, 'no error').toBeUndefined();
    expect([...seen.tiers], 'service_tier of the answer').toEqual([o.served]);
  } else if ('error' in o) {
    expect(seen.error, 'an OpenAI error').toBeInstanceOf(OpenAI.APIError);
    expect({ status: seen.error!.status, type: (seen.error!.error as { type?: string })?.type, code: seen.error!.code }).toEqual(o.error);
    expect(seen.error!.message.length).toBeGreaterThan(0);
  } else {
    expect(seen.error, 'an error event').toBeInstanceOf(OpenAI.APIError);
    expect(seen.error!.status, 'the 200 was sent').toBeUndefined();
    expect({ type: (seen.error!.error as { type?: string })?.type, code: (seen.error!.error as { code?: string })?.code }).toEqual({ type: o.streamError.type, code: o.streamError.code });
    expect([...seen.tiers], 'service_tier of the chunks before it').toEqual([o.streamError.tier]);
  }
  // within the deadline its pools' timeouts allow
  expect(elapsed, 'ms to the end').toBeLessThan((cell.timeouts ?? 0) * POOL_TIMEOUT_MS + SLACK_MS + (cell.extraMs ?? 0));
  // the retries and fallbacks, as calls per pool
  for (const [pool, n] of Object.entries(cell.calls ?? {})) {
    expect((await target.calls(pool as FaultPool)) - before[pool as FaultPool], `calls to ${pool}`).toBe(n);
  }
  if (cell.store) expect(storeInjected, 'store faults injected').toBeGreaterThan(0);
  // metered exactly once (or not at all when admission refused)
  expect(seen.requestId, 'x-request-id').toEqual(expect.any(String));
  const records = await recordsOf(target, seen.requestId!, cell.metered ?? 1);
  expect(records, 'usage records of the request').toHaveLength(cell.metered ?? 1);
  expect((await requestsCounted()) - countedBefore, 'requests added to the daily aggregates').toBe(cell.metered ?? 1);
  for (const record of records) {
    expect(record.tierServed).toBe('served' in o ? o.served : 'streamError' in o ? o.streamError.tier : cell.tier);
    expect(record.outcome).toBe('served' in o ? 'ok' : 'error');
    if ('streamError' in o) {
      expect(seen.contentChunks, 'tokens before the error event').toBeGreaterThan(0);
      expect(record.completionTokens, 'metered as relayed').toBe(seen.contentChunks);
    }
    if ('error' in o) expect(record.completionTokens, 'nothing was served').toBe(0);
    if ('served' in o) {
      expect(seen.usage, 'usage in the answer').toBeDefined();
      expect({ prompt: record.promptTokens, completion: record.completionTokens }, 'metered as answered').toEqual({ prompt: seen.usage!.prompt_tokens, completion: seen.usage!.completion_tokens });
    }
  }
  return records[0]?.requestId;
}

/**
 * Registers the matrix's cells of `lane` against gateways from `start`: `targets` of them, cells
 * running side by side, one per target at a time; the store cells only when `withStore` (the
 * targets then have a {@link FaultTarget.store}).
 */
export function describeFaultMatrix(lane: FaultLane, executor: FaultExecutor, options: { readonly withStore: boolean; readonly targets: number }, start: () => Promise<FaultTarget>): void {
  describe(`fault matrix: ${lane === 'stream' ? 'streamed' : 'non-streamed'} requests on the ${executor} executor`, () => {
    const pool = new TargetPool();
    const metered = new Set<string>();

    beforeAll(async () => {
      for (const target of await Promise.all(Array.from({ length: options.targets }, start))) pool.add(target);
    }, 240_000);
    afterAll(async () => {
      await Promise.all(pool.all.map(({ target }) => target.close()));
    });

    describe.concurrent('cells', () => {
      for (const cell of cellsOf(lane, executor, options.withStore)) {
        it(cellName(cell), async () => {
          const id = await pool.use((lease) => runCell(lease, cell, lane));
          if (id) metered.add(id);
        }, 60_000);
      }
    });

    it('no request is metered twice, and the daily aggregates count each record once', async () => {
      expect(metered.size).toBeGreaterThan(0);
      for (const { target } of pool.all) {
        await target.flush().catch(() => undefined);
        const records = await target.records();
        expect(new Set(records.map((r) => r.requestId)).size, 'distinct request ids').toBe(records.length);
        const aggregates = await target.aggregates();
        expect(aggregates.reduce((sum, t) => sum + t.requests, 0), 'requests in the aggregates').toBe(records.length);
        expect(aggregates.reduce((sum, t) => sum + t.promptTokens + t.completionTokens, 0), 'tokens in the aggregates').toBe(
          records.reduce((sum, r) => sum + r.promptTokens + r.completionTokens, 0),
        );
      }
    });
  });
}
