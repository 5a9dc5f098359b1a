/**
 * A circuit breaker per endpoint as a pure state machine (the clock is an argument):
 * closed → open after `failures` consecutive failures → half-open once `coolDownMs` passed → one
 * probe call → closed when it succeeds, open again when it fails.
 */

/** Breaker states. */
export const BREAKER_STATES = {
  closed: 'closed',
  open: 'open',
  halfOpen: 'half-open',
} as const;
export type BreakerStateName = (typeof BREAKER_STATES)[keyof typeof BREAKER_STATES];

/** Settings of a breaker. */
export interface BreakerSettings {
  /** Consecutive failures that open the breaker. */
  readonly failures: number;
  /** How long an open breaker refuses calls before it lets one probe through, in ms. */
  readonly coolDownMs: number;
}

/** The state of one breaker. */
export interface Breaker {
  readonly state: BreakerStateName;
  readonly consecutiveFailures: number;
  /** When it last opened (ms, the caller's clock). */
  readonly openedAt: number;
}

/** A closed breaker. */
export const CLOSED_BREAKER: Breaker = { state: BREAKER_STATES.closed, consecutiveFailures: 0, openedAt: 0 };

/**
 * Whether a call may go through now: always when closed; when open, only once the cool-down has
 * passed (that call is the probe, see {@link breakerOnCall}); never while a probe is out.
 */
export function breakerAllows(b: Breaker, now: number, s: BreakerSettings): boolean {
  if (b.state === BREAKER_STATES.closed) return true;
  if (b.state === BREAKER_STATES.open) return now - b.openedAt >= s.coolDownMs;
  return false;
}

/** A call was let through: an open breaker past its cool-down turns half-open (its probe is out). */
export function breakerOnCall(b: Breaker, now: number, s: BreakerSettings): Breaker {
  return b.state === BREAKER_STATES.open && breakerAllows(b, now, s) ? { ...b, state: BREAKER_STATES.halfOpen } : b;
}

/** A call succeeded: the breaker closes and forgets earlier failures. */
export function breakerOnSuccess(b: Breaker): Breaker {
  return b.state === BREAKER_STATES.closed && b.consecutiveFailures === 0 ? b : CLOSED_BREAKER;
}

/**
 * A call failed: a failed probe reopens the breaker; in the closed state the `failures`-th
 * consecutive failure opens it; an open breaker stays open (its cool-down is not extended).
 *
 * @example
 * let b = CLOSED_BREAKER;
 * for (let i = 0; i < 3; i++) b = breakerOnFailure(b, now, { failures: 3, coolDownMs: 1000 });
 * b.state; // 'open'
 */
export function breakerOnFailure(b: Breaker, now: number, s: BreakerSettings): Breaker {
  if (b.state === BREAKER_STATES.halfOpen) return { state: BREAKER_STATES.open, consecutiveFailures: b.consecutiveFailures + 1, openedAt: now };
  if (b.state === BREAKER_STATES.open) return { ...b, consecutiveFailures: b.consecutiveFailures + 1 };
  const consecutiveFailures = b.consecutiveFailures + 1;
  return consecutiveFailures >= s.failures
    ? { state: BREAKER_STATES.open, consecutiveFailures, openedAt: now }
    : { ...b, consecutiveFailures };
}

/**
 * A call let through ended without a verdict (cancelled by the gateway, not the endpoint's
 * fault): a half-open breaker returns to open with its cool-down already spent, so the next call
 * is the probe.
 */
export function breakerOnAbandon(b: Breaker): Breaker {
  return b.state === BREAKER_STATES.halfOpen ? { ...b, state: BREAKER_STATES.open } : b;
}
