/**
 * Goodput against the prefill:decode split: a fixed number of replicas of one prefill profile and
 * one decode profile, every split replayed on the same trace. What the planner's chart shows.
 */
import type { SimProfileName } from '../sim/profiles.ts';
import type { PoolPlan } from './deployments.ts';
import { replay } from './replay.ts';
import type { Traffic } from './traffic.ts';
import { drawTrace } from './traffic.ts';

/** One split's replay. */
export interface SplitPoint {
  readonly prefill: number;
  readonly decode: number;
  /** Goodput per tier (req/s meeting that tier's SLO), in the traffic's tier order. */
  readonly tierGoodput: readonly number[];
  readonly goodput: number;
  readonly met: boolean;
}

/** A sweep of splits of `total` replicas. */
export interface SplitSweep {
  readonly prefillProfile: SimProfileName;
  readonly decodeProfile: SimProfileName;
  readonly total: number;
  readonly tiers: readonly string[];
  readonly ratePerSecond: number;
  readonly points: readonly SplitPoint[];
}

/**
 * Replays every split p : (total − p), p = 1 … total − 1, on one trace of `durationS` seconds.
 *
 * @example
 * sweepSplits(traffic, 'trainium-prefill', 'cerebras-decode', 8, 30, 1001).points.length; // 7
 */
export function sweepSplits(traffic: Traffic, prefillProfile: SimProfileName, decodeProfile: SimProfileName, total: number, durationS: number, seed: number): SplitSweep {
  const trace = drawTrace(traffic, durationS, seed);
  const points: SplitPoint[] = [];
  for (let p = 1; p < total; p++) {
    const plan: PoolPlan = { kind: 'disaggregated', prefill: { profile: prefillProfile, count: p }, decode: { profile: decodeProfile, count: total - p } };
    const r = replay(plan, trace, traffic.tiers, traffic.attainment);
    points.push({ prefill: p, decode: total - p, tierGoodput: r.tiers.map((t) => t.goodput), goodput: r.goodput, met: r.met });
  }
  return { prefillProfile, decodeProfile, total, tiers: traffic.tiers.map((t) => t.name), ratePerSecond: traffic.ratePerSecond, points };
}

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const COLORS = ['#e07b28', '#3b7dd8', '#5aa05a', '#9b59b6', '#8c8c8c'];

/**
 * An SVG line chart of goodput (all tiers, and each tier) against the split; splits that meet
 * every tier's SLO are marked with a filled dot.
 */
export function renderSplitSvg(sweeps: readonly SplitSweep[], title: string): string {
  const panelW = 520;
  const panelH = 240;
  const left = 60;
  const top = 50;
  const width = left + panelW + 40;
  const height = top + sweeps.length * (panelH + 80);
  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${left}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`,
    `<text x="${left}" y="38">goodput (req/s meeting the tier's SLO) by prefill:decode split; filled dot = every tier met</text>`,
  ];
  sweeps.forEach((sw, si) => {
    const y0 = top + si * (panelH + 80) + 30;
    const series = [{ name: 'all tiers', values: sw.points.map((p) => p.goodput) }, ...sw.tiers.map((name, k) => ({ name, values: sw.points.map((p) => p.tierGoodput[k] ?? 0) }))];
    const max = Math.max(1, ...series.flatMap((s) => s.values)) * 1.1;
    const n = Math.max(1, sw.points.length - 1);
    const x = (i: number) => left + (panelW * i) / n;
    const y = (v: number) => y0 + panelH - (panelH * v) / max;
    parts.push(`<text x="${left}" y="${y0 - 8}" font-weight="bold">${esc(`${sw.total} replicas: ${sw.prefillProfile} : ${sw.decodeProfile}, ${sw.ratePerSecond.toFixed(1)} req/s offered`)}</text>`);
    for (let k = 0; k <= 4; k++) {
      const v = (max * k) / 4;
      parts.push(`<line x1="${left}" y1="${y(v)}" x2="${left + panelW}" y2="${y(v)}" stroke="#e5e5e5"/><text x="${left - 4}" y="${y(v) + 4}" text-anchor="end">${v.toFixed(0)}</text>`);
    }
    sw.points.forEach((p, i) => parts.push(`<text x="${x(i)}" y="${y0 + panelH + 14}" text-anchor="middle">${p.prefill}:${p.decode}</text>`));
    series.forEach((s, k) => {
      const color = COLORS[k % COLORS.length]!;
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="${k === 0 ? 2.5 : 1.5}" points="${s.values.map((v, i) => `${x(i).toFixed(1)},${y(v).toFixed(1)}`).join(' ')}"/>`);
      if (k === 0) sw.points.forEach((p, i) => parts.push(`<circle cx="${x(i).toFixed(1)}" cy="${y(s.values[i]!).toFixed(1)}" r="4" fill="${p.met ? color : 'white'}" stroke="${color}"><title>${esc(`${p.prefill}:${p.decode} ${p.goodput.toFixed(1)} req/s`)}</title></circle>`));
      parts.push(`<rect x="${left + k * 110}" y="${y0 + panelH + 26}" width="10" height="10" fill="${color}"/><text x="${left + k * 110 + 14}" y="${y0 + panelH + 35}">${esc(s.name)}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n');
}
