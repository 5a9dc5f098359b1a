/**
 * Counters and a short history of what a simulator received, so tests and benchmarks can assert
 * what the gateway sent (`stats()` / `GET /sim/stats`).
 */
import { REQUEST_KINDS } from './model.ts';
import type { FirstTokenBreakdown, RequestKind } from './model.ts';
import type { SimRole } from './profiles.ts';
import type { SimProfileName } from '../lambda/core/config.ts';

/** How many received requests are kept. */
export const RECENT_REQUESTS = 50;

/** One received completion request. */
export interface RecordedRequest {
  /** 1-based completion-call index (the one `failNth` counts). */
  readonly call: number;
  readonly path: string;
  /** Request headers, lower-case; `authorization` is replaced by `"<redacted>"`. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: unknown;
  /** The kind it was classified as (absent when the body was rejected). */
  readonly kind?: RequestKind;
  /** Simulated time to first token from the model, before any queueing (absent when rejected). */
  readonly timing?: FirstTokenBreakdown;
}

/** A snapshot of a simulator's counters. */
export interface SimStats {
  readonly profile: SimProfileName;
  readonly role: SimRole;
  /** Completion calls received (chat + legacy), including failed ones. */
  readonly calls: number;
  readonly byKind: Readonly<Record<RequestKind, number>>;
  /** Sequences holding a batch slot now. */
  readonly active: number;
  /** Sequences waiting for a batch slot now. */
  readonly queued: number;
  /** Calls that ever had to wait for a slot. */
  readonly queuedTotal: number;
  /** Largest number of concurrently active sequences seen. */
  readonly maxActive: number;
  /** Calls whose client went away before the answer was complete. */
  readonly aborted: number;
  /** Calls answered in full. */
  readonly completed: number;
  /** Calls answered with an error (injected fault or bad request). */
  readonly failed: number;
  /** Calls whose socket the simulator destroyed (`dropAfterTokens`). */
  readonly dropped: number;
  /** Prefill answers sent without `kv_transfer_params` (`omitKvParams`). */
  readonly kvParamsOmitted: number;
  /** Calls whose socket was destroyed before any answer (`reset`). */
  readonly reset: number;
  /** Calls that went silent mid-body (`stallAfterTokens`). */
  readonly stalled: number;
  /** Answers sent with a malformed body or SSE event (`invalidBody`). */
  readonly garbled: number;
  /** The last {@link RECENT_REQUESTS} completion requests, oldest first. */
  readonly recent: readonly RecordedRequest[];
  /**
   * The last {@link RECENT_REQUESTS} calls whose client went away, oldest first: the request id
   * and when the simulator saw the connection close (epoch ms, `Date.now()`).
   */
  readonly abortedCalls: readonly AbortedCall[];
}

/** A call whose client closed the connection before the answer was complete. */
export interface AbortedCall {
  readonly requestId: string;
  readonly at: number;
}

/** Counter names incremented by the server. */
export type StatCounter = 'aborted' | 'completed' | 'failed' | 'dropped' | 'kvParamsOmitted' | 'queuedTotal' | 'reset' | 'stalled' | 'garbled';

/** Mutable counters behind {@link SimStats}. */
export class StatsRecorder {
  private calls = 0;
  private maxActive = 0;
  private readonly byKind = Object.fromEntries(REQUEST_KINDS.map((k) => [k, 0])) as Record<RequestKind, number>;
  private readonly counters: Record<StatCounter, number> = {
    aborted: 0, completed: 0, failed: 0, dropped: 0, kvParamsOmitted: 0, queuedTotal: 0, reset: 0, stalled: 0, garbled: 0,
  };
  private readonly recent: RecordedRequest[] = [];
  private readonly aborts: AbortedCall[] = [];

  constructor(
    private readonly profile: SimProfileName,
    private readonly role: SimRole,
  ) {}

  /** Counts a new completion call and returns its 1-based index. */
  nextCall(): number {
    return ++this.calls;
  }

  /** Remembers a received request (bounded history). */
  record(entry: RecordedRequest): void {
    this.recent.push(entry);
    if (this.recent.length > RECENT_REQUESTS) this.recent.shift();
  }

  /** Counts an aborted call and remembers when its client went away. */
  aborted(requestId: string): void {
    this.counters.aborted++;
    this.aborts.push({ requestId, at: Date.now() });
    if (this.aborts.length > RECENT_REQUESTS) this.aborts.shift();
  }

  /** The current value of a counter. */
  value(counter: StatCounter): number {
    return this.counters[counter];
  }

  /** Counts a classified call. */
  countKind(kind: RequestKind): void {
    this.byKind[kind]++;
  }

  /** Increments a counter. */
  count(counter: StatCounter): void {
    this.counters[counter]++;
  }

  /** Notes the current number of active sequences. */
  observeActive(active: number): void {
    if (active > this.maxActive) this.maxActive = active;
  }

  /** A snapshot (copies, safe to keep). */
  snapshot(active: number, queued: number): SimStats {
    return {
      profile: this.profile,
      role: this.role,
      calls: this.calls,
      byKind: { ...this.byKind },
      active,
      queued,
      maxActive: this.maxActive,
      ...this.counters,
      recent: [...this.recent],
      abortedCalls: [...this.aborts],
    };
  }
}
