/**
 * bench:overload's figures and verdicts: whether a request met its tier's SLO, a tier's counts,
 * TTFT percentiles, strict SLO attainment and shed rate, the four targets' verdicts and the
 * printed table. Pure functions of crafted request figures.
 */
import { describe, expect, it } from 'vitest';
import type { RequestFigure } from '../../bench/overload/open-loop.ts';
import { formatFigures, metSlo, tierFigures, verdicts } from '../../bench/overload/report.ts';
import type { LoadFigures, Slo, TierFigures } from '../../bench/overload/report.ts';

const PRIORITY_SLO: Slo = { ttftMs: 500, tpotMs: 50 };
const DEFAULT_SLO: Slo = { ttftMs: 2_000, tpotMs: 100 };

const served = (ttftMs: number, over: Partial<RequestFigure> = {}): RequestFigure => ({ tier: 'priority', outcome: 'served', ttftMs, tpotMs: 20, ...over });
const shed = (cleanShed = true, tier: RequestFigure['tier'] = 'priority'): RequestFigure => ({ tier, outcome: 'shed', cleanShed });
const failed = (tier: RequestFigure['tier'] = 'priority'): RequestFigure => ({ tier, outcome: 'failed', error: 'HTTP 502: bad gateway' });

describe('metSlo', () => {
  it('is true for a request served at its tier within TTFT and TPOT, the bounds included', () => {
    expect(metSlo(served(100), PRIORITY_SLO)).toBe(true);
    expect(metSlo(served(500, { tpotMs: 50 }), PRIORITY_SLO)).toBe(true);
    expect(metSlo(served(100, { tierServed: 'priority' }), PRIORITY_SLO)).toBe(true);
  });

  it('is false over the TTFT', () => {
    expect(metSlo(served(501), PRIORITY_SLO)).toBe(false);
  });

  it('is false over the TPOT, however fast the first token', () => {
    expect(metSlo(served(10, { tpotMs: 50.5 }), PRIORITY_SLO)).toBe(false);
  });

  it('judges a one-token answer (no TPOT) on TTFT alone', () => {
    expect(metSlo({ tier: 'priority', outcome: 'served', ttftMs: 100 }, PRIORITY_SLO)).toBe(true);
  });

  it('is false for a request served at another tier than it asked (downgraded), even within the SLO', () => {
    expect(metSlo(served(100, { tierServed: 'default' }), PRIORITY_SLO)).toBe(false);
    expect(metSlo(served(100, { tier: 'default', tierServed: 'flex' }), DEFAULT_SLO)).toBe(false);
  });

  it('is false for a shed or failed request, and for a served one without a TTFT', () => {
    expect(metSlo(shed(), PRIORITY_SLO)).toBe(false);
    expect(metSlo(failed(), PRIORITY_SLO)).toBe(false);
    expect(metSlo({ tier: 'priority', outcome: 'served' }, PRIORITY_SLO)).toBe(false);
  });
});

