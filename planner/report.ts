/**
 * What `splitserve plan` prints: the recommendation as a table (or JSON), the bursty run's
 * intervals, and the reasons shapes were left out.
 */
import type { BurstyResult } from './bursty.ts';
import { describePlan } from './deployments.ts';
import type { ReplayResult } from './replay.ts';
import { MIN_TIER_REQUESTS } from './replay.ts';
import type { Recommendation } from './search.ts';
import { MAX_TRACE_S } from './search.ts';
import type { Traffic } from './traffic.ts';
import { mixOf } from './traffic.ts';

const pct = (x: number) => `${(x * 100).toFixed(1)}%`;
/** A figure, or `-` when there was nothing to measure (never NaN). */
const fig = (x: number, digits: number) => (Number.isFinite(x) ? x.toFixed(digits) : '-');
const shape = (d: Traffic['prompt']) => `median ${d.median} (sigma ${d.sigma})`;

/** The traffic's length distributions; both kinds of a bimodal mix, with the second kind's share. */
export function describeLengths(t: Traffic): string {
  const main = `prompt ${shape(t.prompt)}, completion ${shape(t.completion)}`;
  const other = t.mixName === undefined ? undefined : mixOf(t).other;
  if (!other) return `${main}${t.mixName ? ` [mix ${t.mixName}]` : ''}`;
  return `${pct(1 - other.share)} ${main} + ${pct(other.share)} prompt ${shape(other.prompt)}, completion ${shape(other.completion)} [mix ${t.mixName}]`;
}

/** Why a replay is not judged met although no tier missed: the tiers with too few requests. */
function tooFewLine(r: ReplayResult, label: string, seconds: number): string | undefined {
  if (r.tooFew.length === 0) return undefined;
  const counts = r.tiers.filter((x) => !x.enough).map((x) => `${x.tier} ${x.requests}`).join(', ');
  return `not enough requests to validate tier${r.tooFew.length > 1 ? 's' : ''} ${r.tooFew.join(', ')} in the ${label} replay (${counts} in its ${fig(seconds, 0)} measured seconds; need ${MIN_TIER_REQUESTS} each, and traces stop at ${MAX_TRACE_S} s)`;
}

function tierLines(label: string, r: ReplayResult, tiers: Recommendation['traffic']['tiers']): string[] {
  return r.tiers.map((t, k) => {
    const slo = tiers[k]!;
    const verdict = t.met ? 'met' : t.enough ? 'MISSED' : `NOT VALIDATED (${t.requests} requests)`;
    return `  ${label.padEnd(11)} ${t.tier.padEnd(10)} TTFT<=${String(slo.ttftMs).padEnd(5)} TPOT<=${String(slo.tpotMs).padEnd(4)} attainment ${(t.requests ? pct(t.attainment) : '-').padStart(6)}  goodput ${t.goodput.toFixed(2).padStart(8)} req/s  TTFT p99 ${fig(t.ttftP99, 0).padStart(6)} ms  TPOT p99 ${fig(t.tpotP99, 2)} ms  ${verdict}`;
  });
}

/** The recommendation as lines of text. */
export function formatRecommendation(rec: Recommendation): string {
  const t = rec.traffic;
  const o = rec.options;
  const lines = [
    `traffic: ${t.ratePerSecond} req/s, ${describeLengths(t)}`,
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
    if (rec.cappedByMaxPerPool) lines.push(`the cap of ${o.maxPerPool} replicas per pool stopped the search (a shape needs more, or every count up to it missed): raise it with --max-per-pool`);
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
    for (const [r, label, seconds] of [[rec.planning!, 'planning', rec.traces.planningS], [v, 'validation', rec.traces.validationS]] as const) {
      const note = tooFewLine(r, label, seconds * 0.9);
      if (note) lines.push(note);
    }
    const verdict = v.met ? 'SLO met' : v.missed ? 'SLO MISSED on validation' : 'NOT VALIDATED (too few requests; not a claim that the SLO is met)';
    lines.push(`predicted goodput ${v.goodput.toFixed(2)} req/s of ${v.throughput.toFixed(2)} offered (validation: seed ${o.seed + 1000}, never seen by the search) -> ${verdict}`);
    lines.push(
      v.met
        ? `headroom: every tier still met at ${pct(rec.headroom)} above the rate${rec.failsAtFactor ? `; missed at x${rec.failsAtFactor}` : ' (highest factor tried)'}`
        : v.missed ? 'headroom: none (validation missed)' : 'headroom: not measured (not validated)',
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
    cappedByMaxPerPool: rec.cappedByMaxPerPool,
    notValidated: rec.validation?.tooFew ?? [],
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
      `  #${x.index} ${x.ratePerSecond.toFixed(1).padStart(6)} req/s  planned for ${x.plannedForRate.toFixed(2).padStart(6)}${x.sizedForBacklog > 1 ? ` x${x.sizedForBacklog}` : '     '}  ${x.planText.padEnd(48)} ${Number.isFinite(x.costPerHourUsd) ? `$${x.costPerHourUsd.toFixed(2).padStart(7)}/h` : '       -  '}  backlog ${String(x.carried).padStart(5)}  ${x.result.tiers.map((t) => `${t.tier} ${t.requests ? `${pct(t.attainment)} of ${t.requests}` : 'no requests'}`).join(', ')}  ${x.result.missed ? 'MISSED' : x.result.tooFew.length === x.result.tiers.length ? 'nothing to judge' : 'met'}`,
    );
  }
  lines.push(
    run.intervalsToConverge === undefined
      ? 'did not converge within the trace'
      : `converged ${run.intervalsToConverge} interval(s) after the step at #${run.stepAt} (SLO met from then on)`,
  );
  return lines.join('\n');
}
