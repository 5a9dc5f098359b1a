/**
 * What the platform-agnostic core needs from the outside world, as small interfaces. The
 * DynamoDB implementations live in lambda/store/; tests and the local runtime pass real ones.
 */
import type { TenantLimits, TierName } from './config.ts';

/** A tenant as the request path sees it. */
export interface Tenant {
  readonly id: string;
  /** Tiers this tenant may be served at. */
  readonly tiers: readonly TierName[];
  /** Per-tier limits; a tier without an entry is unlimited. */
  readonly limits: Partial<Record<TierName, TenantLimits>>;
  readonly disabled: boolean;
}

/** Who is calling: the tenant behind an API key. */
export interface Principal {
  readonly tenant: Tenant;
  /** Public identifier of the key (never the key, never its hash). */
  readonly keyId: string;
  readonly keyDisabled: boolean;
}

/** Resolves the SHA-256 (hex) of an API key to its principal, through a short cache. */
export interface KeyResolver {
  /** The principal of a key hash; undefined for an unknown (or revoked) key. */
  resolve(keyHash: string): Promise<Principal | undefined>;
}

/** Rate-limit figures for the `x-ratelimit-*` response headers; absent fields are not sent. */
export interface RateLimitState {
  readonly limitRequests?: number;
  readonly remainingRequests?: number;
  readonly resetRequestsMs?: number;
  readonly limitTokens?: number;
  readonly remainingTokens?: number;
  readonly resetTokensMs?: number;
}

/** What admission needs to decide. */
export interface AdmissionRequest {
  readonly requestId: string;
  readonly tenant: Tenant;
  readonly tier: TierName;
  /** Tokens reserved: an upper bound of the prompt + the completion limit (lambda/core/token-estimate.ts). */
  readonly reserveTokens: number;
  /**
   * The granted tier's price factor: the monthly budget reserves ⌈reserveTokens × priceFactor⌉
   * cost units (lambda/core/cost.ts). @default 1
   */
  readonly priceFactor?: number;
}

/** What a request really used, as `settle` reconciles it. */
export interface UsedAmounts {
  readonly tokens: number;
  /** Cost units at the tier that served it (the monthly budget's unit). */
  readonly costUnits: number;
}

/** An admitted request; `settle` reconciles the reservation with what was really used. */
export interface AdmissionTicket {
  readonly rateLimit: RateLimitState;
  /** Called exactly once when the request ends (success, abort, failure, fallback). */
  settle(used: UsedAmounts): void;
}

/**
 * Admits a request against the tenant's windows, or throws RateLimitError /
 * InsufficientQuotaError.
 */
export interface Admission {
  /** A ticket for an admitted request; a rejection for a refused one. */
  admit(request: AdmissionRequest): Promise<AdmissionTicket>;
  /**
   * True when `request` is all but certain to be admitted by a store write (what the last
   * admission of its tenant and tier in this process left in the current window, less the requests
   * asked about since, is ample): the gateway may then start the backend calls while the write is
   * in flight. Asking counts the request. False when unsure, or when admission needs no write.
   */
  admitsLikely?(request: AdmissionRequest): boolean;
}

/** Who asked what of which tier and route: what a usage record and an open marker both name. */
export interface RequestIdentity {
  readonly requestId: string;
  readonly tenantId: string;
  readonly tierAsked: string;
  readonly tierServed: string;
  readonly route: string;
  readonly pools: readonly string[];
  readonly model: string;
  readonly startedAt: number;
}

/** One metered request (the Usage table's record). */
export interface UsageRecord extends RequestIdentity {
  readonly promptTokens: number;
  readonly completionTokens: number;
  /** Time to first token (streams), ms. */
  readonly ttftMs: number | null;
  /** Mean time per output token after the first (streams of two tokens or more), ms. */
  readonly tpotMs: number | null;
  /** Whether it met the served tier's SLO; null: the tier has none, or not judged (lambda/core/usage-record.ts). */
  readonly sloMet: boolean | null;
  /** Tokens × the served tier's price factor, rounded up (lambda/core/cost.ts). */
  readonly costUnits: number;
  readonly totalMs: number;
  /**
   * `ok`, `aborted` (client went away), `error`, `shed` (refused by overload control, 429), or
   * `interrupted` (the process serving it died; written by the open-request sweep, billing the
   * reservation: lambda/store/open-requests.ts).
   */
  readonly outcome: 'ok' | 'aborted' | 'error' | 'shed' | 'interrupted';
}

