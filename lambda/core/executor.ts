/**
 * The in-process executor of a plan: the same steps the state machine runs (Prefill → Decode,
 * Retry on transient failures, Catch → Fallback, Meter), called as functions. Used for every
 * streaming request (Step Functions cannot stream) and, where no state machine is configured, for
 * non-streaming ones too.
 */
import { UpstreamError } from './errors.ts';
import type { PlanState } from './plan.ts';
import type { StepDeps } from './plan-steps.ts';
import { decode, hasPrefill, onTierChain, openDecode, prefill } from './plan-steps.ts';
import { withRetry } from './retry.ts';
import type { UpstreamCompletion } from './backend-ports.ts';

/** Runs a non-streaming plan to its final state (with `response` and `usage`). */
export interface PlanExecutor {
  /** Name for logs: `in-process` or `step-functions`. */
  readonly name: string;
  /** Whether the executor records usage itself (the state machine's `Meter` step). */
  readonly meters: boolean;
  runJson(state: PlanState, signal: AbortSignal): Promise<PlanState>;
}

/** Non-streaming plans run as function calls. */
export class InProcessExecutor implements PlanExecutor {
  readonly name = 'in-process';
  readonly meters = false;

  constructor(private readonly deps: StepDeps) {}

  /**
   * Prefill then decode, each retried on transient failures; a failure that outlives its retries
   * moves to the next fallback tier, whose steps are retried the same way (as the state machine
   * retries its Fallback task, and as {@link openPlanStream} does).
   */
  runJson(initial: PlanState, signal: AbortSignal): Promise<PlanState> {
    return onTierChain(this.deps, initial, signal, async (state) => {
      const afterPrefill = hasPrefill(this.deps, state) ? await withRetry(() => prefill(this.deps, state, signal), signal) : state;
      return withRetry(() => decode(this.deps, afterPrefill, signal), signal);
    });
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
