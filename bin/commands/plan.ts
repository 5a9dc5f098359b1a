/**
 * `splitserve plan`: recommends replica counts per pool and hardware profile for a traffic
 * description (a JSON file and/or flags), replays the recommendation in the simulator's virtual
 * time to show each tier's SLO met, and optionally replans over a bursty step trace and charts
 * goodput against the prefill:decode split. Table by default, `--json` for machines.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { SIM_PROFILES } from '../../sim/profiles.ts';
import type { SimProfileName } from '../../sim/profiles.ts';
import { MIX_NAMES } from '../../bench/goodput/workloads.ts';
import { runBursty } from '../../planner/bursty.ts';
import type { StepTrace } from '../../planner/bursty.ts';
import { DEFAULT_STEP } from '../../planner/bursty.ts';
import { formatBursty, formatRecommendation, recommendationJson } from '../../planner/report.ts';
import { DEFAULT_MAX_PER_POOL, DEFAULT_SHAPES, planDeployment } from '../../planner/search.ts';
import type { ShapeChoices } from '../../planner/search.ts';
import { renderSplitSvg, sweepSplits } from '../../planner/splits.ts';
import { TrafficError, parseTraffic, readTrafficJson } from '../../planner/traffic.ts';
import type { Tier } from '../../planner/traffic.ts';
import { measureTraffic, readUsageWindow } from '../../planner/usage-traffic.ts';
import { localDynamoClient } from '../../local/embedded-dynamo.ts';
import { LOCAL_TABLE_NAMES } from '../../lambda/store/table-schema.ts';
import { CommandFailure, CommandLineError, parseCommandLine, runParsed } from './command-line.ts';

/** Usage text printed by `--help`. */
export const PLAN_USAGE = `usage: npm run plan -- [options]

Recommends replica counts per pool (prefill : decode, per hardware profile, or aggregated GPUs)
that meet every tier's SLO at the lowest hourly cost, then replays the recommendation in the
simulator (virtual time) on a seed the search never saw, and reports goodput and headroom.

traffic (a file, flags, or both: flags win):
  --traffic FILE        JSON traffic description (docs/planner.md): ratePerSecond, mix or
                        prompt/completion, tiers, attainment, prices
  --rate N              requests per second
  --mix NAME            length distributions of a goodput-bench mix: ${MIX_NAMES.join(', ')}
                        (replaces the file's prompt and completion)
  --tier NAME:SHARE:TTFT_MS:TPOT_MS
                        a tier and its SLO (repeatable; default: priority 20% 300/5, default 80% 1000/50)
  --attainment X        share of each tier's requests that must meet its SLO (default: 0.9)
  --price PROFILE=USD   price per replica-hour (repeatable; profiles: ${SIM_PROFILES.join(', ')})

traffic measured from the Usage table (instead of --rate/--mix and the file's shapes):
  --from-usage          measure rate, prompt/completion shapes and tier shares from metered requests
  --endpoint URL        the store, e.g. npm start's embedded one: http://127.0.0.1:4567
  --usage-table NAME    the Usage table (default: ${LOCAL_TABLE_NAMES.usage})
  --tenant ID           whose requests (repeatable, at least one)
  --window-start ISO    window start, e.g. 2026-12-07T10:00:00Z
  --window-end ISO      window end (default: now)
                        tier SLOs come from the file's tiers or --tier, by name (shares ignored)

search:
  --hardware LIST       profiles the plan may use (default: all)
  --margin X            plan for rate x (1 + X) (default: 0.1)
  --max-per-pool N      most replicas in one pool (default: ${DEFAULT_MAX_PER_POOL})
  --duration S          virtual seconds of the validation replay (default: 60)
  --seed N              planning seed; validation uses N + 1000 (default: 1)

also:
  --bursty              replan over a step trace, one plan per interval from the interval before
  --steps LIST          rates of the step trace (default: ${DEFAULT_STEP.rates.join(',')})
  --interval S          seconds per planning interval (default: ${DEFAULT_STEP.intervalS})
  --chart FILE          write an SVG of goodput against the prefill:decode split
  --json                machine-readable output
  -h, --help            this text
`;

