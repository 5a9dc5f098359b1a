import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import type { PrometheusFamily } from 'parse-prometheus-text-format';
import { describe, expect, it } from 'vitest';
import type { SplitserveConfig } from '../../lambda/core/config.ts';
import { METRICS } from '../../lambda/core/metric-catalogue.ts';
import { HISTOGRAM_BOUNDS, MetricsAggregate, RECENT_ERRORS, WINDOW_CAPACITY } from '../../lambda/core/metrics-aggregate.ts';
import type { UsageRecord } from '../../lambda/core/ports.ts';
import { prometheusText } from '../../lambda/core/prometheus-text.ts';
import { quantile, RecentSamples } from '../../lambda/core/recent-samples.ts';

const tiers: SplitserveConfig['tiers'] = {
  priority: { route: { mode: 'disaggregated', prefill: 'p', decode: 'd' }, slo: { ttftMs: 300, tpotMs: 5 }, priceFactor: 2 },
  default: { route: { mode: 'aggregated', pool: 'gpu' }, slo: { ttftMs: 1000, tpotMs: 50 }, priceFactor: 1 },
} as SplitserveConfig['tiers'];

const usage = (over: Partial<UsageRecord> = {}): UsageRecord => ({
  requestId: 'req_secret_1',
  tenantId: 'tenant-secret',
  tierAsked: 'priority',
  tierServed: 'priority',
  route: 'disaggregated',
  pools: ['p', 'd'],
  model: 'm',
  promptTokens: 10,
  completionTokens: 20,
  ttftMs: 120,
  tpotMs: 4,
  sloMet: true,
  costUnits: 60,
  totalMs: 200,
  outcome: 'ok',
  startedAt: 0,
  ...over,
});

const facts = { kvRecomputed: false, plannedTier: 'priority' };

function family(families: PrometheusFamily[], name: string): PrometheusFamily {
  const found = families.find((f) => f.name === name);
  if (!found) throw new Error(`no family ${name}`);
  return found;
}

