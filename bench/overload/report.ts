/**
 * Figures and verdicts of `npm run bench:overload`: pure functions of the requests the open-loop
 * generator recorded (bench/overload/open-loop.ts). No I/O.
 */
import { percentile } from '../stats.ts';
import type { RequestFigure } from './open-loop.ts';

/** A tier's SLO, as the benchmark's gateway config sets it. */
export interface Slo {
  readonly ttftMs: number;
  readonly tpotMs: number;
}

/** One tier's figures at one load. */
export interface TierFigures {
  readonly sent: number;
  readonly served: number;
  readonly shed: number;
  readonly failed: number;
  /** Sheds answered as an OpenAI-shaped 429 with `retry-after`. */
  readonly cleanSheds: number;
  /** Served at another tier than the one asked (a fallback). */
  readonly downgraded: number;
  readonly ttftP50: number;
  readonly ttftP90: number;
  readonly ttftP99: number;
  /**
   * Requests served at the tier asked within its SLO (TTFT and TPOT), over every request sent:
   * a shed, a failure or a downgrade counts as a miss.
   */
  readonly sloAttainment: number;
  readonly shedRate: number;
}

/** One system (splitserve, or the FIFO baseline) at one offered load. */
export interface LoadFigures {
  readonly system: string;
  /** Offered load as a multiple of the engine's measured capacity. */
  readonly load: number;
  readonly rate: number;
  readonly late: number;
  readonly tiers: { readonly priority: TierFigures; readonly default: TierFigures };
}

/** Whether a served request met the SLO at the tier it asked for. */
export function metSlo(r: RequestFigure, slo: Slo): boolean {
  if (r.outcome !== 'served' || r.ttftMs === undefined) return false;
  if (r.tierServed !== undefined && r.tierServed !== r.tier) return false;
  return r.ttftMs <= slo.ttftMs && (r.tpotMs === undefined || r.tpotMs <= slo.tpotMs);
}

/**
 * A tier's figures.
 *
 * @example
 * tierFigures(requests.filter((r) => r.tier === 'priority'), { ttftMs: 500, tpotMs: 50 });
 */
export function tierFigures(requests: readonly RequestFigure[], slo: Slo): TierFigures {
  const served = requests.filter((r) => r.outcome === 'served');
  const ttft = served.map((r) => r.ttftMs!);
  const shed = requests.filter((r) => r.outcome === 'shed');
  const sent = requests.length;
  return {
    sent,
    served: served.length,
    shed: shed.length,
    failed: requests.filter((r) => r.outcome === 'failed').length,
    cleanSheds: shed.filter((r) => r.cleanShed === true).length,
    downgraded: served.filter((r) => r.tierServed !== undefined && r.tierServed !== r.tier).length,
    ttftP50: percentile(ttft, 50),
    ttftP90: percentile(ttft, 90),
    ttftP99: percentile(ttft, 99),
    sloAttainment: sent === 0 ? Number.NaN : requests.filter((r) => metSlo(r, slo)).length / sent,
    shedRate: sent === 0 ? Number.NaN : shed.length / sent,
  };
}

/** The benchmark's targets at the highest load, each with its verdict. */
export interface Verdict {
  readonly name: string;
  readonly pass: boolean;
  readonly detail: string;
}

/**
 * The targets, judged on splitserve's figures at the given (highest) load: priority p90 TTFT
 * within its SLO and at most a third of default's; priority SLO attainment ≥ 99 %; every default
 * request served or shed with a clean 429, none failed (and none failed anywhere).
 */
export function verdicts(at: LoadFigures, prioritySlo: Slo): Verdict[] {
  const p = at.tiers.priority;
  const d = at.tiers.default;
  const ms = (v: number) => `${v.toFixed(0)} ms`;
  return [
    { name: `priority p90 TTFT within its SLO (${prioritySlo.ttftMs} ms)`, pass: p.ttftP90 <= prioritySlo.ttftMs, detail: ms(p.ttftP90) },
    { name: 'priority p90 TTFT ≤ 1/3 of default\'s', pass: p.ttftP90 <= d.ttftP90 / 3, detail: `${ms(p.ttftP90)} vs ${ms(d.ttftP90)} / 3 = ${ms(d.ttftP90 / 3)}` },
    { name: 'priority SLO attainment ≥ 99 %', pass: p.sloAttainment >= 0.99, detail: `${(p.sloAttainment * 100).toFixed(1)} % of ${p.sent}` },
    {
      name: 'default served or shed with a clean 429, none failed',
      pass: d.failed === 0 && d.cleanSheds === d.shed && p.failed === 0,
      detail: `${d.served} served, ${d.shed} shed (${d.cleanSheds} clean), ${d.failed} failed; priority ${p.failed} failed`,
    },
  ];
}

/** The tables, as printed. */
export function formatFigures(rows: readonly LoadFigures[], slos: { readonly priority: Slo; readonly default: Slo }): string {
  const header = ['system', 'load', 'tier', 'sent', 'TTFT p50', 'p90', 'p99', 'SLO met', 'shed', 'failed'];
  const body = rows.flatMap((r) =>
    (['priority', 'default'] as const).map((tier) => {
      const t = r.tiers[tier];
      const f = (v: number) => (Number.isNaN(v) ? '-' : v.toFixed(0));
      const pct = (v: number) => (Number.isNaN(v) ? '-' : `${(v * 100).toFixed(1)}%`);
      return [r.system, `${r.load}x`, tier, String(t.sent), f(t.ttftP50), f(t.ttftP90), f(t.ttftP99), pct(t.sloAttainment), pct(t.shedRate), String(t.failed)];
    }),
  );
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  const note = `SLOs: priority TTFT ≤ ${slos.priority.ttftMs} ms, TPOT ≤ ${slos.priority.tpotMs} ms; default TTFT ≤ ${slos.default.ttftMs} ms, TPOT ≤ ${slos.default.tpotMs} ms. TTFT in ms, served requests; "SLO met": served at the tier asked within its SLO, over all sent.`;
  return `${[line(header), ...body.map(line)].join('\n')}\n${note}\n`;
}
