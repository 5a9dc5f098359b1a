/**
 * docs/observability.md lists every metric of the catalogue (lambda/core/metric-catalogue.ts)
 * exactly as published: CloudWatch name, unit, dimensions, Prometheus name and type.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { METRICS } from '../../lambda/core/metric-catalogue.ts';

const DOC = readFileSync(new URL('../../docs/observability.md', import.meta.url), 'utf8');

/** The rows of the doc's metric table: first cell (a `Name`) → its cells. */
function tableRows(): Map<string, string[]> {
  const rows = new Map<string, string[]>();
  for (const line of DOC.split('\n')) {
    const cells = line.split('|').slice(1, -1).map((c) => c.trim());
    const name = /^`(\w+)`$/.exec(cells[0] ?? '')?.[1];
    if (name && cells.length === 5) rows.set(name, cells);
  }
  return rows;
}

describe('docs/observability.md', () => {
  it('lists every catalogue metric with its unit, dimensions and Prometheus name and type, and nothing else', () => {
    const rows = tableRows();
    expect([...rows.keys()].sort()).toEqual(Object.values(METRICS).map((s) => s.name).sort());
    for (const spec of Object.values(METRICS)) {
      const [, unit, dimensions, prometheus] = rows.get(spec.name)!;
      expect(unit, spec.name).toBe(spec.unit);
      expect(dimensions, spec.name).toBe(spec.dimensions.join(', '));
      expect(prometheus, spec.name).toBe(`\`${spec.prometheus}\` (${spec.prometheusType})`);
    }
  });

  it('names the local routes and the namespace', () => {
    for (const text of ['GET /metrics', '`GET /status`', '/status.json', '`Splitserve`']) expect(DOC).toContain(text);
  });
});
