import { afterEach, describe, expect, it, vi } from 'vitest';
import type { UsageRecord } from '../../lambda/core/ports.ts';
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

describe('per-request EMF metrics', () => {
  afterEach(() => vi.restoreAllMocks());

  it('emits one EMF record per request, by tier served, route and outcome', () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    new PowertoolsRequestMetrics().record(usage, true);
    const emf = lines.map((l) => JSON.parse(l)).filter((r) => r._aws);
    expect(emf).toHaveLength(1);
    const record = emf[0];
    expect(record._aws.CloudWatchMetrics[0].Namespace).toBe(METRICS_NAMESPACE);
    expect(record._aws.CloudWatchMetrics[0].Dimensions[0]).toEqual(expect.arrayContaining(['tier', 'route', 'outcome']));
    expect(record).toMatchObject({ tier: 'default', route: 'aggregated', outcome: 'ok', Requests: 1, TimeToFirstToken: 45, Latency: 300, PromptTokens: 12, CompletionTokens: 30, TierChanged: 1, KvRecompute: 1 });
    expect(JSON.stringify(record)).not.toContain('acme');
  });

  it('one instance keeps requests apart: each record has only its own dimensions and metrics', () => {
    const lines: string[] = [];
    vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    const metrics = new PowertoolsRequestMetrics();
    metrics.record(usage, true);
    metrics.record({ ...usage, tierAsked: 'priority', tierServed: 'priority', route: 'disaggregated', ttftMs: null, outcome: 'error' }, false);
    const emf = lines.map((l) => JSON.parse(l)).filter((r) => r._aws);
    expect(emf).toHaveLength(2);
    expect(emf[1]).toMatchObject({ tier: 'priority', route: 'disaggregated', outcome: 'error', Requests: 1 });
    expect(emf[1]).not.toHaveProperty('TimeToFirstToken');
    expect(emf[1]).not.toHaveProperty('TierChanged');
    expect(emf[1]).not.toHaveProperty('KvRecompute');
  });
});