describe('tierFigures', () => {
  // 10 served (TTFT 100..1000: 100-500 within priority's SLO, one of those downgraded, one with a
  // slow TPOT), 3 shed (2 clean), 2 failed: 15 sent
  const requests: RequestFigure[] = [
    served(100), served(200), served(300, { tierServed: 'default' }), served(400, { tpotMs: 90 }), served(500),
    served(600), served(700), served(800), served(900), served(1_000),
    shed(true), shed(false), shed(true),
    failed(), failed(),
  ];
  const f = tierFigures(requests, PRIORITY_SLO);

  it('counts sent, served, shed, failed, clean sheds and downgrades', () => {
    expect(f).toMatchObject({ sent: 15, served: 10, shed: 3, failed: 2, cleanSheds: 2, downgraded: 1 });
  });

  it("takes the TTFT percentiles over the served requests only (linear interpolation)", () => {
    expect(f.ttftP50).toBeCloseTo(550, 9);
    expect(f.ttftP90).toBeCloseTo(910, 9);
    expect(f.ttftP99).toBeCloseTo(991, 9);
  });

  it('counts SLO attainment over every request sent: sheds, failures, downgrades and slow TPOTs miss', () => {
    // met: 100, 200, 500 (300 downgraded, 400 slow TPOT)
    expect(f.sloAttainment).toBeCloseTo(3 / 15, 12);
  });

  it('is the shed rate over every request sent', () => {
    expect(f.shedRate).toBeCloseTo(3 / 15, 12);
  });

  it('does not count a served request with tierServed equal to the tier asked as downgraded', () => {
    expect(tierFigures([served(100, { tierServed: 'priority' })], PRIORITY_SLO)).toMatchObject({ downgraded: 0, sloAttainment: 1 });
  });

  it('is all zeros and NaN for no requests', () => {
    const empty = tierFigures([], PRIORITY_SLO);
    expect(empty).toMatchObject({ sent: 0, served: 0, shed: 0, failed: 0, cleanSheds: 0, downgraded: 0 });
    for (const v of [empty.ttftP50, empty.ttftP90, empty.ttftP99, empty.sloAttainment, empty.shedRate]) expect(v).toBeNaN();
  });

  it('has NaN percentiles, an attainment of 0 and a shed rate of 1 when every request was shed', () => {
    const all = tierFigures([shed(), shed()], PRIORITY_SLO);
    expect(all.ttftP90).toBeNaN();
    expect(all.sloAttainment).toBe(0);
    expect(all.shedRate).toBe(1);
  });
});

function tier(over: Partial<TierFigures> = {}): TierFigures {
  return {
    sent: 200, served: 200, shed: 0, failed: 0, cleanSheds: 0, downgraded: 0,
    ttftP50: 100, ttftP90: 200, ttftP99: 300, sloAttainment: 1, shedRate: 0, ...over,
  };
}

function at(priority: Partial<TierFigures>, dflt: Partial<TierFigures>): LoadFigures {
  return { system: 'splitserve', load: 3, rate: 60, late: 0, tiers: { priority: tier(priority), default: tier({ ttftP90: 900, ...dflt }) } };
}

const passes = (v: ReturnType<typeof verdicts>) => v.map((x) => x.pass);

describe('verdicts', () => {
  it('names the four targets, and all pass on good figures', () => {
    const v = verdicts(at({}, {}), PRIORITY_SLO);
    expect(v.map((x) => x.name)).toEqual([
      'priority p90 TTFT within its SLO (500 ms)',
      "priority p90 TTFT ≤ 1/3 of default's",
      'priority SLO attainment ≥ 99 %',
      'default served or shed with a clean 429, none failed',
    ]);
    expect(passes(v)).toEqual([true, true, true, true]);
  });

  it('fails the first when the priority p90 TTFT is over its SLO, and passes at exactly the SLO', () => {
    expect(passes(verdicts(at({ ttftP90: 501 }, { ttftP90: 3_000 }), PRIORITY_SLO))).toEqual([false, true, true, true]);
    expect(passes(verdicts(at({ ttftP90: 500 }, { ttftP90: 3_000 }), PRIORITY_SLO))[0]).toBe(true);
  });

  it("fails the second when priority's p90 is over a third of default's, and passes at exactly a third", () => {
    expect(passes(verdicts(at({ ttftP90: 301 }, { ttftP90: 900 }), PRIORITY_SLO))).toEqual([true, false, true, true]);
    expect(passes(verdicts(at({ ttftP90: 300 }, { ttftP90: 900 }), PRIORITY_SLO))[1]).toBe(true);
  });

  it('fails the third below 99 % attainment, and passes at 99 %', () => {
    expect(passes(verdicts(at({ sloAttainment: 0.985 }, {}), PRIORITY_SLO))).toEqual([true, true, false, true]);
    expect(passes(verdicts(at({ sloAttainment: 0.99 }, {}), PRIORITY_SLO))[2]).toBe(true);
  });

  it('fails the third when nothing was sent (NaN attainment)', () => {
    expect(passes(verdicts(at({ sent: 0, sloAttainment: Number.NaN }, {}), PRIORITY_SLO))[2]).toBe(false);
  });

  it('passes the fourth with clean sheds only, and fails it on a dirty shed or a failure of either tier', () => {
    expect(passes(verdicts(at({}, { served: 150, shed: 50, cleanSheds: 50 }), PRIORITY_SLO))[3]).toBe(true);
    expect(passes(verdicts(at({}, { served: 150, shed: 50, cleanSheds: 49 }), PRIORITY_SLO))[3]).toBe(false);
    expect(passes(verdicts(at({}, { served: 199, failed: 1 }), PRIORITY_SLO))[3]).toBe(false);
    expect(passes(verdicts(at({ served: 199, failed: 1 }, {}), PRIORITY_SLO))).toEqual([true, true, true, false]);
  });

  it('gives the figures it judged in the details', () => {
    const v = verdicts(at({ ttftP90: 240, sloAttainment: 0.995, sent: 200 }, { ttftP90: 900, served: 150, shed: 50, cleanSheds: 48, failed: 2 }), PRIORITY_SLO);
    expect(v[0]!.detail).toBe('240 ms');
    expect(v[1]!.detail).toBe('240 ms vs 900 ms / 3 = 300 ms');
    expect(v[2]!.detail).toBe('99.5 % of 200');
    expect(v[3]!.detail).toBe('150 served, 50 shed (48 clean), 2 failed; priority 0 failed');
  });
});

