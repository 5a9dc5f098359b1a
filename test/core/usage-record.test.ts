/**
 * Metering: cost units (tokens × the served tier's price factor, rounded up), the TPOT of a
 * stream, the SLO verdict of each outcome, and the usage record built from a plan state with an
 * explicit clock. Plain data: the tiers come from parseConfig, the state is a literal.
 */
import { describe, expect, it } from 'vitest';
import type { SplitserveConfig } from '../../lambda/core/config.ts';
import { parseConfig } from '../../lambda/core/config.ts';
import { costUnits, priceFactorOf, reservePriceFactor } from '../../lambda/core/cost.ts';
import type { PlanState } from '../../lambda/core/plan.ts';
import { sloMetOf, tpotOf, usageRecordOf } from '../../lambda/core/usage-record.ts';

const config: SplitserveConfig = parseConfig({
  pools: { agg: { protocol: 'vllm-nixl', endpoints: ['http://127.0.0.1:8000'] } },
  models: { m: { pools: ['agg'] } },
  tiers: {
    priority: { route: { mode: 'aggregated', pool: 'agg' }, slo: { ttftMs: 500, tpotMs: 50 }, priceFactor: 2, fallback: 'default' },
    default: { route: { mode: 'aggregated', pool: 'agg' }, slo: { ttftMs: 2_000, tpotMs: 100 } },
    flex: { route: { mode: 'aggregated', pool: 'agg' }, priceFactor: 0.5 },
  },
});

const SLO = { ttftMs: 500, tpotMs: 50 };

describe('costUnits', () => {
  it('is tokens × priceFactor, rounded up (TSDoc example)', () => {
    expect(costUnits(301, 1.5)).toBe(452);
  });

  it('is the tokens at a factor of 1, and exact products stay exact', () => {
    expect(costUnits(1234, 1)).toBe(1234);
    expect(costUnits(300, 2)).toBe(600);
    expect(costUnits(10, 0.5)).toBe(5);
  });

  it('rounds any fraction up: a request is never billed less than its tokens are worth', () => {
    expect(costUnits(3, 0.5)).toBe(2);
    expect(costUnits(1, 0.01)).toBe(1);
    expect(costUnits(7, 1.25)).toBe(9); // 8.75
  });

  it('does not round floating-point noise up to a whole extra unit', () => {
    const factor = 0.1 * 3; // 0.30000000000000004
    expect(100 * factor).toBeGreaterThan(30);
    expect(costUnits(100, factor)).toBe(30);
    expect(costUnits(10, 1.1)).toBe(11); // 11.000000000000002
    expect(costUnits(3, 0.1)).toBe(1); // 0.30000000000000004 → a real fraction, up to 1
  });

  it('is 0 for no tokens, whatever the factor', () => {
    expect(costUnits(0, 2)).toBe(0);
    expect(costUnits(0, 0.3)).toBe(0);
    expect(costUnits(-5, 2)).toBe(0);
  });
});

describe('priceFactorOf', () => {
  it("is the tier's priceFactor, 1 by default and for a tier not configured", () => {
    expect(priceFactorOf(config, 'priority')).toBe(2);
    expect(priceFactorOf(config, 'default')).toBe(1);
    expect(priceFactorOf(config, 'flex')).toBe(0.5);
    const one = parseConfig({ pools: config.pools, models: config.models, tiers: { default: { route: { mode: 'aggregated', pool: 'agg' } } } });
    expect(priceFactorOf(one, 'priority')).toBe(1);
  });
});

describe('reservePriceFactor', () => {
  const route = { mode: 'aggregated', pool: 'agg' } as const;
  const tiers = (t: Record<string, unknown>) => parseConfig({ pools: config.pools, models: config.models, tiers: t });

  it('is the highest factor of the tier and its fallback chain (TSDoc example)', () => {
    expect(reservePriceFactor(config, 'priority')).toBe(2);
    expect(reservePriceFactor(config, 'default')).toBe(1);
    const chain = tiers({ flex: { route, priceFactor: 0.5, fallback: 'default' }, default: { route, fallback: 'priority' }, priority: { route, priceFactor: 3 } });
    expect(reservePriceFactor(chain, 'flex')).toBe(3);
    expect(reservePriceFactor(chain, 'priority')).toBe(3);
  });

  it('ends on a fallback cycle, with every tier of the cycle counted', () => {
    const cycle = tiers({ priority: { route, priceFactor: 2, fallback: 'default' }, default: { route, fallback: 'flex' }, flex: { route, priceFactor: 4, fallback: 'default' } });
    expect(reservePriceFactor(cycle, 'priority')).toBe(4);
    expect(reservePriceFactor(cycle, 'default')).toBe(4);
  });
});