/** The options of `splitserve plan`. */
export const PLAN_OPTIONS = {
  traffic: { type: 'string' },
  rate: { type: 'string' },
  mix: { type: 'string' },
  tier: { type: 'string', multiple: true },
  attainment: { type: 'string' },
  price: { type: 'string', multiple: true },
  hardware: { type: 'string' },
  margin: { type: 'string' },
  'max-per-pool': { type: 'string' },
  duration: { type: 'string' },
  seed: { type: 'string' },
  bursty: { type: 'boolean', default: false },
  steps: { type: 'string' },
  interval: { type: 'string' },
  chart: { type: 'string' },
  'from-usage': { type: 'boolean', default: false },
  endpoint: { type: 'string' },
  'usage-table': { type: 'string' },
  tenant: { type: 'string', multiple: true },
  'window-start': { type: 'string' },
  'window-end': { type: 'string' },
  json: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

/** Parsed options of `splitserve plan`. */
export interface PlanCommandOptions {
  readonly trafficFile: string | undefined;
  /** Traffic fields given as flags (laid over the file's). */
  readonly overrides: Readonly<Record<string, unknown>>;
  readonly shapes: ShapeChoices;
  readonly margin: number;
  readonly maxPerPool: number;
  readonly durationS: number;
  readonly seed: number;
  readonly step: StepTrace | undefined;
  readonly chart: string | undefined;
  /** Measure the traffic from the Usage table. */
  readonly usage: { readonly endpoint: string; readonly table: string; readonly tenants: readonly string[]; readonly fromMs: number; readonly toMs: number } | undefined;
  readonly json: boolean;
  readonly help: boolean;
}

function isoTime(flag: string, text: string): number {
  const ms = Date.parse(text);
  if (!Number.isFinite(ms)) throw new CommandLineError(`${flag}: not a date-time "${text}" (e.g. 2026-12-07T10:00:00Z)`);
  return ms;
}

function num(flag: string, text: string | undefined, ok: (n: number) => boolean): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (text.trim() === '' || !Number.isFinite(n) || !ok(n)) throw new CommandLineError(`${flag}: bad value "${text}"`);
  return n;
}

function profileName(flag: string, name: string): SimProfileName {
  if (!(SIM_PROFILES as readonly string[]).includes(name)) throw new CommandLineError(`${flag}: unknown profile "${name}" (one of ${SIM_PROFILES.join(', ')})`);
  return name as SimProfileName;
}

