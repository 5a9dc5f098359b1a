/**
 * Scripted faults (DESIGN.md section 2, simulator): deterministic under the seed. A fault plan is
 * plain data; `faultsForCall` decides, for the Nth completion call, what goes wrong.
 */
import { z } from 'zod';
import type { Random } from './prng.ts';

/** Faults a simulator injects. Settable at start, by `setFaults`, or `POST /sim/faults`. */
export interface SimFaults {
  /** 1-based completion-call indices that answer `errorStatus` with an OpenAI error body. */
  readonly failNth?: readonly number[];
  /** Probability (0..1, seeded) that a completion call answers `errorStatus`. @default 0 */
  readonly errorRate?: number;
  /** Status of injected errors. @default 500 */
  readonly errorStatus?: number;
  /** Real (wall-clock, NOT divided by speedup) milliseconds before the first byte. @default 0 */
  readonly stallMs?: number;
  /** Destroy the socket after this many output tokens (stream or not). */
  readonly dropAfterTokens?: number;
  /** Prefill answers without `kv_transfer_params`: always (`true`) or for these call indices. */
  readonly omitKvParams?: boolean | readonly number[];
  /** `GET /health` answers 503. Completions are still served. @default false */
  readonly unhealthy?: boolean;
}

/** zod schema of {@link SimFaults} (for `POST /sim/faults`). */
export const simFaultsSchema = z
  .object({
    failNth: z.array(z.number().int().min(1)).optional(),
    errorRate: z.number().min(0).max(1).optional(),
    errorStatus: z.number().int().min(400).max(599).optional(),
    stallMs: z.number().min(0).max(600_000).optional(),
    dropAfterTokens: z.number().int().min(0).optional(),
    omitKvParams: z.union([z.boolean(), z.array(z.number().int().min(1))]).optional(),
    unhealthy: z.boolean().optional(),
  })
  .strict();

/** What goes wrong for one call. */
export interface CallFaults {
  /** Answer this error instead of a completion. */
  readonly error?: { readonly status: number; readonly message: string };
  readonly stallMs: number;
  readonly dropAfterTokens?: number;
  readonly omitKvParams: boolean;
}

/**
 * The faults of completion call number `callIndex` (1-based). `rnd` is the simulator's fault
 * stream: it is drawn exactly once per call when `errorRate > 0`, so a seed replays the same
 * failures for the same call sequence.
 *
 * @example
 * faultsForCall({ failNth: [3] }, 3, rnd).error?.status; // 500
 */
export function faultsForCall(faults: SimFaults, callIndex: number, rnd: Random): CallFaults {
  const status = faults.errorStatus ?? 500;
  const rate = faults.errorRate ?? 0;
  const drawn = rate > 0 ? rnd() < rate : false;
  let error: CallFaults['error'];
  if (faults.failNth?.includes(callIndex)) error = { status, message: `simulated failure of call ${callIndex} (failNth)` };
  else if (drawn) error = { status, message: `simulated failure of call ${callIndex} (errorRate)` };
  const omit = faults.omitKvParams;
  return {
    ...(error ? { error } : {}),
    stallMs: faults.stallMs ?? 0,
    ...(faults.dropAfterTokens !== undefined ? { dropAfterTokens: faults.dropAfterTokens } : {}),
    omitKvParams: omit === true || (Array.isArray(omit) && omit.includes(callIndex)),
  };
}