describe('tpotOf', () => {
  it('is the mean time per token after the first', () => {
    // 1000 ms total, first token at 200, 5 tokens: 800 / 4
    expect(tpotOf(1_000, 200, 5)).toBe(200);
    expect(tpotOf(250, 50, 2)).toBe(200);
  });

  it('is rounded to hundredths of a millisecond', () => {
    expect(tpotOf(1_000, 0, 4)).toBe(333.33);
    expect(tpotOf(1_000, 0, 7)).toBe(166.67);
  });

  it('is null for fewer than two tokens', () => {
    expect(tpotOf(1_000, 200, 1)).toBeNull();
    expect(tpotOf(1_000, 200, 0)).toBeNull();
  });

  it('is null without a TTFT (a non-streamed answer)', () => {
    expect(tpotOf(1_000, null, 50)).toBeNull();
  });

  it('is 0 when every token came with the first', () => {
    expect(tpotOf(300, 300, 10)).toBe(0);
  });
});

describe('sloMetOf', () => {
  const stream = (ttftMs: number | null, tpotMs: number | null, totalMs = 1_000, completionTokens = 10) => ({ ttftMs, tpotMs, totalMs, completionTokens });

  it('is null for a tier without an SLO, whatever happened', () => {
    expect(sloMetOf(undefined, 'ok', stream(10, 1))).toBeNull();
    expect(sloMetOf(undefined, 'error', stream(null, null))).toBeNull();
    expect(sloMetOf(undefined, 'ok', stream(null, null, 10, 1))).toBeNull();
  });

  it('is null for a shed request', () => {
    expect(sloMetOf(SLO, 'shed', stream(null, null, 3, 0))).toBeNull();
  });

  it('is false for a failure, however fast', () => {
    expect(sloMetOf(SLO, 'error', stream(10, 1, 20))).toBe(false);
    expect(sloMetOf(SLO, 'error', stream(null, null, 5, 0))).toBe(false);
  });

  it('judges a stream on its TTFT and TPOT, the bounds included', () => {
    expect(sloMetOf(SLO, 'ok', stream(500, 50))).toBe(true);
    expect(sloMetOf(SLO, 'ok', stream(120, 20))).toBe(true);
    expect(sloMetOf(SLO, 'ok', stream(501, 20))).toBe(false);
    expect(sloMetOf(SLO, 'ok', stream(120, 50.01))).toBe(false);
  });

  it('judges a one-token stream (no TPOT) on its TTFT alone', () => {
    expect(sloMetOf(SLO, 'ok', stream(400, null, 400, 1))).toBe(true);
    expect(sloMetOf(SLO, 'ok', stream(600, null, 600, 1))).toBe(false);
  });

  it('judges a stream aborted after its first token like a completed one', () => {
    expect(sloMetOf(SLO, 'aborted', stream(300, 40))).toBe(true);
    expect(sloMetOf(SLO, 'aborted', stream(300, 80))).toBe(false);
    expect(sloMetOf(SLO, 'aborted', stream(900, 40))).toBe(false);
  });

  it('does not judge an abort before the first token', () => {
    expect(sloMetOf(SLO, 'aborted', stream(null, null, 5_000, 0))).toBeNull();
  });

  it('judges a non-streamed answer end to end against ttftMs + tpotMs × (completion − 1)', () => {
    // 10 tokens: 500 + 50 × 9 = 950 ms allowed
    expect(sloMetOf(SLO, 'ok', stream(null, null, 950, 10))).toBe(true);
    expect(sloMetOf(SLO, 'ok', stream(null, null, 951, 10))).toBe(false);
    // one token: the TTFT bound alone
    expect(sloMetOf(SLO, 'ok', stream(null, null, 500, 1))).toBe(true);
    expect(sloMetOf(SLO, 'ok', stream(null, null, 501, 1))).toBe(false);
  });

  it('allows a non-streamed answer of no tokens the TTFT bound, not less', () => {
    expect(sloMetOf(SLO, 'ok', stream(null, null, 500, 0))).toBe(true);
    expect(sloMetOf(SLO, 'ok', stream(null, null, 501, 0))).toBe(false);
  });
});

/** A plan state served at `default` after a fallback from `priority`. */
const state: PlanState = {
  requestId: 'req-1',
  tenantId: 'acme',
  api: 'chat',
  model: 'm',
  tierAsked: 'priority',
  tierServed: 'default',
  tiersTried: ['priority', 'default'],
  yieldedFrom: 'priority',
  body: { model: 'm', messages: [{ role: 'user', content: 'hi' }], stream: true },
  route: 'aggregated',
  pools: ['agg'],
  promptEstimate: 12,
  startedAt: 1_700_000_000_000,
};

