/**
 * What the platform-agnostic core needs of the backends, as the interfaces it declares: the
 * transport that POSTs to an endpoint, a protocol's halves, the pools' endpoint leases and
 * queues, and the completions they answer with. lambda/backends/ implements them; the
 * composition root (lambda/handlers/gateway-runtime.ts) hands the implementations in.
 */
import type { PoolConfig, Protocol, TierConfig, TierName } from './config.ts';
import type { ApiKind } from './request-schema.ts';

/** What one upstream call needs. */
export interface UpstreamCall {
  /** Endpoint base URL, e.g. `http://127.0.0.1:8201`. */
  readonly endpoint: string;
  readonly path: string;
  readonly body: unknown;
  readonly requestId: string;
  readonly signal: AbortSignal;
  /** Longest silence allowed on the connection (before the headers and between body chunks). */
  readonly timeoutMs: number;
  /** Pool name, for error messages and logs. */
  readonly pool: string;
  /** Headers sent besides the transport's own (the pool's credential); never the client's. */
  readonly headers?: Readonly<Record<string, string>> | undefined;
}

/**
 * The body of an upstream answer, read once: chunk by chunk (async iteration) or whole
 * ({@link UpstreamBody.text}). Breaking out of the iteration, or {@link UpstreamBody.cancel},
 * closes the connection unless the body was already read to its end.
 */
export interface UpstreamBody extends AsyncIterable<Uint8Array> {
  /** Reads the rest of the body as UTF-8 text. */
  text(): Promise<string>;
  /** Stops reading; closes the connection when the body was not complete. Idempotent. */
  cancel(): void;
}

/** A successful (2xx) upstream answer whose body has not been read yet. */
export interface UpstreamReply {
  readonly status: number;
  readonly body: UpstreamBody;
}

/** POSTs JSON to backends; non-2xx answers and transport failures throw typed errors. */
export interface UpstreamTransport {
  post(call: UpstreamCall): Promise<UpstreamReply>;
  /** Closes every pooled connection. */
  close(): Promise<void>;
}

/** A completed or streaming upstream answer. */
export type UpstreamCompletion =
  | { readonly kind: 'json'; readonly json: Record<string, unknown> }
  | { readonly kind: 'stream'; readonly batches: AsyncIterator<string[]> };

/** A credential as one upstream call carries it: a header name (lower case) and its value. */
export interface CredentialHeader {
  readonly name: string;
  readonly value: string;
}

/**
 * A pool's upstream credential (lambda/backends/upstream-credential.ts): the header every call to
 * the pool's endpoints carries, read from where the pool's `auth` names it and cached with a bound.
 */
export interface UpstreamCredential {
  /**
   * The header to send now: the cached value, or read from its source on first use and once the
   * cache bound has passed (callers at that moment share one read).
   *
   * @throws UpstreamError (502, or 503 when the source is only unavailable for now) when it cannot be read; the message never holds the value
   */
  header(): Promise<CredentialHeader>;
  /**
   * The endpoint refused `sent` (HTTP 401/403): the header to retry with, read again from its
   * source unless another caller already did (rotation is picked up this way).
   */
  refused(sent: CredentialHeader): Promise<CredentialHeader>;
}

/** One chosen endpoint of a pool. */
export interface BackendTarget {
  readonly pool: string;
  readonly endpoint: string;
  readonly timeoutMs: number;
  /** Public model name → upstream model name, when they differ. */
  readonly upstreamModels?: Readonly<Record<string, string>> | undefined;
  /** The pool's credential, when its config names one (`auth`). */
  readonly credential?: UpstreamCredential | undefined;
}

/** The engine priority a call carries, and where a refusal of it is reported. */
export interface EnginePriority {
  /** The value to send, in the engine's polarity. */
  readonly value: number;
  /** The engine refused the field: remember it for this endpoint (and log it once). */
  refused(reason: string): void;
}

/** A call of one generation request to one backend. */
export interface BackendCall {
  readonly client: UpstreamTransport;
  readonly target: BackendTarget;
  readonly api: ApiKind;
  readonly requestId: string;
  readonly signal: AbortSignal;
  /** The pool's configuration (protocol settings such as `kvTransfer`, `region`, `modelIds`). */
  readonly pool?: PoolConfig;
  /** The tier being served and its configuration (Bedrock maps it to `serviceTier`). */
  readonly tier?: TierName;
  readonly tierConfig?: TierConfig;
  /**
   * The engine priority to send to an endpoint of the call (the call's own target, or, for a
   * protocol that calls two, the other one); undefined: send none (lambda/backends/engine-priority.ts).
   */
  readonly priority?: (target: BackendTarget) => EnginePriority | undefined;
}

/**
 * An endpoint taken for one call; `release` exactly once when the call ends (later calls are
 * ignored): `true` it succeeded, `false` it failed (counts against the endpoint), nothing: the
 * gateway cancelled it (no verdict on the endpoint).
 */
export interface EndpointLease {
  readonly target: BackendTarget;
  release(ok?: boolean): void;
}

