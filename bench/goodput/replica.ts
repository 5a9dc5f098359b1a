/**
 * One simulated replica in virtual time: `maxBatch` slots, a FIFO queue, and the timing of the
 * pure model (sim/model.ts). A sequence holding a slot first spends the model's time-to-first-
 * token (prefill, or KV transfer, plus overhead; queueing is the wait for the slot), then decodes
 * its remaining tokens at the inter-token latency of the replica's current batch (every slot
 * holder counts, as in the live simulator). The batch changes only at events, so decode progress
 * between events is exact: every decoding sequence on a replica advances by Δt / ITL(batch).
 *
 * Prefill-decode interference: while a sequence on the replica computes its prompt (an
 * `aggregated` or `decode-recompute` job in its first phase), the replica's decoding sequences do
 * not advance. This is the "generation stall" of a prefill-first continuous-batching scheduler
 * (vLLM without chunked prefill): DistServe (Zhong et al., OSDI 2024, §2.2: colocating prefill and
 * decoding means "a single prefill job" added to a batch of decodes "significantly slows down both")
 * and Sarathi-Serve (Agrawal et al., OSDI 2024, "generation stalls"). Chunked prefill shortens the
 * stalls but does not remove the work, so this is the pessimistic end of the interference. A KV
 * transfer (`decode-remote`) computes nothing and stalls nothing; a `prefill` job decodes nothing.
 */
import { firstTokenMs, interTokenMs } from '../../sim/model.ts';
import type { RequestKind } from '../../sim/model.ts';
import type { SimProfile } from '../../sim/profiles.ts';

/** Work given to a replica. */
export interface ReplicaJob {
  readonly requestId: number;
  readonly kind: RequestKind;
  readonly promptTokens: number;
  /** Tokens this replica emits (a `prefill` job emits none to the client; use 0). */
  readonly completionTokens: number;
  /** Prompt tokens found in the replica's prefix cache (only the rest is prefilled). @default 0 */
  readonly cachedTokens?: number;
}

/** What happened on a replica at one event. */
export interface ReplicaEvent {
  readonly type: 'started' | 'first-token' | 'done';
  readonly job: ReplicaJob;
  readonly at: number;
}

interface Sequence {
  readonly job: ReplicaJob;
  phase: 'first' | 'decode';
  /** End of the first phase (virtual ms). */
  readonly firstEndsAt: number;
  /** Value of the replica's decode counter at which the sequence is done. */
  doneAtCount: number;
}

/** Tolerance of virtual-time comparisons (ms, tokens). */
const EPS = 1e-7;

/** A replica of one profile. */
export class Replica {
  private readonly active: Sequence[] = [];
  /** Sequences in their first phase that compute the prompt here (they stall the decodes). */
  private computing = 0;
  private waiting: ReplicaJob[] = [];
  private head = 0;
  /** Tokens each decoding sequence has emitted since time 0 (shared: one ITL per replica). */
  private count = 0;
  private lastAt = 0;
  /** Bumped on every change, so stale wake-ups can be told apart. */
  version = 0;

  constructor(
    readonly profile: SimProfile,
    readonly id: number,
  ) {}

  /** Calls in flight: holding a slot or waiting for one (what a gateway counts per endpoint). */
  get outstanding(): number {
    return this.active.length + this.waiting.length - this.head;
  }

  /** Sequences holding a slot. */
  get batch(): number {
    return this.active.length;
  }

  /** Queues `job` at `now` and starts what fits. */
  submit(job: ReplicaJob, now: number): ReplicaEvent[] {
    this.advance(now);
    this.waiting.push(job);
    const events: ReplicaEvent[] = [];
    this.admit(now, events);
    this.version++;
    return events;
  }

  /** The next time something ends on this replica, or Infinity when idle. */
  nextEventAt(): number {
    let next = Infinity;
    const itl = interTokenMs(this.profile, this.active.length);
    for (const s of this.active) {
      if (s.phase === 'decode' && this.computing > 0) continue; // stalled until a prefill ends (an event)
      const at = s.phase === 'first' ? s.firstEndsAt : this.lastAt + (s.doneAtCount - this.count) * itl;
      if (at < next) next = at;
    }
    return next;
  }

  /** Processes everything that ends at `now` (first tokens, completions) and admits waiters. */
  step(now: number): ReplicaEvent[] {
    this.advance(now);
    const events: ReplicaEvent[] = [];
    for (let i = 0; i < this.active.length; ) {
      const s = this.active[i]!;
      if (s.phase === 'first' && s.firstEndsAt <= now + EPS) {
        const emits = s.job.kind !== 'prefill';
        if (emits) events.push({ type: 'first-token', job: s.job, at: now });
        if (computesAndDecodes(s.job)) this.computing--;
        s.phase = 'decode';
        s.doneAtCount = this.count + (emits ? Math.max(0, s.job.completionTokens - 1) : 0);
      }
      if (s.phase === 'decode' && s.doneAtCount - this.count <= EPS) {
        events.push({ type: 'done', job: s.job, at: now });
        this.active.splice(i, 1);
        continue;
      }
      i++;
    }
    this.admit(now, events);
    this.version++;
    return events;
  }

  private advance(now: number): void {
    if (now > this.lastAt && this.active.length > 0 && this.computing === 0) this.count += (now - this.lastAt) / interTokenMs(this.profile, this.active.length);
    this.lastAt = Math.max(this.lastAt, now);
  }

  private admit(now: number, events: ReplicaEvent[]): void {
    while (this.head < this.waiting.length && this.active.length < this.profile.maxBatch) {
      const job = this.waiting[this.head++]!;
      const ttft = firstTokenMs({ profile: this.profile, promptTokens: job.promptTokens, kind: job.kind, cachedTokens: job.cachedTokens ?? 0 }).totalMs;
      this.active.push({ job, phase: 'first', firstEndsAt: now + ttft, doneAtCount: Infinity });
      if (computesAndDecodes(job)) this.computing++;
      events.push({ type: 'started', job, at: now });
    }
    if (this.head > 1024 && this.head * 2 > this.waiting.length) {
      this.waiting = this.waiting.slice(this.head);
      this.head = 0;
    }
  }
}

/** True for a job that computes its prompt on a replica that also decodes (it stalls that replica's decodes). */
function computesAndDecodes(job: ReplicaJob): boolean {
  return job.kind === 'aggregated' || job.kind === 'decode-recompute';
}
