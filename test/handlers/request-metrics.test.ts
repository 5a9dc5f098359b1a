import { afterEach, describe, expect, it, vi } from 'vitest';
import { METRICS } from '../../lambda/core/metric-catalogue.ts';
import type { PoolGauge, UsageRecord } from '../../lambda/core/ports.ts';
import { METRICS_NAMESPACE, PowertoolsRequestMetrics } from '../../lambda/handlers/request-metrics.ts';

const usage: UsageRecord = {
  requestId: 'req_1',
  tenantId: 'acme',
  tierAsked: 'priority',
  tierServed: 'default',
  route: 'aggregated',
  pools: ['gpu'],
  model: 'm',
  promptTokens: 12,
  completionTokens: 30,
  ttftMs: 45,
  tpotMs: 8.8,
  sloMet: true,
  costUnits: 42,
  totalMs: 300,
  outcome: 'ok',
  startedAt: 0,
};

interface EmfRecord {
  _aws: { Timestamp: number; CloudWatchMetrics: Array<{ Namespace: string; Dimensions: string[][]; Metrics: Array<{ Name: string; Unit: string }> }> };
  [key: string]: unknown;
}

/** The EMF records written to stdout while `run` runs; it must write no warning. */
function emfOf(run: () => void): EmfRecord[] {
  const lines: string[] = [];
  const warnings: string[] = [];
  const spy = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  const warned = vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
    warnings.push(String(chunk));
    return true;
  });
  try {
    run();
  } finally {
    spy.mockRestore();
    warned.mockRestore();
  }
  expect(warnings).toEqual([]);
  return lines
    .flatMap((l) => l.split('\n'))
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l) as EmfRecord)
    .filter((r) => r._aws);
}

const pools = (gauges: PoolGauge[]) => ({ poolGauges: () => gauges });

