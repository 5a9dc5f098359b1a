/**
 * The in-process executor of a plan: the same steps the state machine runs (Prefill → Decode,
 * Retry on transient failures, Catch → Fallback, Meter), called as functions. Used for every
 * streaming request (Step Functions cannot stream) and, where no state machine is configured, for
 * non-streaming ones too.
 *
 * Metering has one owner per plan: a non-streamed plan is metered by its executor's Meter step
 * ({@link PlanMetering.meter}, whatever the outcome), a stream by the gateway at its end; the
 * gateway never asks an executor whether it metered.
 */
import { UpstreamError } from './errors.ts';
import { NO_USAGE } from './meter-step.ts';
import type { PlanState, PlanUsage } from './plan.ts';
import type { OpenRequestHandle } from './ports.ts';
import type { StepDeps } from './plan-steps.ts';
import { decode, hasPrefill, onTierChain, openDecode, prefill } from './plan-steps.ts';
import { withRetry } from './retry.ts';
import type { UpstreamCompletion } from './backend-ports.ts';

/** What the caller hands an executor with a plan: the plan's Meter step, bound to its request. */
export interface PlanMetering {
  /**
   * Opens the request's crash-safety marker (lambda/store/open-requests.ts), for an executor that
   * meters in this process: a state machine execution meters its request even if this process
   * dies, and opens none.
   */
  open(): OpenRequestHandle | undefined;
  /**
   * The Meter step (lambda/core/meter-step.ts): records how the plan ended, `failure` when it
   * failed. An executor calls it exactly once per plan it meters in this process.
   */
  meter(state: PlanState, usage: PlanUsage, failure?: unknown): void;
}

/** Runs a non-streaming plan to its final state (with `response` and `usage`), metered. */
export interface PlanExecutor {
  /** Name for logs: `in-process` or `step-functions`. */
  readonly name: string;
  /**
   * Runs the plan; it is metered once whatever the outcome: by the executor's own Meter step, or
   * through `metering.meter` when it runs in this process.
   */
  runJson(state: PlanState, signal: AbortSignal, metering: PlanMetering): Promise<PlanState>;
}

/** Non-streaming plans run as function calls. */
export class InProcessExecutor implements PlanExecutor {
  readonly name = 'in-process';

  constructor(private readonly deps: StepDeps) {}

  /**
   * Prefill then decode, each retried on transient failures; a failure that outlives its retries
   * moves to the next fallback tier, whose steps are retried the same way (as the state machine
   * retries its Fallback task, and as {@link openPlanStream} does). Then the Meter step, as the
   * state machine's: the plan is marked open while it runs, and metered when it ends or fails.
   */
  async runJson(initial: PlanState, signal: AbortSignal, metering: PlanMetering): Promise<PlanState> {
    const marker = metering.open();
    let done: PlanState;
    try {
      done = await onTierChain(this.deps, initial, signal, async (state) => {
        const afterPrefill = hasPrefill(this.deps, state) ? await withRetry(() => prefill(this.deps, state, signal), signal) : state;
        return withRetry(() => decode(this.deps, afterPrefill, signal), signal);
      });
    } catch (err) {
      metering.meter(initial, NO_USAGE, err);
      throw err;
    }
    if (marker) await marker.ready();
    metering.meter(done, done.usage ?? NO_USAGE);
    return done;
  }
}

/** A decode stream opened and primed: its first batch already arrived. */
export interface OpenedStream {
  /** Final plan state (the tier and route that actually serve the stream). */
  readonly state: PlanState;
  /** First batch of SSE payloads (nothing has been sent to the client yet). */
  readonly first: string[];
  /** The rest of the stream. */
  readonly rest: AsyncIterator<string[]>;
  /** Milliseconds from plan start to the first upstream batch. */
  readonly ttftMs: number;
}

/**
 * Opens a streaming plan: prefill (with retries), decode (with retries), and waits for the first
 * batch; any failure before that falls back to the next tier, so a client never sees a stream
 * that changes tier or repeats tokens.
 */
export function openPlanStream(deps: StepDeps, initial: PlanState, signal: AbortSignal): Promise<OpenedStream> {
  return onTierChain(deps, initial, signal, async (state) => {
    const afterPrefill = hasPrefill(deps, state) ? await withRetry(() => prefill(deps, state, signal), signal) : state;
    return withRetry(() => primeDecode(deps, afterPrefill, signal), signal);
  });
}

async function primeDecode(deps: StepDeps, state: PlanState, signal: AbortSignal): Promise<OpenedStream> {
  const completion: UpstreamCompletion = await openDecode(deps, state, signal);
  if (completion.kind !== 'stream') throw new UpstreamError('The backend did not stream its answer.', 502, false);
  const first = await completion.batches.next();
  if (first.done) throw new UpstreamError('The backend ended the stream before any data.', 502, true);
  return { state, first: first.value, rest: completion.batches, ttftMs: Date.now() - state.startedAt };
}
