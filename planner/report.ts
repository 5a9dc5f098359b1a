/**
 * What `splitserve plan` prints: the recommendation as a table (or JSON), the bursty run's
 * intervals, and the reasons shapes were left out.
 */
import type { BurstyResult } from './bursty.ts';
import { describePlan } from './deployments.ts';
import type { ReplayResult } from './replay.ts';
import type { Recommendation } from './search.ts';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;

function tierLines(label: string, r: ReplayResult, tiers: Recommendation['traffic']['tiers']): string[] {
  return r.tiers.map((t, k) => {
    const slo = tiers[k]!;
    return `  ${label.padEnd(11)} ${t.tier.padEnd(10)} TTFT<=${String(slo.ttftMs).padEnd(5)} TPOT<=${String(slo.tpotMs).padEnd(4)} attainment ${pct(t.attainment).padStart(6)}  goodput ${t.goodput.toFixed(2).padStart(8)} req/s  TTFT p99 ${t.ttftP99.toFixed(0).padStart(6)} ms  TPOT p99 ${Number.isNaN(t.tpotP99) ? '-' : t.tpotP99.toFixed(2)} ms  ${t.met ? 'met' : 'MISSED'}`;
  });
}

/** The recommendation as lines of text. */
export function formatRecommendation(rec: Recommendation): string {
  const t = rec.traffic;
  const o = rec.options;
  const lines = [
    `traffic: ${t.ratePerSecond} req/s, prompt median ${t.prompt.median} (sigma ${t.prompt.sigma}), completion median ${t.completion.median} (sigma ${t.completion.sigma})${t.mixName ? ` [mix ${t.mixName}]` : ''}`,
    `tiers: ${t.tiers.map((x) => `${x.name} ${pct(x.share)} (TTFT <= ${x.ttftMs} ms, TPOT <= ${x.tpotMs} ms)`).join(', ')}; each must meet its SLO for >= ${pct(t.attainment)} of its requests`,
    `prices ($/replica-hour): ${Object.entries(rec.prices).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ')}`,
    '',
  ];
  if (!rec.plan) {
    lines.push(
      rec.exhausted
        ? `NO PLAN found within the search budget (${rec.replays} replays of ${rec.candidates} candidates tried, cheapest first); the untried ones cost more.`
        : `NO PLAN meets every tier (${rec.replays} replays of ${rec.candidates} candidates, rate x ${1 + o.margin}, seed ${o.seed}).`,
    );
    if (rec.closest) {
      lines.push(`closest: ${describePlan(rec.closest.plan)}, $${rec.closest.costPerHourUsd.toFixed(2)}/h:`);
      lines.push(...tierLines('planning', rec.closest.planning, t.tiers));
    }
  } else {
    lines.push(`recommended: ${describePlan(rec.plan)}`);
    lines.push(`cost: $${rec.costPerHourUsd.toFixed(2)} per hour`);
    lines.push(...tierLines('planning', rec.planning!, t.tiers));
    lines.push(...tierLines('validation', rec.validation!, t.tiers));
    const v = rec.validation!;
    lines.push(
      `predicted goodput ${v.goodput.toFixed(2)} req/s of ${v.throughput.toFixed(2)} offered (validation: seed ${o.seed + 1000}, never seen by the search) -> ${v.met ? 'SLO met' : 'SLO MISSED on validation'}`,
    );
    lines.push(
      v.met
        ? `headroom: every tier still met at ${pct(rec.headroom)} above the rate${rec.failsAtFactor ? `; missed at x${rec.failsAtFactor}` : ' (highest factor tried)'}`
        : 'headroom: none (validation missed)',
    );
    lines.push(`search: ${rec.replays} replays of ${rec.candidates} candidates (planning rate x ${1 + o.margin}, seed ${o.seed}, cheapest first)`);
  }
  for (const e of rec.excluded) lines.push(`left out ${e.shape}: ${e.reason}`);
  return lines.join('\n');
}

/** The recommendation as a JSON-ready object. */
export function recommendationJson(rec: Recommendation): Record<string, unknown> {
  return {
    kind: 'splitserve-plan',
    traffic: rec.traffic,
    prices: rec.prices,
    options: rec.options,
    recommended: rec.plan ? { plan: rec.plan, description: describePlan(rec.plan), costPerHourUsd: rec.costPerHourUsd } : null,
    planning: rec.planning ?? null,
    validation: rec.validation ?? null,
    sloMet: rec.validation?.met ?? false,
    headroom: rec.headroom,
    failsAtFactor: rec.failsAtFactor ?? null,
    closest: rec.closest ? { ...rec.closest, description: describePlan(rec.closest.plan) } : null,
    excluded: rec.excluded,
    replays: rec.replays,
    candidates: rec.candidates,
    exhausted: rec.exhausted,
    traces: rec.traces,
  };
}

/** The bursty run as lines of text. */
export function formatBursty(run: BurstyResult): string {
  const lines = [
    `bursty trace: ${run.step.rates.join(' -> ')} req/s, ${run.step.intervalS} s intervals, each planned from the interval before (x F: sized for F times that rate to drain the backlog it inherits)`,
  ];
  for (const x of run.intervals) {
    lines.push(
      `  #${x.index} ${x.ratePerSecond.toFixed(1).padStart(6)} req/s  planned for ${x.plannedForRate.toFixed(2).padStart(6)}${x.sizedForBacklog > 1 ? ` x${x.sizedForBacklog}` : '     '}  ${x.planText.padEnd(48)} $${x.costPerHourUsd.toFixed(2).padStart(7)}/h  backlog ${String(x.carried).padStart(5)}  ${x.result.tiers.map((t) => `${t.tier} ${pct(t.attainment)}`).join(', ')}  ${x.result.met ? 'met' : 'MISSED'}`,
    );
  }
  lines.push(
    run.intervalsToConverge === undefined
      ? 'did not converge within the trace'
      : `converged ${run.intervalsToConverge} interval(s) after the step at #${run.stepAt} (SLO met from then on)`,
  );
  return lines.join('\n');
}