describe('EMF metrics per the catalogue', () => {
  afterEach(() => vi.restoreAllMocks());

  it('one record per request, with the dimension sets [tier, route, outcome] and [tier] and nothing else (no service dimension)', () => {
    const emf = emfOf(() => new PowertoolsRequestMetrics().record({ ...usage, tierServed: 'priority' }, { kvRecomputed: true, plannedTier: 'priority' }));
    expect(emf).toHaveLength(1);
    const record = emf[0]!;
    expect(record._aws.CloudWatchMetrics).toHaveLength(1);
    const directive = record._aws.CloudWatchMetrics[0]!;
    expect(directive.Namespace).toBe(METRICS_NAMESPACE);
    expect(directive.Dimensions).toEqual([['tier', 'route', 'outcome'], ['tier']]);
    expect(record).not.toHaveProperty('service');
    expect(record).toMatchObject({
      tier: 'priority',
      route: 'aggregated',
      outcome: 'ok',
      Requests: 1,
      Latency: 300,
      TimeToFirstToken: 45,
      TimePerOutputToken: 8.8,
      SloJudged: 1,
      SloAttained: 1,
      PromptTokens: 12,
      CompletionTokens: 30,
      KvRecompute: 1,
    });
    expect(record).not.toHaveProperty('Fallbacks');
    // High-cardinality values are properties, never dimensions.
    expect(record).toMatchObject({ tenant: 'acme', requestId: 'req_1' });
    expect(directive.Dimensions.flat()).not.toContain('tenant');
    expect(directive.Dimensions.flat()).not.toContain('requestId');
    const units = Object.fromEntries(directive.Metrics.map((m) => [m.Name, m.Unit]));
    expect(units).toMatchObject({ Requests: 'Count', Latency: 'Milliseconds', TimeToFirstToken: 'Milliseconds', TimePerOutputToken: 'Milliseconds', SloAttained: 'Count' });
  });

  it('a missed SLO is SloAttained 0; a request without a verdict has neither SloJudged nor SloAttained', () => {
    const emf = emfOf(() => {
      const metrics = new PowertoolsRequestMetrics();
      metrics.record({ ...usage, tierServed: 'priority', sloMet: false }, { kvRecomputed: false, plannedTier: 'priority' });
      metrics.record({ ...usage, tierServed: 'priority', sloMet: null, ttftMs: null, tpotMs: null, outcome: 'aborted' }, { kvRecomputed: false, plannedTier: 'priority' });
    });
    expect(emf).toHaveLength(2);
    expect(emf[0]).toMatchObject({ SloJudged: 1, SloAttained: 0 });
    expect(emf[1]).not.toHaveProperty('SloJudged');
    expect(emf[1]).not.toHaveProperty('SloAttained');
    expect(emf[1]).not.toHaveProperty('TimeToFirstToken');
    expect(emf[1]).not.toHaveProperty('KvRecompute');
  });

  it('a request served at another tier than planned adds one Fallbacks record by the tier planned', () => {
    const emf = emfOf(() => new PowertoolsRequestMetrics().record(usage, { kvRecomputed: false, plannedTier: 'priority' }));
    expect(emf).toHaveLength(2);
    expect(emf[0]).toMatchObject({ tier: 'default', Requests: 1 });
    expect(emf[0]).not.toHaveProperty('Fallbacks');
    expect(emf[1]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['tier']]);
    expect(emf[1]).toMatchObject({ tier: 'priority', Fallbacks: 1, tierServed: 'default', tenant: 'acme', requestId: 'req_1' });
    expect(emf[1]).not.toHaveProperty('Requests');
  });

  it('refusals by [tier, reason] and backend errors by [pool, class], with the request id as a property', () => {
    const emf = emfOf(() => {
      const metrics = new PowertoolsRequestMetrics();
      metrics.refused({ requestId: 'req_2', tenantId: 'acme', tier: 'priority', reason: 'tokens' });
      metrics.backendError({ requestId: 'req_3', pool: 'cs3-decode', errorClass: 'http-5xx', upstreamStatus: 500 });
    });
    expect(emf).toHaveLength(2);
    expect(emf[0]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['tier', 'reason']]);
    expect(emf[0]).toMatchObject({ tier: 'priority', reason: 'tokens', Refused: 1, tenant: 'acme', requestId: 'req_2' });
    expect(emf[1]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['pool', 'class']]);
    expect(emf[1]).toMatchObject({ pool: 'cs3-decode', class: 'http-5xx', BackendErrors: 1, requestId: 'req_3', upstreamStatus: '500' });
  });

  it('publishes the pool gauges at most once per interval, one record per pool by [pool, role]', () => {
    let now = 1_000_000;
    const gauges: PoolGauge[] = [
      { pool: 'trn-prefill', role: 'prefill', endpoints: 1, healthy: 1, inFlight: 3 },
      { pool: 'cs3-decode', role: 'decode', endpoints: 2, healthy: 1, inFlight: 5 },
    ];
    const emf = emfOf(() => {
      const metrics = new PowertoolsRequestMetrics({ pools: pools(gauges), gaugeIntervalMs: 60_000, now: () => now });
      const facts = { kvRecomputed: false, plannedTier: 'default' };
      metrics.record(usage, facts); // request + 2 gauges
      now += 59_999;
      metrics.record(usage, facts); // request only
      metrics.refused({ requestId: 'r', tenantId: 't', tier: 'default', reason: 'overload' }); // refusal only
      now += 1;
      metrics.record(usage, facts); // request + 2 gauges
    });
    const gaugeRecords = emf.filter((r) => 'PoolInFlight' in r);
    expect(emf).toHaveLength(3 + 1 + 4);
    expect(gaugeRecords).toHaveLength(4);
    for (const r of gaugeRecords) expect(r._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['pool', 'role']]);
    expect(gaugeRecords[1]).toMatchObject({ pool: 'cs3-decode', role: 'decode', PoolHealthyEndpoints: 1, PoolInFlight: 5 });
    expect(gaugeRecords[1]).not.toHaveProperty('tenant');
  });

  it('every metric of the catalogue is emitted with its unit and its dimension set', () => {
    const emf = emfOf(() => {
      const metrics = new PowertoolsRequestMetrics({ pools: pools([{ pool: 'gpu', role: 'both', endpoints: 1, healthy: 1, inFlight: 0 }]) });
      metrics.record(usage, { kvRecomputed: true, plannedTier: 'priority' });
      metrics.refused({ requestId: 'r', tenantId: 't', tier: 'default', reason: 'requests' });
      metrics.backendError({ requestId: 'r', pool: 'gpu', errorClass: 'timeout', upstreamStatus: null });
    });
    for (const spec of Object.values(METRICS)) {
      const carrying = emf.filter((r) => r._aws.CloudWatchMetrics[0]!.Metrics.some((m) => m.Name === spec.name && m.Unit === spec.unit));
      expect(carrying.length, spec.name).toBeGreaterThan(0);
      for (const r of carrying) expect(r._aws.CloudWatchMetrics[0]!.Dimensions, spec.name).toContainEqual([...spec.dimensions]);
    }
  });

  it('one instance keeps requests apart: each record has only its own dimensions and metrics', () => {
    const emf = emfOf(() => {
      const metrics = new PowertoolsRequestMetrics();
      metrics.record(usage, { kvRecomputed: true, plannedTier: 'default' });
      metrics.record({ ...usage, requestId: 'req_9', tierServed: 'priority', route: 'disaggregated', ttftMs: null, tpotMs: null, outcome: 'error' }, { kvRecomputed: false, plannedTier: 'priority' });
    });
    expect(emf).toHaveLength(2);
    expect(emf[1]!._aws.CloudWatchMetrics[0]!.Dimensions).toEqual([['tier', 'route', 'outcome'], ['tier']]);
    expect(emf[1]).toMatchObject({ tier: 'priority', route: 'disaggregated', outcome: 'error', Requests: 1, requestId: 'req_9' });
    expect(emf[1]).not.toHaveProperty('TimeToFirstToken');
    expect(emf[1]).not.toHaveProperty('KvRecompute');
  });

  it('writes nothing when POWERTOOLS_METRICS_DISABLED is set (the local runtimes)', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    try {
      const emf = emfOf(() => {
        const metrics = new PowertoolsRequestMetrics({ pools: pools([{ pool: 'gpu', role: 'both', endpoints: 1, healthy: 1, inFlight: 0 }]) });
        metrics.record(usage, { kvRecomputed: true, plannedTier: 'priority' });
        metrics.refused({ requestId: 'r', tenantId: 't', tier: 'default', reason: 'requests' });
        metrics.backendError({ requestId: 'r', pool: 'gpu', errorClass: 'timeout', upstreamStatus: null });
      });
      expect(emf).toEqual([]);
    } finally {
      vi.unstubAllEnvs();
    }
  });
});
