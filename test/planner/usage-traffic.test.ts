import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import type { UsageRecord } from '../../lambda/core/ports.ts';
import type { TableNames } from '../../lambda/store/tables.ts';
import { DynamoUsageMeter } from '../../lambda/store/usage-meter.ts';
import { startEmbeddedDynamo, type EmbeddedDynamo } from '../../local/embedded-dynamo.ts';
import { planCommand } from '../../bin/commands/plan.ts';
import { measureTraffic, readUsageWindow } from '../../planner/usage-traffic.ts';
import { TrafficError } from '../../planner/traffic.ts';
import { mulberry32 } from '../../sim/prng.ts';
import { silentLogger } from '../helpers/silent-logger.ts';
import { freshTables } from '../store/helpers.ts';

const START = Date.UTC(2026, 11, 7, 10, 0, 0);
const WINDOW_S = 600;

/** `n` requests of `tenant` spread over the window; one in four asks for the priority tier. */
function records(tenant: string, n: number, seed: number): UsageRecord[] {
  const rnd = mulberry32(seed);
  return Array.from({ length: n }, (_, i) => ({
    requestId: `${tenant}-${i}`,
    tenantId: tenant,
    tierAsked: i % 4 === 0 ? 'priority' : 'default',
    tierServed: i % 4 === 0 ? 'priority' : 'default',
    route: 'disaggregated',
    pools: ['prefill', 'decode'],
    model: 'llama-3.1-8b',
    promptTokens: Math.round(300 * Math.exp(0.5 * (rnd() - 0.5))),
    completionTokens: Math.round(120 * Math.exp(0.5 * (rnd() - 0.5))),
    ttftMs: 50,
    tpotMs: 2,
    sloMet: true,
    costUnits: 420,
    totalMs: 400,
    outcome: 'ok',
    startedAt: START + Math.floor((i * WINDOW_S * 1000) / n),
  }));
}

let store: EmbeddedDynamo;
let names: TableNames;
beforeAll(async () => {
  store = await startEmbeddedDynamo();
  names = await freshTables(store);
  const meter = new DynamoUsageMeter(store.client, names.usage, { logger: silentLogger, flushIntervalMs: 0, flushAtRecords: 10_000 });
  // 1,200 requests of acme in the 10-minute window (2 req/s), 300 of beta, and some outside it.
  for (const r of [...records('acme', 1_200, 1), ...records('beta', 300, 2)]) meter.record(r);
  for (const r of records('acme', 50, 3)) meter.record({ ...r, requestId: `late-${r.requestId}`, startedAt: START + WINDOW_S * 1000 + 1 });
  await meter.flush();
});
afterAll(async () => {
  await store?.close();
});

describe('splitserve plan --from-usage', () => {
  it('measures rate, lengths and tier shares from the metered requests of a window', async () => {
    const rs = await readUsageWindow(store.client, names.usage, ['acme'], START, START + WINDOW_S * 1000);
    expect(rs).toHaveLength(1_200);
    const m = measureTraffic(rs, START, START + WINDOW_S * 1000);
    expect(m.ratePerSecond).toBeCloseTo(2, 9);
    expect(m.tiers.map((t) => [t.name, t.share])).toEqual([['default', 0.75], ['priority', 0.25]]);
    expect(m.prompt.median).toBeGreaterThan(270);
    expect(m.prompt.median).toBeLessThan(330);
    expect(m.completion.max).toBeLessThanOrEqual(Math.ceil(120 * Math.exp(0.25)));
    expect(() => measureTraffic([], START, START + 1)).toThrow(TrafficError);
    expect(() => measureTraffic([{ ...rs[0]!, tierAsked: 'gold' }], START, START + 1000)).toThrow(/tier "gold" has no SLO: give it/);
  });

  it('plans from it through the CLI, with both tenants counted', async () => {
    let out = '';
    const spy = vi.spyOn(process.stdout, 'write').mockImplementation((c) => ((out += String(c)), true));
    try {
      const code = await planCommand([
        '--from-usage', '--endpoint', store.endpoint, '--usage-table', names.usage, '--tenant', 'acme', '--tenant', 'beta',
        '--window-start', new Date(START).toISOString(), '--window-end', new Date(START + WINDOW_S * 1000).toISOString(),
        '--tier', 'default:1:1000:50', '--duration', '10', '--json',
      ]);
      const doc = JSON.parse(out) as { traffic: { ratePerSecond: number; tiers: { name: string; share: number; tpotMs: number }[] }; measured: string; sloMet: boolean };
      expect(code).toBe(0);
      expect(doc.measured).toMatch(/^measured from 1500 metered requests of acme, beta between 2026-12-07T10:00:00.000Z/);
      expect(doc.traffic.ratePerSecond).toBeCloseTo(2.5, 9);
      // The priority tier's SLO comes from the default tiers by name; default's from --tier.
      expect(doc.traffic.tiers.find((t) => t.name === 'priority')!.tpotMs).toBe(5);
      expect(doc.sloMet).toBe(true);
    } finally {
      spy.mockRestore();
    }
  });

  it('refuses --from-usage without its endpoint, tenant or window, and usage flags without it', async () => {
    const err = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(await planCommand(['--from-usage', '--tenant', 'acme', '--window-start', '2026-12-07T10:00:00Z'])).toBe(2);
      expect(await planCommand(['--from-usage', '--endpoint', store.endpoint, '--window-start', '2026-12-07T10:00:00Z'])).toBe(2);
      expect(await planCommand(['--from-usage', '--endpoint', store.endpoint, '--tenant', 'acme', '--window-start', 'yesterday'])).toBe(2);
      expect(await planCommand(['--rate', '3', '--mix', 'chat', '--tenant', 'acme'])).toBe(2);
    } finally {
      err.mockRestore();
    }
  });
});
