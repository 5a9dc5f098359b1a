/**
 * The one list of splitserve's operational metrics: their CloudWatch names (embedded metric format,
 * namespace {@link METRICS_NAMESPACE}), units and dimensions, and the Prometheus names the local
 * runtimes serve on `GET /metrics`. The EMF emitter, the Prometheus exporter, the CloudWatch
 * dashboard and the alarms all read it, so a metric cannot be renamed in one place only.
 *
 * Dimensions are bounded, tenant-free values (a tier, a route, an outcome, a pool, a reason, an
 * error class): high-cardinality values (tenant, request id) go into EMF properties, never here.
 */

/** Namespace of splitserve's CloudWatch metrics. */
export const METRICS_NAMESPACE = 'Splitserve';

/** A dimension a metric may carry; every value is from a bounded set. */
export type MetricDimension = 'tier' | 'route' | 'outcome' | 'pool' | 'role' | 'reason' | 'class';

/** One metric of the catalogue. */
export interface MetricSpec {
  /** CloudWatch metric name (EMF). */
  readonly name: string;
  /** CloudWatch unit. */
  readonly unit: 'Count' | 'Milliseconds' | 'None' | 'Percent';
  /** Dimensions it is published with (one EMF dimension set). */
  readonly dimensions: readonly MetricDimension[];
  /** Prometheus name on the local `/metrics`. */
  readonly prometheus: string;
  /** Prometheus type. Milliseconds become a histogram in seconds. */
  readonly prometheusType: 'counter' | 'gauge' | 'histogram';
  /** One line for `# HELP` and the docs. */
  readonly help: string;
}

/** The catalogue, by a short key code refers to. */
export const METRICS = {
  requests: { name: 'Requests', unit: 'Count', dimensions: ['tier', 'route', 'outcome'], prometheus: 'splitserve_requests_total', prometheusType: 'counter', help: 'Requests served (metered), by tier served, route and outcome.' },
  ttft: { name: 'TimeToFirstToken', unit: 'Milliseconds', dimensions: ['tier'], prometheus: 'splitserve_ttft_seconds', prometheusType: 'histogram', help: 'Time to the first content token, by tier served.' },
  tpot: { name: 'TimePerOutputToken', unit: 'Milliseconds', dimensions: ['tier'], prometheus: 'splitserve_tpot_seconds', prometheusType: 'histogram', help: 'Mean time per output token after the first, by tier served.' },
  latency: { name: 'Latency', unit: 'Milliseconds', dimensions: ['tier'], prometheus: 'splitserve_request_duration_seconds', prometheusType: 'histogram', help: 'Whole request time, by tier served.' },
  sloAttained: { name: 'SloAttained', unit: 'Count', dimensions: ['tier'], prometheus: 'splitserve_slo_attained_total', prometheusType: 'counter', help: 'Requests of a tier with an SLO that met both its TTFT and TPOT bounds (1) or not (0): the average is the attainment.' },
  sloJudged: { name: 'SloJudged', unit: 'Count', dimensions: ['tier'], prometheus: 'splitserve_slo_judged_total', prometheusType: 'counter', help: 'Requests of a tier with an SLO that were judged against it.' },
  fallbacks: { name: 'Fallbacks', unit: 'Count', dimensions: ['tier'], prometheus: 'splitserve_fallbacks_total', prometheusType: 'counter', help: 'Requests served at another tier than the one planned (a fallback, or overload control moving it), by the tier planned.' },
  refused: { name: 'Refused', unit: 'Count', dimensions: ['tier', 'reason'], prometheus: 'splitserve_refused_total', prometheusType: 'counter', help: 'Requests refused before a backend was called (quota 429s and overload sheds), by the tier planned and the reason.' },
  backendErrors: { name: 'BackendErrors', unit: 'Count', dimensions: ['pool', 'class'], prometheus: 'splitserve_backend_errors_total', prometheusType: 'counter', help: 'Failed backend calls, by pool and error class.' },
  kvRecompute: { name: 'KvRecompute', unit: 'Count', dimensions: ['tier'], prometheus: 'splitserve_kv_recompute_total', prometheusType: 'counter', help: 'Disaggregated requests whose prefill returned no KV-transfer parameters (decode recomputed the prompt).' },
  promptTokens: { name: 'PromptTokens', unit: 'Count', dimensions: ['tier'], prometheus: 'splitserve_prompt_tokens_total', prometheusType: 'counter', help: 'Prompt tokens metered, by tier served.' },
  completionTokens: { name: 'CompletionTokens', unit: 'Count', dimensions: ['tier'], prometheus: 'splitserve_completion_tokens_total', prometheusType: 'counter', help: 'Completion tokens metered, by tier served.' },
  poolHealthyEndpoints: { name: 'PoolHealthyEndpoints', unit: 'Count', dimensions: ['pool', 'role'], prometheus: 'splitserve_pool_healthy_endpoints', prometheusType: 'gauge', help: 'Endpoints of a pool that are healthy (health check passing, breaker closed).' },
  poolInFlight: { name: 'PoolInFlight', unit: 'Count', dimensions: ['pool', 'role'], prometheus: 'splitserve_pool_in_flight', prometheusType: 'gauge', help: 'Requests in flight on a pool (prefill and decode pools side by side give the P:D load).' },
} as const satisfies Record<string, MetricSpec>;

/** A key of {@link METRICS}. */
export type MetricKey = keyof typeof METRICS;
