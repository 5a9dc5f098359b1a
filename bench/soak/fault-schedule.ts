/**
 * The soak's fault plan: for each simulator, phases of a few seconds, each with a fault set drawn
 * from a seeded generator (errors, stalls past the pool timeout, dropped sockets, prefill without
 * KV parameters, and the newer kinds when the simulator's schema has them: connection resets,
 * throttling 429s with `retry-after`, streams that go silent mid-body, malformed bodies, slow
 * trickles). Pure: the same seed, duration and kinds give the same plan.
 */
import { mulberry32, randomInt } from '../../sim/prng.ts';
import type { Random } from '../../sim/prng.ts';
import { simFaultsSchema } from '../../sim/faults.ts';
import type { SimFaults } from '../../sim/faults.ts';
import { POOL_TIMEOUT_MS, SOAK_SIMS } from './soak-config.ts';
import type { SoakSim } from './soak-config.ts';

/** One change of a simulator's faults. */
export interface FaultChange {
  /** Offset from the start of the load, ms. */
  readonly atMs: number;
  readonly sim: SoakSim;
  /** A short name of the fault set (`none`, `errors`, `stall`, …). */
  readonly kind: string;
  readonly faults: SimFaults;
}

/** Fault fields the simulator's `POST /sim/faults` accepts (the faults helper adds kinds). */
export function supportedFaultFields(): ReadonlySet<string> {
  return new Set(Object.keys(simFaultsSchema.shape));
}

type Draw = (rnd: Random, sim: SoakSim) => SimFaults | undefined;

/** The fault kinds, each drawing a fault set (undefined when it does not apply to that simulator or field set). */
function kinds(fields: ReadonlySet<string>): Array<readonly [string, Draw]> {
  const has = (...names: string[]): boolean => names.every((n) => fields.has(n));
  const all: Array<readonly [string, Draw | false]> = [
    ['errors', (rnd) => ({ errorRate: 0.2 + rnd() * 0.4, errorStatus: [500, 502, 503][randomInt(rnd, 0, 2)]! })],
    ['stall', (rnd) => ({ stallMs: POOL_TIMEOUT_MS + randomInt(rnd, 500, 2_000) })],
    ['drop', (rnd, sim) => (sim === 'prefill' ? undefined : { dropAfterTokens: randomInt(rnd, 1, 8) })],
    ['no-kv-params', (_rnd, sim) => (sim === 'prefill' ? { omitKvParams: true } : undefined)],
    ['reset', has('reset') && (() => ({ reset: true }))],
    ['throttle', has('retryAfterMs') && ((rnd) => ({ errorRate: 0.3 + rnd() * 0.3, errorStatus: 429, retryAfterMs: 1_000 }))],
    ['stall-mid-body', has('stallAfterTokens') && ((rnd, sim) => (sim === 'prefill' ? undefined : { stallAfterTokens: randomInt(rnd, 1, 6) }))],
    ['invalid-body', has('invalidBody') && (() => ({ invalidBody: true }))],
    ['trickle', has('trickleMs') && ((rnd) => ({ trickleMs: randomInt(rnd, 30, 120) }))],
  ];
  return all.filter((k): k is readonly [string, Draw] => k[1] !== false);
}

/** Options of {@link faultPlan}. */
export interface FaultPlanOptions {
  readonly seed: number;
  /** Length of the load, ms. Faults are cleared at 85% of it, so the run ends on healthy engines. */
  readonly durationMs: number;
  /** Fields the simulators accept; default {@link supportedFaultFields}. */
  readonly fields?: ReadonlySet<string>;
  /** Share of phases without faults. @default 0.6 */
  readonly healthyShare?: number;
}

/**
 * The plan: per simulator, phases of 2–6 s (healthy or one fault kind), from 0 to 85% of the
 * duration, then a last change to no faults. Sorted by time.
 *
 * @example
 * faultPlan({ seed: 1, durationMs: 300_000 }).filter((c) => c.kind === 'stall').length; // > 0
 */
export function faultPlan(options: FaultPlanOptions): FaultChange[] {
  const available = kinds(options.fields ?? supportedFaultFields());
  const healthy = options.healthyShare ?? 0.6;
  const end = Math.floor(options.durationMs * 0.85);
  const changes: FaultChange[] = [];
  for (const sim of Object.keys(SOAK_SIMS) as SoakSim[]) {
    const rnd = mulberry32(options.seed * 31 + sim.length * 7 + sim.charCodeAt(0));
    let at = randomInt(rnd, 0, 1_500);
    while (at < end) {
      let kind = 'none';
      let faults: SimFaults = {};
      if (rnd() >= healthy) {
        const [name, draw] = available[randomInt(rnd, 0, available.length - 1)]!;
        const drawn = draw(rnd, sim);
        if (drawn) {
          kind = name;
          faults = drawn;
        }
      }
      changes.push({ atMs: at, sim, kind, faults });
      at += randomInt(rnd, 2_000, 6_000);
    }
    changes.push({ atMs: end, sim, kind: 'none', faults: {} });
  }
  return changes.sort((a, b) => a.atMs - b.atMs);
}