describe('MetricsAggregate: Prometheus text', () => {
  it('renders every catalogue metric under its Prometheus name and type, and parses', () => {
    const aggregate = new MetricsAggregate({ tiers });
    aggregate.watchPools({ poolGauges: () => [{ pool: 'd', role: 'decode', endpoints: 2, healthy: 2, inFlight: 1 }] });
    aggregate.record(usage(), facts);
    const families = parsePrometheusTextFormat(aggregate.prometheusText());
    for (const spec of Object.values(METRICS)) {
      const f = family(families, spec.prometheus);
      expect(f.type, spec.prometheus).toBe(spec.prometheusType.toUpperCase());
      expect(f.help).toBe(spec.help);
    }
  });

  it('counts by the catalogue dimensions, milliseconds as seconds in fixed buckets', () => {
    const aggregate = new MetricsAggregate({ tiers });
    aggregate.record(usage({ ttftMs: 120, tpotMs: 4, totalMs: 200 }), { kvRecomputed: true, plannedTier: 'priority' });
    aggregate.record(usage({ ttftMs: 400, tpotMs: 6, totalMs: 900, sloMet: false }), facts);
    aggregate.record(usage({ tierServed: 'default', route: 'aggregated', ttftMs: null, tpotMs: null, sloMet: null, outcome: 'error', totalMs: 50, promptTokens: 0, completionTokens: 0 }), facts);
    aggregate.refused({ requestId: 'r', tenantId: 'tenant-secret', tier: 'priority', reason: 'tokens' });
    aggregate.refused({ requestId: 'r', tenantId: 'tenant-secret', tier: 'priority', reason: 'overload' });
    aggregate.refused({ requestId: 'r', tenantId: 'tenant-secret', tier: 'priority', reason: 'overload' });
    aggregate.backendError({ requestId: 'r', pool: 'd', errorClass: 'http-5xx', upstreamStatus: 500 });
    const text = aggregate.prometheusText();
    const families = parsePrometheusTextFormat(text);

    const requests = family(families, 'splitserve_requests_total').metrics;
    expect(requests).toContainEqual({ labels: { tier: 'priority', route: 'disaggregated', outcome: 'ok' }, value: '2' });
    expect(requests).toContainEqual({ labels: { tier: 'default', route: 'aggregated', outcome: 'error' }, value: '1' });
    expect(family(families, 'splitserve_slo_judged_total').metrics).toEqual([{ labels: { tier: 'priority' }, value: '2' }]);
    expect(family(families, 'splitserve_slo_attained_total').metrics).toEqual([{ labels: { tier: 'priority' }, value: '1' }]);
    // A request that failed was served by the tier it was planned at: no fallback; the one planned at priority and served at default is one.
    expect(family(families, 'splitserve_fallbacks_total').metrics).toEqual([{ labels: { tier: 'priority' }, value: '1' }]);
    expect(family(families, 'splitserve_kv_recompute_total').metrics).toEqual([{ labels: { tier: 'priority' }, value: '1' }]);
    expect(family(families, 'splitserve_refused_total').metrics).toEqual([
      { labels: { tier: 'priority', reason: 'tokens' }, value: '1' },
      { labels: { tier: 'priority', reason: 'overload' }, value: '2' },
    ]);
    expect(family(families, 'splitserve_backend_errors_total').metrics).toEqual([{ labels: { pool: 'd', class: 'http-5xx' }, value: '1' }]);
    expect(family(families, 'splitserve_completion_tokens_total').metrics).toContainEqual({ labels: { tier: 'priority' }, value: '40' });

    // The parser folds a histogram's labelled series into one (it reads `le` only): its buckets
    // are checked on the text, where each series is whole.
    expect(family(families, 'splitserve_ttft_seconds').type).toBe('HISTOGRAM');
    const lines = text.split('\n');
    const ttft = lines.filter((l) => l.startsWith('splitserve_ttft_seconds'));
    expect(ttft).toHaveLength(HISTOGRAM_BOUNDS.ttft.length + 1 + 2);
    expect(ttft).toContain('splitserve_ttft_seconds_bucket{tier="priority",le="0.1"} 0');
    expect(ttft).toContain('splitserve_ttft_seconds_bucket{tier="priority",le="0.2"} 1'); // 120 ms
    expect(ttft).toContain('splitserve_ttft_seconds_bucket{tier="priority",le="0.3"} 1');
    expect(ttft).toContain('splitserve_ttft_seconds_bucket{tier="priority",le="0.5"} 2'); // 400 ms
    expect(ttft).toContain('splitserve_ttft_seconds_bucket{tier="priority",le="+Inf"} 2');
    expect(ttft).toContain('splitserve_ttft_seconds_count{tier="priority"} 2');
    expect(Number(ttft.find((l) => l.startsWith('splitserve_ttft_seconds_sum'))!.split(' ')[1])).toBeCloseTo(0.52, 6);
    // Cumulative buckets never decrease.
    const counts = ttft.filter((l) => l.includes('_bucket')).map((l) => Number(l.split(' ')[1]));
    expect(counts).toEqual([...counts].sort((a, b) => a - b));
    // A request without TTFT is not observed; its latency is.
    expect(lines.filter((l) => l.startsWith('splitserve_request_duration_seconds_count'))).toEqual([
      'splitserve_request_duration_seconds_count{tier="priority"} 2',
      'splitserve_request_duration_seconds_count{tier="default"} 1',
    ]);

    // Tenant-free by construction.
    expect(text).not.toContain('tenant-secret');
    expect(text).not.toContain('req_secret');
  });

  it('pool gauges over several sources: in-flight adds up, healthy is the least any source sees', () => {
    const aggregate = new MetricsAggregate({ tiers });
    aggregate.watchPools({ poolGauges: () => [{ pool: 'd', role: 'decode', endpoints: 2, healthy: 2, inFlight: 3 }] });
    aggregate.watchPools({ poolGauges: () => [{ pool: 'd', role: 'decode', endpoints: 2, healthy: 1, inFlight: 4 }] });
    const families = parsePrometheusTextFormat(aggregate.prometheusText());
    expect(family(families, 'splitserve_pool_in_flight').metrics).toEqual([{ labels: { pool: 'd', role: 'decode' }, value: '7' }]);
    expect(family(families, 'splitserve_pool_healthy_endpoints').metrics).toEqual([{ labels: { pool: 'd', role: 'decode' }, value: '1' }]);
  });

  it('escapes label values and help text as the format requires', () => {
    const text = prometheusText([{ name: 'x_total', help: 'a \\ b\nc', type: 'counter', series: [{ labels: { pool: 'we"ird\\\n' }, value: 1 }] }]);
    expect(text).toBe('# HELP x_total a \\\\ b\\nc\n# TYPE x_total counter\nx_total{pool="we\\"ird\\\\\\n"} 1\n');
    expect(parsePrometheusTextFormat(text)[0]!.metrics[0]!.labels).toEqual({ pool: 'we"ird\\\n' });
  });
});

