/**
 * Presentation of a goodput experiment: the printed table, the verdict lines and a hand-written
 * SVG chart (grouped bars: goodput per mix, one bar per strategy, one panel per load point).
 */
import type { Deployment, StrategyName } from './cluster.ts';
import { STRATEGIES } from './cluster.ts';
import type { Cell, ExperimentResult, LoadName, ShiftCell } from './experiment.ts';
import { LOAD_POINTS, TIER_SLOS } from './experiment.ts';
import type { RunScore } from './metrics.ts';
import { MIXES, MIX_NAMES } from './workloads.ts';

/** Short description of a deployment, e.g. `3 trn + 5 cs3, local <256 tok, queue ≤16`. */
export function describeDeployment(d: Deployment): string {
  if (d.strategy === 'aggregated') return `${d.gpu} gpu`;
  const parts = [`${d.prefill} trn + ${d.decode} cs3`];
  if (d.strategy === 'conditional' && !d.route.localPrefillBelowTokens && d.route.maxPrefillQueue === undefined) {
    parts.push('no local rule picked (= always disaggregate)');
  } else if (d.strategy === 'conditional') {
    parts.push(`local <${d.route.localPrefillBelowTokens ?? 0} tok`);
    parts.push(d.route.maxPrefillQueue === undefined ? 'no queue bound' : `queue >=${d.route.maxPrefillQueue}`);
  }
  return parts.join(', ');
}

const ms = (v: number) => (Number.isNaN(v) ? '-' : v >= 100 ? v.toFixed(0) : v >= 10 ? v.toFixed(1) : v.toFixed(2));
const pct = (v: number) => `${(v * 100).toFixed(0)}%`;

function localShare(score: RunScore): string {
  const local = (score.routes['local-prefill-short'] ?? 0) + (score.routes['local-prefill-queue'] ?? 0);
  if (score.requests === 0 || local === 0) return '-';
  const s = score.routes['local-prefill-short'] ?? 0;
  const q = score.routes['local-prefill-queue'] ?? 0;
  return `${pct(local / score.requests)} (s${s}/q${q})`;
}

