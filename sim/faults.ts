/**
 * Scripted faults (docs/simulator.md): deterministic under the seed. A fault plan is
 * plain data; `faultsForCall` decides, for the Nth completion call, what goes wrong.
 */
import { z } from 'zod';
import type { Random } from './prng.ts';

/**
 * Faults a simulator injects. Settable at start, by `setFaults`, or `POST /sim/faults`.
 *
 * Two kinds: injected errors (`failNth`, `errorRate`: an HTTP error answer) and per-call
 * misbehaviours (`stallMs`, `dropAfterTokens`, `reset`, `stallAfterTokens`, `invalidBody`,
 * `trickleMs`), which apply to every call, or only to the calls listed in `onCalls`; and `refuse`,
 * a closed port (connection refused) while it is set.
 *
 * @example
 * // the 3rd call's connection is reset before any answer; every other call is served
 * sim.setFaults({ reset: true, onCalls: [3] });
 * // the next call answers 429 with `retry-after: 1`
 * sim.setFaults({ failNth: [sim.stats().calls + 1], errorStatus: 429, retryAfterMs: 1000 });
 */
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
  /**
   * Injected errors carry `retry-after` (whole seconds, rounded up) and `retry-after-ms`
   * headers, as a throttling server answers a 429.
   */
  readonly retryAfterMs?: number;
  /** Destroy the socket once the request is read, before any response byte (a connection reset). */
  readonly reset?: boolean;
  /**
   * Stop writing after this many output tokens and keep the socket open (until the client closes
   * it or the simulator stops): a stream goes silent mid-body; a JSON answer sends its headers and
   * the first part of its body, then nothing.
   */
  readonly stallAfterTokens?: number;
  /**
   * Answer with a malformed body: a JSON answer that is not JSON (status 200); a stream with a
   * garbage `data:` event (not JSON) after its first token, then the rest of the stream.
   */
  readonly invalidBody?: boolean;
  /**
   * Real (wall-clock, NOT divided by speedup) milliseconds before each token, first one included:
   * a slow trickle, whatever the profile says.
   */
  readonly trickleMs?: number;
  /**
   * The port is closed: every connection is refused (the simulator stops listening, drops its open
   * connections, and listens again on the same port once a plan without it is set). Set in
   * process (`startSimulator({faults})`, `setFaults`) only: `POST /sim/faults` refuses it, as
   * nothing could reach the closed port to open it again.
   */
  readonly refuse?: boolean;
  /**
   * 1-based completion-call indices the per-call misbehaviours (`stallMs`, `dropAfterTokens`,
   * `reset`, `stallAfterTokens`, `invalidBody`, `trickleMs`) apply to. @default every call
   */
  readonly onCalls?: readonly number[];
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
    retryAfterMs: z.number().int().min(0).max(3_600_000).optional(),
    reset: z.boolean().optional(),
    stallAfterTokens: z.number().int().min(0).optional(),
    invalidBody: z.boolean().optional(),
    trickleMs: z.number().min(0).max(600_000).optional(),
    onCalls: z.array(z.number().int().min(1)).optional(),
    refuse: z.boolean().optional(),
  })
  .strict();

/** What goes wrong for one call. */
export interface CallFaults {
  /** Answer this error instead of a completion (with `retry-after` when `retryAfterMs` is set). */
  readonly error?: { readonly status: number; readonly message: string; readonly retryAfterMs?: number };
  readonly stallMs: number;
  readonly dropAfterTokens?: number;
  readonly omitKvParams: boolean;
  /** Destroy the socket before answering. */
  readonly reset: boolean;
  readonly stallAfterTokens?: number;
  readonly invalidBody: boolean;
  /** Real milliseconds before each token; 0 = the profile's pacing. */
  readonly trickleMs: number;
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
  const retryAfter = faults.retryAfterMs !== undefined ? { retryAfterMs: faults.retryAfterMs } : {};
  let error: CallFaults['error'];
  if (faults.failNth?.includes(callIndex)) error = { status, message: `simulated failure of call ${callIndex} (failNth)`, ...retryAfter };
  else if (drawn) error = { status, message: `simulated failure of call ${callIndex} (errorRate)`, ...retryAfter };
  const omit = faults.omitKvParams;
  const applies = faults.onCalls === undefined || faults.onCalls.includes(callIndex);
  return {
    ...(error ? { error } : {}),
    stallMs: applies ? (faults.stallMs ?? 0) : 0,
    ...(applies && faults.dropAfterTokens !== undefined ? { dropAfterTokens: faults.dropAfterTokens } : {}),
    omitKvParams: omit === true || (Array.isArray(omit) && omit.includes(callIndex)),
    reset: applies && faults.reset === true,
    ...(applies && faults.stallAfterTokens !== undefined ? { stallAfterTokens: faults.stallAfterTokens } : {}),
    invalidBody: applies && faults.invalidBody === true,
    trickleMs: applies ? (faults.trickleMs ?? 0) : 0,
  };
}