describe('MetricsAggregate: the status snapshot', () => {
  it('live percentiles, attainment and rates over the window; tiers listed with their SLOs before any traffic', () => {
    let now = 1_000_000;
    const aggregate = new MetricsAggregate({ tiers, windowMs: 60_000, now: () => now });
    expect(aggregate.status().tiers.map((t) => [t.tier, t.slo, t.requests, t.ttftMs.p50])).toEqual([
      ['priority', { ttftMs: 300, tpotMs: 5 }, 0, null],
      ['default', { ttftMs: 1000, tpotMs: 50 }, 0, null],
    ]);
    // An old request, out of the window by the time of the snapshot.
    aggregate.record(usage({ ttftMs: 5000, sloMet: false }), facts);
    now += 61_000;
    for (let i = 1; i <= 100; i++) aggregate.record(usage({ ttftMs: i, tpotMs: i / 10, sloMet: i <= 90 }), facts);
    aggregate.refused({ requestId: 'r', tenantId: 't', tier: 'priority', reason: 'overload' });
    const priority = aggregate.status().tiers.find((t) => t.tier === 'priority')!;
    expect(priority.requests).toBe(101);
    expect(priority.ttftMs).toEqual({ p50: 50, p99: 99, samples: 100 });
    expect(priority.tpotMs).toEqual({ p50: 5, p99: 9.9, samples: 100 });
    expect(priority.sloAttainment).toBeCloseTo(0.9, 6);
    expect(priority.judged).toBe(100);
    expect(priority.requestsPerSecond).toBe(10); // 100 in the last 10 s
    expect(priority.refused).toEqual({ requests: 0, tokens: 0, quota: 0, 'too-large': 0, overload: 1 });
    expect(priority.refusedPerSecond).toBe(0.1);
  });

  it('per pool: gauges and the last errors, newest first, bounded, with nothing of the request', () => {
    let now = 0;
    const aggregate = new MetricsAggregate({ tiers, now: () => now });
    aggregate.watchPools({ poolGauges: () => [{ pool: 'd', role: 'decode', endpoints: 2, healthy: 1, inFlight: 2 }] });
    for (let i = 0; i < RECENT_ERRORS + 5; i++) {
      now = i;
      aggregate.backendError({ requestId: 'req_secret', pool: 'd', errorClass: i % 2 ? 'timeout' : 'http-5xx', upstreamStatus: i % 2 ? null : 502 });
    }
    const [pool] = aggregate.status().pools;
    expect(pool).toMatchObject({ pool: 'd', role: 'decode', endpoints: 2, healthy: 1, inFlight: 2, errors: RECENT_ERRORS + 5 });
    expect(pool!.recentErrors).toHaveLength(RECENT_ERRORS);
    expect(pool!.recentErrors[0]).toEqual({ at: RECENT_ERRORS + 4, errorClass: 'http-5xx', upstreamStatus: 502 });
    expect(JSON.stringify(aggregate.status())).not.toContain('req_secret');
  });

  it('does not grow with traffic: the window keeps its capacity', () => {
    let now = 0;
    const aggregate = new MetricsAggregate({ tiers, windowMs: 10 * WINDOW_CAPACITY, now: () => now });
    for (let i = 0; i < WINDOW_CAPACITY * 3; i++) {
      now = i;
      aggregate.record(usage({ ttftMs: i }), facts);
    }
    const priority = aggregate.status().tiers.find((t) => t.tier === 'priority')!;
    expect(priority.ttftMs.samples).toBe(WINDOW_CAPACITY);
    expect(priority.requests).toBe(WINDOW_CAPACITY * 3);
    // The ring full of samples 1 ms apart: the rate is measured over the span it covers.
    expect(priority.requestsPerSecond).toBeGreaterThan(900);
  });
});

describe('RecentSamples and quantile', () => {
  it('keeps the last samples in order', () => {
    const ring = new RecentSamples<{ at: number }>(3);
    for (let at = 1; at <= 5; at++) ring.add({ at });
    expect(ring.size).toBe(3);
    expect(ring.since(0).map((s) => s.at)).toEqual([3, 4, 5]);
    expect(ring.since(4).map((s) => s.at)).toEqual([4, 5]);
    expect(() => new RecentSamples(0)).toThrow(RangeError);
  });

  it('quantile by nearest rank', () => {
    expect(quantile([], 0.5)).toBeNull();
    expect(quantile([5, 1, 3], 0.5)).toBe(3);
    expect(quantile([1, 2, 3, 4], 0.99)).toBe(4);
    expect(quantile([1, 2, 3, 4], 0)).toBe(1);
  });
});