describe('usageRecordOf', () => {
  it('builds the record of a stream from the state, the usage and an explicit clock', () => {
    const record = usageRecordOf(state, 'ok', { promptTokens: 101, completionTokens: 41 }, 300, config.tiers.default, state.startedAt + 2_300);
    expect(record).toEqual({
      requestId: 'req-1',
      tenantId: 'acme',
      tierAsked: 'priority',
      tierServed: 'default',
      route: 'aggregated',
      pools: ['agg'],
      model: 'm',
      promptTokens: 101,
      completionTokens: 41,
      ttftMs: 300,
      tpotMs: 50, // (2300 − 300) / 40
      sloMet: true, // default's SLO: 300 ≤ 2000, 50 ≤ 100
      costUnits: 142, // at default's factor 1, not priority's 2
      totalMs: 2_300,
      outcome: 'ok',
      startedAt: 1_700_000_000_000,
    });
  });

  it("bills at the served tier's factor: the same request served at priority costs twice", () => {
    const usage = { promptTokens: 101, completionTokens: 41 };
    const atDefault = usageRecordOf(state, 'ok', usage, 300, config.tiers.default, state.startedAt + 2_300);
    const atPriority = usageRecordOf({ ...state, tierServed: 'priority', tiersTried: ['priority'] }, 'ok', usage, 300, config.tiers.priority, state.startedAt + 2_300);
    expect(atDefault.costUnits).toBe(142);
    expect(atPriority.costUnits).toBe(284);
    expect(atPriority.tierServed).toBe('priority');
  });

  it("judges against the served tier's SLO, not the one asked", () => {
    // TTFT 800: misses priority's 500, meets default's 2000
    const usage = { promptTokens: 10, completionTokens: 11 };
    expect(usageRecordOf(state, 'ok', usage, 800, config.tiers.default, state.startedAt + 1_800).sloMet).toBe(true);
    expect(usageRecordOf(state, 'ok', usage, 800, config.tiers.priority, state.startedAt + 1_800).sloMet).toBe(false);
  });

  it('uses its TPOT in the verdict: a fast first token with slow tokens after misses', () => {
    // (3300 − 300) / 20 = 150 ms per token > default's 100
    const record = usageRecordOf(state, 'ok', { promptTokens: 10, completionTokens: 21 }, 300, config.tiers.default, state.startedAt + 3_300);
    expect(record.tpotMs).toBe(150);
    expect(record.sloMet).toBe(false);
  });

  it('records a non-streamed answer with no TTFT and no TPOT, judged end to end', () => {
    // 10 tokens at default: 2000 + 100 × 9 = 2900 allowed
    const usage = { promptTokens: 20, completionTokens: 10 };
    const met = usageRecordOf(state, 'ok', usage, null, config.tiers.default, state.startedAt + 2_900);
    expect(met).toMatchObject({ ttftMs: null, tpotMs: null, totalMs: 2_900, sloMet: true, costUnits: 30 });
    expect(usageRecordOf(state, 'ok', usage, null, config.tiers.default, state.startedAt + 2_901).sloMet).toBe(false);
  });

  it('records a shed request: no tokens, no cost, not judged', () => {
    const record = usageRecordOf(state, 'shed', { promptTokens: 0, completionTokens: 0 }, null, config.tiers.default, state.startedAt + 4);
    expect(record).toMatchObject({ outcome: 'shed', totalMs: 4, tpotMs: null, sloMet: null, costUnits: 0 });
  });

  it('records a failure as a miss, and bills what it used', () => {
    const record = usageRecordOf(state, 'error', { promptTokens: 7, completionTokens: 0 }, null, config.tiers.default, state.startedAt + 50);
    expect(record).toMatchObject({ outcome: 'error', sloMet: false, costUnits: 7 });
  });

  it('has no verdict and a factor of 1 without a tier config', () => {
    const record = usageRecordOf({ ...state, tierServed: 'flex' }, 'ok', { promptTokens: 5, completionTokens: 6 }, 100, undefined, state.startedAt + 600);
    expect(record).toMatchObject({ sloMet: null, costUnits: 11, tpotMs: 100 });
  });

  it('rounds the cost up at a fractional factor (flex at 0.5)', () => {
    const record = usageRecordOf({ ...state, tierServed: 'flex' }, 'ok', { promptTokens: 5, completionTokens: 6 }, 100, config.tiers.flex, state.startedAt + 600);
    expect(record.costUnits).toBe(6); // 5.5
    expect(record.sloMet).toBeNull(); // flex has no SLO
  });

  it('uses the clock for totalMs by default', () => {
    const before = Date.now();
    const fresh = { ...state, startedAt: before };
    const record = usageRecordOf(fresh, 'ok', { promptTokens: 1, completionTokens: 1 }, 1, config.tiers.default);
    const after = Date.now();
    expect(record.totalMs).toBeGreaterThanOrEqual(0);
    expect(record.totalMs).toBeLessThanOrEqual(after - before);
  });
});
