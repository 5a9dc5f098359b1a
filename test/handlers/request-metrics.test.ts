import { afterEach, describe, expect, it, vi } from 'vitest';
import { METRICS } from '../../lambda/core/metric-catalogue.ts';
import type { PoolGauge, UsageRecord } from '../../lambda/core/ports.ts';
import { emfRecord } from '../../lambda/handlers/emf-record.ts';
import { EmfRequestMetrics, METRICS_NAMESPACE } from '../../lambda/handlers/request-metrics.ts';

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

interface Directive {
  Namespace: string;
  Dimensions: string[][];
  Metrics: Array<{ Name: string; Unit: string }>;
}

interface EmfRecord {
  _aws: { Timestamp: number; CloudWatchMetrics: Directive[] };
  [key: string]: unknown;
}

/** The EMF records `run` writes through an emitter it is given (enabled, whatever the environment says). */
function emfOf(run: (options: { write: (line: string) => void; disabled: false }) => void): EmfRecord[] {
  const lines: string[] = [];
  run({ write: (line) => lines.push(line), disabled: false });
  for (const line of lines) expect(line).not.toContain('\n');
  return lines.map((l) => JSON.parse(l) as EmfRecord);
}

/** A record's directives as `dimension set → metric names`. */
function directivesOf(record: EmfRecord): Record<string, string[]> {
  return Object.fromEntries(record._aws.CloudWatchMetrics.map((d) => {
    expect(d.Namespace).toBe(METRICS_NAMESPACE);
    expect(d.Dimensions).toHaveLength(1);
    return [d.Dimensions[0]!.join(','), d.Metrics.map((m) => m.Name)];
  }));
}

const pools = (gauges: PoolGauge[]) => ({ poolGauges: () => gauges });