/** Records usage off the request path; never drops a record (buffer, retry, flush). */
export interface UsageMeter {
  record(usage: UsageRecord): void;
  /** Resolves when every record so far is durably written. */
  flush(): Promise<void>;
}

/** What a request holds while it is served: enough to bill it if its process dies (its reservation). */
export interface OpenRequest extends RequestIdentity {
  /** The prompt's estimated tokens. */
  readonly promptTokens: number;
  /** Tokens reserved: the upper bound of what it may use (lambda/core/token-estimate.ts). */
  readonly reservedTokens: number;
  /** Cost units reserved in the month's window (⌈reservedTokens × the admitted tier's price factor⌉). */
  readonly reservedCost: number;
}

/** A request's open marker, as {@link OpenRequests.open} returns it. */
export interface OpenRequestHandle {
  /**
   * Writes the marker now if it is still gathering others, and resolves once it is durable (or
   * could not be written, which is logged); never rejects. Call it when the first byte is ready.
   */
  ready(): Promise<void>;
}

/**
 * Markers of requests being served, so that a killed process leaves no served request without a
 * usage record: a marker goes once the request's usage record is durable; a sweep bills what is
 * left (lambda/store/open-requests.ts).
 */
export interface OpenRequests {
  /** Opens a marker; the caller awaits its `ready()` before the first byte reaches the client. */
  open(request: OpenRequest): OpenRequestHandle;
  /** The usage records of these requests are durable (written by this meter or elsewhere): their markers may go. */
  recorded(requestIds: Iterable<string>): void;
}

/** What a request's metrics need besides its usage record. */
export interface RequestFacts {
  /**
   * A disaggregated request whose prefill returned no KV-transfer parameters, so decode
   * recomputed the prompt.
   */
  readonly kvRecomputed: boolean;
  /**
   * The tier the request was planned at first (the tier asked, or the one granted for `auto`):
   * a request served at another tier fell back or was moved by overload control.
   */
  readonly plannedTier: string;
}

/** Why a request was refused before any backend was called (a bounded set: lambda/core/metric-labels.ts). */
export interface Refusal {
  readonly requestId: string;
  readonly tenantId: string;
  /** The tier the request was planned at (asked, or granted for `auto`). */
  readonly tier: string;
  readonly reason: RefusalReason;
}

/** A bounded reason of a {@link Refusal}: `requests` (RPM), `tokens` (TPM), `quota` (the month's budget), `too-large` (never fits a limit), `overload` (shed). */
export type RefusalReason = 'requests' | 'tokens' | 'quota' | 'too-large' | 'overload';

/** A failed backend call, counted against its endpoint (a client that went away is none). */
export interface BackendFailure {
  readonly requestId: string;
  readonly pool: string;
  /** A bounded class (lambda/core/metric-labels.ts). */
  readonly errorClass: BackendErrorClass;
  /** The backend's HTTP status, when it answered one. */
  readonly upstreamStatus: number | null;
}

/** A bounded class of a {@link BackendFailure}. */
export type BackendErrorClass = 'timeout' | 'connection' | 'throttled' | 'http-5xx' | 'http-4xx' | 'bad-response';

/**
 * Per-request metrics (CloudWatch EMF in Lambda, a process-local aggregate on the local
 * runtimes). Every method is synchronous and cheap: it runs on the request path.
 */
export interface RequestMetrics {
  /** A request that ended (served, aborted or failed), with its usage record. */
  record(usage: UsageRecord, facts: RequestFacts): void;
  /** A request refused before a backend was called: a quota 429 or an overload shed. */
  refused(refusal: Refusal): void;
  /** A backend call that failed (counted against its endpoint). */
  backendError(failure: BackendFailure): void;
}

/** One pool's state as its gauges show it. */
export interface PoolGauge {
  readonly pool: string;
  /** The pool's `role`: `prefill`, `decode` or `both`. */
  readonly role: string;
  readonly endpoints: number;
  /** Endpoints whose health check passes and whose breaker is not open. */
  readonly healthy: number;
  /** Calls in flight from this process on the pool's endpoints. */
  readonly inFlight: number;
}

/** Reads the pools' gauges (the pool directory, lambda/backends/pool-directory.ts). */
export interface PoolGauges {
  poolGauges(): readonly PoolGauge[];
}
