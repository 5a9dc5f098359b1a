/**
 * The Prometheus text exposition format (version 0.0.4): `# HELP`, `# TYPE`, then one line per
 * sample; a histogram as cumulative `_bucket{le="…"}` lines ending with `le="+Inf"`, then `_sum`
 * and `_count`. Label values and help text are escaped as the format requires.
 */

/** The `content-type` of a text exposition. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

/** Label name → value of one series. */
export type Labels = Readonly<Record<string, string>>;

/** A counter's or a gauge's series. */
export interface ValueSeries {
  readonly labels: Labels;
  readonly value: number;
}

/** A histogram's series: counts per bucket (not cumulative, one per upper bound, plus the overflow last), sum and count. */
export interface HistogramSeries {
  readonly labels: Labels;
  /** `counts[i]`: observations in (bounds[i-1], bounds[i]]; `counts[bounds.length]`: above the last bound. */
  readonly counts: readonly number[];
  readonly sum: number;
  readonly count: number;
}

/** One metric family to render. */
export type MetricFamily =
  | { readonly name: string; readonly help: string; readonly type: 'counter' | 'gauge'; readonly series: readonly ValueSeries[] }
  | { readonly name: string; readonly help: string; readonly type: 'histogram'; readonly bounds: readonly number[]; readonly series: readonly HistogramSeries[] };

function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function labelText(labels: Labels, extra?: readonly [string, string]): string {
  const pairs = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`);
  if (extra) pairs.push(`${extra[0]}="${escapeLabel(extra[1])}"`);
  return pairs.length > 0 ? `{${pairs.join(',')}}` : '';
}

function numberText(value: number): string {
  if (Number.isNaN(value)) return 'NaN';
  if (value === Infinity) return '+Inf';
  if (value === -Infinity) return '-Inf';
  return String(value);
}

/**
 * Renders metric families as Prometheus text; a family without series still has its `# HELP` and
 * `# TYPE` lines.
 *
 * @example
 * prometheusText([{ name: 'up_total', help: 'Starts.', type: 'counter', series: [{ labels: { tier: 'default' }, value: 2 }] }]);
 * // '# HELP up_total Starts.\n# TYPE up_total counter\nup_total{tier="default"} 2\n'
 */
export function prometheusText(families: readonly MetricFamily[]): string {
  const lines: string[] = [];
  for (const family of families) {
    lines.push(`# HELP ${family.name} ${escapeHelp(family.help)}`, `# TYPE ${family.name} ${family.type}`);
    if (family.type !== 'histogram') {
      for (const s of family.series) lines.push(`${family.name}${labelText(s.labels)} ${numberText(s.value)}`);
      continue;
    }
    for (const s of family.series) {
      let cumulative = 0;
      family.bounds.forEach((bound, i) => {
        cumulative += s.counts[i] ?? 0;
        lines.push(`${family.name}_bucket${labelText(s.labels, ['le', numberText(bound)])} ${cumulative}`);
      });
      lines.push(`${family.name}_bucket${labelText(s.labels, ['le', '+Inf'])} ${s.count}`);
      lines.push(`${family.name}_sum${labelText(s.labels)} ${numberText(s.sum)}`);
      lines.push(`${family.name}_count${labelText(s.labels)} ${s.count}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