/** Parses the command line (no file is read here). @throws CommandLineError */
export function parsePlanArgs(args: readonly string[]): PlanCommandOptions {
  const { values: v } = parseCommandLine(args, PLAN_OPTIONS);
  const overrides: Record<string, unknown> = {};
  const rate = num('--rate', v.rate, (n) => n > 0);
  if (rate !== undefined) overrides.ratePerSecond = rate;
  if (v.mix !== undefined) {
    if (!(MIX_NAMES as readonly string[]).includes(v.mix)) throw new CommandLineError(`--mix: unknown "${v.mix}" (one of ${MIX_NAMES.join(', ')})`);
    overrides.mix = v.mix;
  }
  if (v.tier !== undefined) {
    overrides.tiers = v.tier.map((text) => {
      const [name, share, ttft, tpot, ...extra] = text.split(':');
      if (!name || extra.length > 0 || tpot === undefined) throw new CommandLineError(`--tier: expected NAME:SHARE:TTFT_MS:TPOT_MS, got "${text}"`);
      return { name, share: num('--tier share', share, (n) => n > 0 && n <= 1), ttftMs: num('--tier TTFT', ttft, (n) => n > 0), tpotMs: num('--tier TPOT', tpot, (n) => n > 0) };
    });
  }
  const attainment = num('--attainment', v.attainment, (n) => n > 0 && n <= 1);
  if (attainment !== undefined) overrides.attainment = attainment;
  if (v.price !== undefined) {
    const prices: Record<string, number> = {};
    for (const text of v.price) {
      const [name, usd] = text.split('=');
      prices[profileName('--price', name ?? '')] = num('--price', usd, (n) => n > 0)!;
    }
    overrides.prices = prices;
  }
  let shapes = DEFAULT_SHAPES;
  if (v.hardware !== undefined) {
    const allowed = new Set(v.hardware.split(',').map((s) => profileName('--hardware', s.trim())));
    const keep = (list: readonly SimProfileName[]) => list.filter((n) => allowed.has(n));
    shapes = { aggregated: keep(DEFAULT_SHAPES.aggregated), prefill: keep(DEFAULT_SHAPES.prefill), decode: keep(DEFAULT_SHAPES.decode) };
  }
  let step: StepTrace | undefined;
  if (v.bursty || v.steps !== undefined) {
    const rates = v.steps === undefined ? DEFAULT_STEP.rates : v.steps.split(',').map((s) => num('--steps', s.trim(), (n) => n > 0)!);
    if (rates.length < 2) throw new CommandLineError('--steps: give at least two rates');
    step = { rates, intervalS: num('--interval', v.interval, (n) => n >= 5 && n <= 3_600) ?? DEFAULT_STEP.intervalS };
  }
  let usage: PlanCommandOptions['usage'];
  if (v['from-usage']) {
    if (overrides.ratePerSecond !== undefined || overrides.mix !== undefined) throw new CommandLineError('--rate and --mix do not go with --from-usage (the usage gives them)');
    if (!v.endpoint || !/^https?:\/\//.test(v.endpoint)) throw new CommandLineError('--from-usage needs --endpoint URL (http or https)');
    if (!v.tenant || v.tenant.length === 0) throw new CommandLineError('--from-usage needs --tenant ID');
    if (!v['window-start']) throw new CommandLineError('--from-usage needs --window-start');
    const fromMs = isoTime('--window-start', v['window-start']);
    const toMs = v['window-end'] === undefined ? Date.now() : isoTime('--window-end', v['window-end']);
    if (toMs <= fromMs) throw new CommandLineError('--window-end must be after --window-start');
    usage = { endpoint: v.endpoint, table: v['usage-table'] ?? LOCAL_TABLE_NAMES.usage, tenants: v.tenant, fromMs, toMs };
  } else if (v.endpoint !== undefined || v.tenant !== undefined || v['window-start'] !== undefined || v['window-end'] !== undefined || v['usage-table'] !== undefined) {
    throw new CommandLineError('--endpoint, --usage-table, --tenant and --window-* go with --from-usage');
  }
  return {
    trafficFile: v.traffic,
    overrides,
    usage,
    shapes,
    margin: num('--margin', v.margin, (n) => n >= 0 && n <= 2) ?? 0.1,
    maxPerPool: num('--max-per-pool', v['max-per-pool'], (n) => Number.isInteger(n) && n >= 1 && n <= 4_096) ?? DEFAULT_MAX_PER_POOL,
    durationS: num('--duration', v.duration, (n) => n >= 5 && n <= 3_600) ?? 60,
    seed: num('--seed', v.seed, Number.isInteger) ?? 1,
    step,
    chart: v.chart,
    json: v.json === true,
    help: v.help === true,
  };
}

/**
 * The traffic file's fields with the flags laid over them: a flag replaces its field, and `--mix`
 * also replaces the file's `prompt` and `completion` (the mix's lengths are what it names).
 *
 * @example
 * layFlags({ ratePerSecond: 5, prompt: p, completion: c }, { mix: 'rag' }); // { ratePerSecond: 5, mix: 'rag' }
 */
export function layFlags(file: Readonly<Record<string, unknown>>, flags: Readonly<Record<string, unknown>>): Record<string, unknown> {
  const { prompt, completion, ...rest } = file;
  const kept = flags.mix === undefined ? { ...rest, ...(prompt === undefined ? {} : { prompt }), ...(completion === undefined ? {} : { completion }) } : rest;
  return { ...kept, ...flags };
}

/**
 * `splitserve plan`: resolves 0 with a plan that met every tier on validation, 1 when no plan
 * (or the validation replay) met them, a tier had too few requests to validate, or the traffic
 * description is bad, 2 on a bad command line.
 *
 * @example
 * process.exitCode = await planCommand(['--rate', '20', '--mix', 'chat']);
 */
export function planCommand(args: string[]): Promise<number> {
  return runParsed('plan', args, parsePlanArgs, PLAN_USAGE, runPlan);
}

async function runPlan(o: PlanCommandOptions): Promise<number> {
  if (!o.usage && o.trafficFile === undefined && (o.overrides.ratePerSecond === undefined || o.overrides.mix === undefined)) {
    throw new CommandLineError('give --traffic FILE, or --rate and --mix, or --from-usage');
  }
  let traffic;
  let measuredNote: string | undefined;
  try {
    const base = o.trafficFile === undefined ? {} : await readTrafficJson(o.trafficFile);
    let input = layFlags(base, o.overrides);
    if (o.usage) {
      const slos = (Array.isArray(input.tiers) ? input.tiers : []) as Tier[];
      const client = localDynamoClient(o.usage.endpoint);
      try {
        const records = await readUsageWindow(client, o.usage.table, o.usage.tenants, o.usage.fromMs, o.usage.toMs);
        const m = measureTraffic(records, o.usage.fromMs, o.usage.toMs, slos);
        const { mix: _mix, ...rest } = input;
        input = { ...rest, ratePerSecond: m.ratePerSecond, prompt: m.prompt, completion: m.completion, tiers: m.tiers };
        measuredNote = `measured from ${m.requests} metered requests of ${o.usage.tenants.join(', ')} between ${new Date(o.usage.fromMs).toISOString()} and ${new Date(o.usage.toMs).toISOString()}`;
      } finally {
        client.destroy();
      }
    }
    traffic = parseTraffic(input);
  } catch (err) {
    if (err instanceof TrafficError) throw new CommandFailure(err.message, 'the traffic file format is in docs/planner.md');
    throw err;
  }
  const options = { durationS: o.durationS, seed: o.seed, margin: o.margin, maxPerPool: o.maxPerPool, shapes: o.shapes };
  const rec = planDeployment(traffic, options);
  const bursty = o.step ? runBursty(traffic, o.step, options) : undefined;
  let chartPath: string | undefined;
  if (o.chart !== undefined) {
    const plan = rec.plan ?? rec.closest?.plan;
    const total = plan ? Math.max(4, plan.kind === 'aggregated' ? plan.aggregated.count : plan.prefill.count + plan.decode.count) : 8;
    const pairs: [SimProfileName, SimProfileName][] = plan?.kind === 'disaggregated' ? [[plan.prefill.profile, plan.decode.profile]] : [];
    if (!pairs.some(([p, d]) => p === 'gpu-aggregated' && d === 'gpu-aggregated')) pairs.push(['gpu-aggregated', 'gpu-aggregated']);
    const sweeps = pairs.map(([p, d]) => sweepSplits(traffic, p, d, total, o.durationS, o.seed + 1_000));
    chartPath = resolve(o.chart);
    await mkdir(dirname(chartPath), { recursive: true });
    await writeFile(chartPath, renderSplitSvg(sweeps, `splitserve plan: goodput vs prefill:decode split (seed ${o.seed + 1_000})`));
  }
  if (o.json) {
    process.stdout.write(`${JSON.stringify({ ...recommendationJson(rec), measured: measuredNote ?? null, bursty: bursty ?? null, chart: chartPath ?? null }, null, 2)}\n`);
  } else {
    if (measuredNote) process.stdout.write(`traffic ${measuredNote}\n`);
    process.stdout.write(`${formatRecommendation(rec)}\n`);
    if (bursty) process.stdout.write(`\n${formatBursty(bursty)}\n`);
    if (chartPath) process.stdout.write(`\nchart: ${chartPath}\n`);
  }
  return rec.validation?.met === true ? 0 : 1;
}
