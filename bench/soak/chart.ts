/**
 * A small SVG line chart of the gateway's RSS and open file descriptors over the soak: two panels
 * sharing the time axis, a polyline each, min/max labels, and a dashed line at each restart
 * (where the sampled pid changes). Hand-written SVG, no dependency.
 */
import type { ProcessSample } from './sampler.ts';

const WIDTH = 720;
const PANEL_HEIGHT = 150;
const MARGIN = { left: 64, right: 16, top: 28, bottom: 28 } as const;

function escapeXml(text: string): string {
  return text.replace(/[<>&"']/g, (c) => ({ '<': '&lt;', '>': '&gt;', '&': '&amp;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function panel(samples: readonly ProcessSample[], value: (s: ProcessSample) => number, label: string, unit: string, top: number, color: string, tMax: number): string {
  const values = samples.map(value);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const yMin = Math.max(0, lo - (hi - lo) * 0.1 - 1);
  const yMax = hi + (hi - lo) * 0.1 + 1;
  const plotW = WIDTH - MARGIN.left - MARGIN.right;
  const x = (t: number): number => MARGIN.left + (tMax > 0 ? (t / tMax) * plotW : 0);
  const y = (v: number): number => top + PANEL_HEIGHT - ((v - yMin) / (yMax - yMin)) * PANEL_HEIGHT;
  const points = samples.map((s) => `${x(s.t).toFixed(1)},${y(value(s)).toFixed(1)}`).join(' ');
  const restarts = samples
    .filter((s, i) => i > 0 && s.pid !== samples[i - 1]!.pid)
    .map((s) => `<line x1="${x(s.t).toFixed(1)}" y1="${top}" x2="${x(s.t).toFixed(1)}" y2="${top + PANEL_HEIGHT}" stroke="#888" stroke-dasharray="4 3"/>`)
    .join('');
  return [
    `<rect x="${MARGIN.left}" y="${top}" width="${plotW}" height="${PANEL_HEIGHT}" fill="none" stroke="#ccc"/>`,
    `<text x="${MARGIN.left}" y="${top - 6}" font-size="12">${escapeXml(label)} (min ${lo}, max ${hi}, last ${values.at(-1)} ${unit})</text>`,
    `<text x="${MARGIN.left - 6}" y="${y(yMax) + 10}" font-size="10" text-anchor="end">${yMax.toFixed(0)}</text>`,
    `<text x="${MARGIN.left - 6}" y="${y(yMin)}" font-size="10" text-anchor="end">${yMin.toFixed(0)}</text>`,
    restarts,
    `<polyline fill="none" stroke="${color}" stroke-width="1.5" points="${points}"/>`,
  ].join('\n');
}

/**
 * The chart as an SVG document; a note instead of lines when there are fewer than two samples.
 *
 * @example
 * writeFileSync('bench/results/soak.svg', soakChart(samples, 'splitserve soak, 10 min at 20 req/s'));
 */
export function soakChart(samples: readonly ProcessSample[], title: string): string {
  const height = MARGIN.top + 2 * (PANEL_HEIGHT + MARGIN.bottom + 16) + 8;
  const head = `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">\n<rect width="100%" height="100%" fill="white"/>\n<text x="${MARGIN.left}" y="16" font-size="13" font-weight="bold">${escapeXml(title)}</text>`;
  if (samples.length < 2) return `${head}\n<text x="${MARGIN.left}" y="60" font-size="12">fewer than two samples</text>\n</svg>\n`;
  const tMax = samples.at(-1)!.t;
  const top1 = MARGIN.top + 16;
  const top2 = top1 + PANEL_HEIGHT + MARGIN.bottom + 16;
  const axis = `<text x="${MARGIN.left}" y="${top2 + PANEL_HEIGHT + 16}" font-size="10">0 s</text><text x="${WIDTH - MARGIN.right}" y="${top2 + PANEL_HEIGHT + 16}" font-size="10" text-anchor="end">${tMax.toFixed(0)} s (dashed: gateway restart)</text>`;
  return [
    head,
    panel(samples, (s) => s.rssMb, 'gateway RSS', 'MB', top1, '#1f77b4', tMax),
    panel(samples, (s) => s.openFds, 'gateway open file descriptors', 'fds', top2, '#d62728', tMax),
    axis,
    '</svg>',
    '',
  ].join('\n');
}