describe('formatFigures', () => {
  const rows: LoadFigures[] = [
    { system: 'splitserve', load: 0.5, rate: 10, late: 0, tiers: { priority: tier({ sent: 31, ttftP50: 81.4 }), default: tier({ sent: 69, ttftP50: 95, shed: 3, shedRate: 3 / 69, sloAttainment: 0.9 }) } },
    {
      system: 'fifo relay', load: 3, rate: 60, late: 2,
      tiers: { priority: tierFigures([failed()], PRIORITY_SLO), default: tier({ sent: 420, failed: 7 }) },
    },
  ];
  const text = formatFigures(rows, { priority: PRIORITY_SLO, default: DEFAULT_SLO });
  const lines = text.trimEnd().split('\n');

  it('prints a header, one row per system, load and tier, and the SLO note', () => {
    expect(lines).toHaveLength(1 + 4 + 1);
    expect(lines[0]).toMatch(/^system\s+load\s+tier\s+sent\s+TTFT p50\s+p90\s+p99\s+SLO met\s+shed\s+failed$/);
    expect(lines.slice(1, 5).map((l) => l.split(/\s{2,}/).slice(0, 3))).toEqual([
      ['splitserve', '0.5x', 'priority'],
      ['splitserve', '0.5x', 'default'],
      ['fifo relay', '3x', 'priority'],
      ['fifo relay', '3x', 'default'],
    ]);
    expect(text.endsWith('\n')).toBe(true);
  });

  it('gives each row its figures: TTFT rounded, percentages to one decimal, failures', () => {
    expect(lines[1]!.split(/\s+/).slice(-7)).toEqual(['31', '81', '200', '300', '100.0%', '0.0%', '0']);
    expect(lines[2]!.split(/\s+/).slice(-7)).toEqual(['69', '95', '200', '300', '90.0%', '4.3%', '0']);
    expect(lines[4]!.split(/\s+/).slice(-1)).toEqual(['7']);
  });

  it("prints '-' for a TTFT that could not be measured", () => {
    // the relay's priority row: one request, failed, so no TTFT
    expect(lines[3]!.split(/\s+/).slice(-7)).toEqual(['1', '-', '-', '-', '0.0%', '0.0%', '1']);
  });

  it('aligns the columns', () => {
    const widths = new Set(lines.slice(0, 5).map((l) => l.length));
    expect(widths.size).toBe(1);
  });

  it('ends with the SLOs of both tiers', () => {
    expect(lines[5]).toContain('SLOs: priority TTFT ≤ 500 ms, TPOT ≤ 50 ms; default TTFT ≤ 2000 ms, TPOT ≤ 100 ms.');
    expect(lines[5]).toContain('"SLO met": served at the tier asked within its SLO, over all sent.');
  });
});