describe('EMF metrics per the catalogue', () => {
  afterEach(() => vi.restoreAllMocks());

  it('one record per request: Requests by [tier, route, outcome], the tier metrics by [tier], nothing else', () => {
    const emf = emfOf((o) => new EmfRequestMetrics(o).record({ ...usage, tierServed: 'priority' }, { kvRecomputed: true, plannedTier: 'priority' }));
    expect(emf).toHaveLength(1);
    const record = emf[0]!;
    expect(directivesOf(record)).toEqual({
      'tier,route,outcome': ['Requests'],
      tier: ['Latency', 'TimeToFirstToken', 'TimePerOutputToken', 'SloJudged', 'SloAttained', 'PromptTokens', 'CompletionTokens', 'KvRecompute'],
    });
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
    const dimensions = record._aws.CloudWatchMetrics.flatMap((d) => d.Dimensions.flat());
    expect(dimensions).not.toContain('tenant');
    expect(dimensions).not.toContain('requestId');
    expect(record._aws.Timestamp).toBeGreaterThan(0);
  });

  it('a missed SLO is SloAttained 0; a request without a verdict has neither SloJudged nor SloAttained', () => {
    const emf = emfOf((o) => {
      const metrics = new EmfRequestMetrics(o);
      metrics.record({ ...usage, tierServed: 'priority', sloMet: false }, { kvRecomputed: false, plannedTier: 'priority' });
      metrics.record({ ...usage, tierServed: 'priority', sloMet: null, ttftMs: null, tpotMs: null, outcome: 'aborted' }, { kvRecomputed: false, plannedTier: 'priority' });
    });
    expect(emf).toHaveLength(2);
    expect(emf[0]).toMatchObject({ SloJudged: 1, SloAttained: 0 });
    expect(directivesOf(emf[1]!)).toEqual({ 'tier,route,outcome': ['Requests'], tier: ['Latency', 'PromptTokens', 'CompletionTokens'] });
    expect(emf[1]).not.toHaveProperty('SloAttained');
    expect(emf[1]).not.toHaveProperty('TimeToFirstToken');
  });

  it('a request served at another tier than planned adds one Fallbacks record by the tier planned', () => {
    const emf = emfOf((o) => new EmfRequestMetrics(o).record(usage, { kvRecomputed: false, plannedTier: 'priority' }));
    expect(emf).toHaveLength(2);
    expect(emf[0]).toMatchObject({ tier: 'default', Requests: 1 });
    expect(emf[0]).not.toHaveProperty('Fallbacks');
    expect(directivesOf(emf[1]!)).toEqual({ tier: ['Fallbacks'] });
    expect(emf[1]).toMatchObject({ tier: 'priority', Fallbacks: 1, tierServed: 'default', tenant: 'acme', requestId: 'req_1' });
    expect(emf[1]).not.toHaveProperty('Requests');
  });

  it('refusals by [tier, reason] and backend errors by [pool, class], with the request id as a property', () => {
    const emf = emfOf((o) => {
      const metrics = new EmfRequestMetrics(o);
      metrics.refused({ requestId: 'req_2', tenantId: 'acme', tier: 'priority', reason: 'tokens' });
      metrics.backendError({ requestId: 'req_3', pool: 'cs3-decode', errorClass: 'http-5xx', upstreamStatus: 500 });
      metrics.backendError({ requestId: 'req_4', pool: 'cs3-decode', errorClass: 'timeout', upstreamStatus: null });
    });
    expect(emf).toHaveLength(3);
    expect(directivesOf(emf[0]!)).toEqual({ 'tier,reason': ['Refused'] });
    expect(emf[0]).toMatchObject({ tier: 'priority', reason: 'tokens', Refused: 1, tenant: 'acme', requestId: 'req_2' });
    expect(directivesOf(emf[1]!)).toEqual({ 'pool,class': ['BackendErrors'] });
    expect(emf[1]).toMatchObject({ pool: 'cs3-decode', class: 'http-5xx', BackendErrors: 1, requestId: 'req_3', upstreamStatus: 500 });
    expect(emf[2]).not.toHaveProperty('upstreamStatus');
  });

  it('publishes the pool gauges at most once per interval, one record per pool by [pool, role]', () => {
    let now = 1_000_000;
    const gauges: PoolGauge[] = [
      { pool: 'trn-prefill', role: 'prefill', endpoints: 1, healthy: 1, inFlight: 3 },
      { pool: 'cs3-decode', role: 'decode', endpoints: 2, healthy: 1, inFlight: 5 },
    ];
    const emf = emfOf((o) => {
      const metrics = new EmfRequestMetrics({ ...o, pools: pools(gauges), gaugeIntervalMs: 60_000, now: () => now });
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
    for (const r of gaugeRecords) expect(directivesOf(r)).toEqual({ 'pool,role': ['PoolHealthyEndpoints', 'PoolInFlight'] });
    expect(gaugeRecords[1]).toMatchObject({ pool: 'cs3-decode', role: 'decode', PoolHealthyEndpoints: 1, PoolInFlight: 5 });
    expect(gaugeRecords[1]).not.toHaveProperty('tenant');
    expect(gaugeRecords[2]!._aws.Timestamp).toBe(1_060_000);
  });

  it('every metric of the catalogue is emitted with its unit, under exactly its dimension set', () => {
    const emf = emfOf((o) => {
      const metrics = new EmfRequestMetrics({ ...o, pools: pools([{ pool: 'gpu', role: 'both', endpoints: 1, healthy: 1, inFlight: 0 }]) });
      metrics.record(usage, { kvRecomputed: true, plannedTier: 'priority' });
      metrics.refused({ requestId: 'r', tenantId: 't', tier: 'default', reason: 'requests' });
      metrics.backendError({ requestId: 'r', pool: 'gpu', errorClass: 'timeout', upstreamStatus: null });
    });
    const published = emf.flatMap((r) => r._aws.CloudWatchMetrics.flatMap((d) => d.Metrics.map((m) => ({ ...m, dimensions: d.Dimensions }))));
    for (const spec of Object.values(METRICS)) {
      const found = published.filter((m) => m.Name === spec.name);
      expect(found.length, spec.name).toBeGreaterThan(0);
      for (const m of found) {
        expect(m.Unit, spec.name).toBe(spec.unit);
        expect(m.dimensions, spec.name).toEqual([[...spec.dimensions]]);
      }
    }
  });

  it('a metric without a value for one of its dimensions is refused, not published under another set', () => {
    expect(() => emfRecord(0, { metrics: [['requests', 1]], dimensions: { tier: 'priority', route: 'aggregated' } })).toThrow(/Requests needs a value for its dimension "outcome"/);
  });

  it('writes one JSON line to stdout by default; nothing when POWERTOOLS_METRICS_DISABLED is set (the local runtimes)', () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    new EmfRequestMetrics().refused({ requestId: 'r', tenantId: 't', tier: 'default', reason: 'requests' });
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'true');
    const off = new EmfRequestMetrics({ pools: pools([{ pool: 'gpu', role: 'both', endpoints: 1, healthy: 1, inFlight: 0 }]) });
    off.record(usage, { kvRecomputed: true, plannedTier: 'priority' });
    off.refused({ requestId: 'r', tenantId: 't', tier: 'default', reason: 'requests' });
    off.backendError({ requestId: 'r', pool: 'gpu', errorClass: 'timeout', upstreamStatus: null });
    vi.unstubAllEnvs();
    expect(lines).toHaveLength(1);
    expect(lines[0]!.endsWith('}\n')).toBe(true);
    expect(JSON.parse(lines[0]!)).toMatchObject({ Refused: 1, tier: 'default', reason: 'requests' });
  });
});