function pad(cells: readonly string[], widths: readonly number[]): string {
  return cells.map((c, i) => (i < 2 || i === 3 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ').trimEnd();
}

/** The result table: one block per load point, one row per mix × strategy. */
export function formatTable(result: ExperimentResult): string {
  const p = TIER_SLOS.priority;
  const d = TIER_SLOS.default;
  const head = [
    'mix',
    'strategy',
    'offered',
    'deployment',
    'goodput P',
    'met P',
    'goodput D',
    'met D',
    'TTFT p50',
    'TTFT p99',
    'TPOT p50',
    'TPOT p99',
    'local (short/queue)',
  ];
  const lines: string[] = [
    `goodput (req/s meeting the SLO): P = priority tier (TTFT <= ${p.ttftMs} ms, TPOT <= ${p.tpotMs} ms), D = default tier (TTFT <= ${d.ttftMs} ms, TPOT <= ${d.tpotMs} ms)`,
    `${result.units} replicas per deployment; seed ${result.seed} (deployments picked on seed ${result.tuningSeed}); ${result.durationS} s virtual, first ${result.warmupS} s not scored; latencies in ms`,
  ];
  for (const load of Object.keys(LOAD_POINTS) as LoadName[]) {
    const cells = result.cells.filter((c) => c.load === load);
    if (cells.length === 0) continue;
    const rows = cells.map((c) => [
      MIXES[c.mix].label,
      c.strategy,
      c.ratePerSecond.toFixed(1),
      describeDeployment(c.deployment),
      c.scores.priority.goodput.toFixed(1),
      pct(c.scores.priority.attainment),
      c.scores.default.goodput.toFixed(1),
      pct(c.scores.default.attainment),
      ms(c.scores.priority.ttftP50),
      ms(c.scores.priority.ttftP99),
      ms(c.scores.priority.tpotP50),
      ms(c.scores.priority.tpotP99),
      localShare(c.scores.priority),
    ]);
    const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
    lines.push('', `load: ${LOAD_POINTS[load].label}`, pad(head, widths), widths.map((w) => '-'.repeat(w)).join('  '));
    for (const r of rows) lines.push(pad(r, widths));
    const splits = result.splits.filter((x) => x.load === load);
    if (splits.length > 0) {
      lines.push('', `priority-SLO goodput by prefill:decode split (tuning seed ${result.tuningSeed}), always-disaggregated -> best conditional route at that split:`);
      for (const mix of MIX_NAMES) {
        const row = splits
          .filter((x) => x.mix === mix)
          .sort((a, b) => a.prefill - b.prefill)
          .map((x) => `${x.prefill}:${x.decode} ${x.disaggregated.toFixed(0)}->${x.conditional.toFixed(0)}`);
        if (row.length > 0) lines.push(`  ${MIXES[mix].label.padEnd(22)} ${row.join('  ')}`);
      }
    }
  }
  return lines.join('\n');
}

/**
 * One line per load × mix × SLO: whether conditional disaggregation's goodput is at least both
 * others', slightly below (within 0.5 %, the noise of one seed) or below, with the figures.
 */
export function verdicts(result: ExperimentResult): string[] {
  const out: string[] = [];
  for (const load of Object.keys(LOAD_POINTS) as LoadName[]) {
    for (const mix of MIX_NAMES) {
      const get = (s: StrategyName) => result.cells.find((c) => c.load === load && c.mix === mix && c.strategy === s);
      const cond = get('conditional');
      if (!cond) continue;
      for (const slo of ['priority', 'default'] as const) {
        const others = (['aggregated', 'disaggregated'] as const).map((s) => [s, get(s)!.scores[slo].goodput] as const);
        const c = cond.scores[slo].goodput;
        const below = others.filter(([, g]) => c < g * 0.995 - 1e-9);
        const within = others.filter(([, g]) => c < g - 1e-9 && c >= g * 0.995 - 1e-9);
        const diff = others.map(([s, g]) => `${s} ${g.toFixed(1)}`).join(', ');
        const verdict =
          below.length > 0
            ? `BELOW ${below.map(([s]) => s).join(' and ')}`
            : within.length > 0
              ? `slightly below ${within.map(([s]) => s).join(' and ')} (within 0.5 %, one-seed noise)`
              : '>= both';
        out.push(`${load.padEnd(6)} ${mix.padEnd(8)} ${slo.padEnd(8)} conditional ${c.toFixed(1)} vs ${diff}: ${verdict}`);
      }
    }
  }
  return out;
}

/**
 * The traffic-shift table: for each mix served by the deployments picked for another mix, the
 * goodput of each strategy (priority and default SLO), and a closing count of the shifts where
 * conditional disaggregation is at least as good as both others on the priority SLO.
 */
export function formatShifts(result: ExperimentResult): string[] {
  if (result.shifts.length === 0) return [];
  const lines = ['traffic shift: deployments (and conditional thresholds) picked for one mix, serving another at its own rate; goodput P / D, req/s'];
  const g = (c: ShiftCell | undefined, slo: 'priority' | 'default') => (c ? c.scores[slo].goodput.toFixed(1) : '-');
  let atLeast = 0;
  let above = 0;
  let pairs = 0;
  let bestGain: { gain: number; label: string } | undefined;
  for (const load of Object.keys(LOAD_POINTS) as LoadName[]) {
    const here = result.shifts.filter((c) => c.load === load);
    const keys = [...new Set(here.map((c) => `${c.tunedOn}>${c.mix}`))];
    if (keys.length > 0) lines.push(`load: ${LOAD_POINTS[load].label}`);
    for (const key of keys) {
      const [tunedOn, mix] = key.split('>') as [ShiftCell['tunedOn'], ShiftCell['mix']];
      const get = (s: StrategyName) => here.find((c) => c.tunedOn === tunedOn && c.mix === mix && c.strategy === s);
      const [agg, dis, con] = [get('aggregated'), get('disaggregated'), get('conditional')];
      if (agg && dis && con) {
        pairs += 1;
        const best = Math.max(agg.scores.priority.goodput, dis.scores.priority.goodput);
        if (con.scores.priority.goodput >= best - 1e-9) atLeast += 1;
        if (con.scores.priority.goodput > best * 1.005 + 1e-9) above += 1;
        const gain = con.scores.priority.goodput - best;
        const label = `${MIXES[tunedOn].label} -> ${MIXES[mix].label} (${load}): ${con.scores.priority.goodput.toFixed(1)} vs ${best.toFixed(1)}`;
        if (!bestGain || gain > bestGain.gain) bestGain = { gain, label };
      }
      lines.push(
        `  picked for ${MIXES[tunedOn].label.padEnd(22)} serving ${MIXES[mix].label.padEnd(22)} ${String(con?.ratePerSecond ?? '').padStart(6)} req/s` +
          `  aggregated ${g(agg, 'priority')} / ${g(agg, 'default')}  disaggregated ${g(dis, 'priority')} / ${g(dis, 'default')}  conditional ${g(con, 'priority')} / ${g(con, 'default')}`,
      );
    }
  }
  lines.push(
    `conditional >= max(aggregated, disaggregated) on the priority SLO in ${atLeast} of ${pairs} shifts, above both by more than 0.5 % in ${above}` +
      (bestGain && bestGain.gain > 0 ? `; largest gain: ${bestGain.label} req/s` : ''),
  );
  return lines;
}

const COLORS: Readonly<Record<StrategyName, string>> = { aggregated: '#8c8c8c', disaggregated: '#3b7dd8', conditional: '#e07b28' };

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** A grouped-bar SVG of goodput (priority and default SLO) per mix and strategy, one panel per load. */
export function renderSvg(result: ExperimentResult): string {
  const loads = (Object.keys(LOAD_POINTS) as LoadName[]).filter((l) => result.cells.some((c) => c.load === l));
  const slos = ['priority', 'default'] as const;
  const panelW = 420;
  const panelH = 260;
  const left = 50;
  const top = 60;
  const width = left + panelW * slos.length + 30;
  const height = top + (panelH + 70) * loads.length + 20;
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="22" font-size="15" font-weight="bold">splitserve goodput (req/s meeting the SLO), ${result.units} replicas per strategy, seed ${result.seed}</text>`,
  ];
  STRATEGIES.forEach((s, i) => {
    parts.push(`<rect x="${left + i * 140}" y="34" width="12" height="12" fill="${COLORS[s]}"/><text x="${left + i * 140 + 16}" y="44">${s}</text>`);
  });
  loads.forEach((load, li) => {
    slos.forEach((slo, si) => {
      const x0 = left + si * panelW;
      const y0 = top + li * (panelH + 70) + 20;
      const cells = result.cells.filter((c) => c.load === load);
      const max = Math.max(1, ...cells.map((c) => c.scores[slo].goodput)) * 1.1;
      const t = TIER_SLOS[slo];
      parts.push(`<text x="${x0}" y="${y0 - 6}" font-weight="bold">${esc(`${LOAD_POINTS[load].label}; ${slo} SLO (TTFT ${t.ttftMs} ms, TPOT ${t.tpotMs} ms)`)}</text>`);
      parts.push(`<line x1="${x0}" y1="${y0 + panelH}" x2="${x0 + panelW - 30}" y2="${y0 + panelH}" stroke="black"/>`);
      for (let k = 0; k <= 4; k++) {
        const v = (max * k) / 4;
        const y = y0 + panelH - (panelH * k) / 4;
        parts.push(`<line x1="${x0}" y1="${y}" x2="${x0 + panelW - 30}" y2="${y}" stroke="#e5e5e5"/><text x="${x0 - 4}" y="${y + 4}" text-anchor="end">${v.toFixed(0)}</text>`);
      }
      const groupW = (panelW - 30) / MIX_NAMES.length;
      MIX_NAMES.forEach((mix, mi) => {
        const gx = x0 + mi * groupW;
        STRATEGIES.forEach((s, k) => {
          const cell = cells.find((c) => c.mix === mix && c.strategy === s);
          if (!cell) return;
          const v = cell.scores[slo].goodput;
          const h = (panelH * v) / max;
          const bx = gx + 12 + k * ((groupW - 24) / 3);
          const bw = (groupW - 24) / 3 - 4;
          parts.push(`<rect x="${bx.toFixed(1)}" y="${(y0 + panelH - h).toFixed(1)}" width="${bw.toFixed(1)}" height="${h.toFixed(1)}" fill="${COLORS[s]}"><title>${esc(`${mix} ${s}: ${v.toFixed(1)} req/s (${describeDeployment(cell.deployment)})`)}</title></rect>`);
          parts.push(`<text x="${(bx + bw / 2).toFixed(1)}" y="${(y0 + panelH - h - 3).toFixed(1)}" text-anchor="middle" font-size="9">${v.toFixed(0)}</text>`);
        });
        parts.push(`<text x="${(gx + groupW / 2).toFixed(1)}" y="${y0 + panelH + 14}" text-anchor="middle">${esc(MIXES[mix].label)}</text>`);
      });
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}