/**
 * Endpoint leases for a protocol that calls prefill and decode together and retries on a fresh
 * pair (SGLang PD), handed to its `decode`.
 */
export interface PairLeases {
  /** The decode lease the step holds; release it (with its verdict) before moving to a fresh pair. */
  readonly decode: EndpointLease;
  /** Takes the prefill endpoint the prefill step chose, for the call sent with decode's. */
  prefill(endpoint: string): EndpointLease;
  /** Takes a fresh pair for a retry, avoiding `avoid` wherever the pool has another endpoint. */
  fresh(avoid: ReadonlySet<string>): { readonly prefill: EndpointLease; readonly decode: EndpointLease };
}

/** What the prefill step takes: its lease, and the decode endpoint chosen with it. */
export interface PrefillPick {
  readonly lease: EndpointLease;
  readonly decodeEndpoint?: string;
}

/** What the prefill half yields. */
export interface PrefillResult {
  /**
   * What decode needs to find the prefilled KV cache (vLLM: `kv_transfer_params`; SGLang: the
   * bootstrap coordinates); null when there is none and decode must recompute the prompt.
   */
  readonly kvTransferParams: Record<string, unknown> | null;
  /** Prompt tokens as counted by the prefill server, when known. */
  readonly promptTokens: number | null;
}

/** The two halves of a disaggregated protocol. */
export interface DisaggregatedProtocol {
  /**
   * `decode` sends prefill and decode together (SGLang); `prefill` only names the pair. The
   * pool directory reads it to lease only decode's endpoint for the pair (plan-steps.ts passes it).
   */
  readonly concurrent?: boolean;
  prefill(call: BackendCall, body: Record<string, unknown>): Promise<PrefillResult>;
  /**
   * @param params - what prefill yielded (null: recompute)
   * @param prefillTarget - the prefill endpoint used (protocols that call prefill and decode
   *   concurrently, like SGLang, call it again from here)
   * @param pairs - endpoint leases for a concurrent protocol's prefill call and fresh-pair retry
   */
  decode(call: BackendCall, body: Record<string, unknown>, params: Record<string, unknown> | null, prefillTarget: BackendTarget | null, pairs?: PairLeases): Promise<UpstreamCompletion>;
}

/** One call serving both phases. */
export interface AggregatedProtocol {
  complete(call: BackendCall, body: Record<string, unknown>): Promise<UpstreamCompletion>;
}

/** A backend protocol. */
export interface BackendProtocol {
  readonly disaggregated?: DisaggregatedProtocol;
  readonly aggregated?: AggregatedProtocol;
}

/**
 * The queue of a pool's engines as overload control needs it, over the endpoints with a fresh
 * load reading (`endpoints: 0`: no estimate, overload control stands aside).
 */
export interface PoolQueue {
  /** Endpoints in the estimate. */
  readonly endpoints: number;
  /** Requests waiting for a batch slot now, over those endpoints (load-estimate.ts). */
  readonly waiting: number;
  /** Requests in their engines now (running + waiting). */
  readonly requests: number;
  /**
   * Batch capacity of those engines (requests running when a reading last showed a queue), summed
   * over the endpoints where it is known; undefined where none is.
   */
  readonly capacity: number | undefined;
  /** Requests those engines finished per second, recently; undefined until two readings were made. */
  readonly completionsPerSecond: number | undefined;
  /** Whether the pool sends engine priorities and none of those endpoints refused them. */
  readonly honoursPriority: boolean;
}

/** Protocol name → implementation (lambda/backends/registry.ts); a protocol absent here is refused at start-up. */
export type BackendProtocols = Partial<Record<Protocol, BackendProtocol>>;

/** The pools' endpoints as the plan steps take them (lambda/backends/pool-directory.ts). */
export interface StepPools {
  /** Calls in flight from this instance on the pool's endpoints. */
  inFlight(pool: string): number;
  /**
   * Takes an endpoint for one call: `preferred` when it is available, else the pool's policy's
   * choice (by `key`, the request's routing key, on a pool with `affinity`); throws a retryable
   * UpstreamError when none is.
   */
  acquire(pool: string, preferred?: string, exclude?: ReadonlySet<string>, key?: string): EndpointLease;
  /**
   * The prefill step's pick: prefill's endpoint (leased) and decode's, chosen together (each by
   * `key` on a pool with `affinity`); `concurrent` (SGLang): the prefill lease only names its
   * endpoint, decode's call leases both.
   */
  acquirePair(prefillPool: string, decodePool: string, concurrent: boolean, key?: string): PrefillPick;
  /** The target of one endpoint of a pool (no lease). */
  target(pool: string, endpoint: string): BackendTarget;
  /** Leases for a protocol that calls prefill with decode and retries on a fresh pair. */
  pairLeases(prefillPool: string, decodePool: string, decode: EndpointLease, key?: string): PairLeases;
  /** The engine priority to send to one endpoint for a tier; undefined: send none. */
  enginePriority(pool: string, endpoint: string, tier: TierName, tierConfig: TierConfig | undefined): EnginePriority | undefined;
}
