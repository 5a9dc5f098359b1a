/**
 * The most recent samples of something, in a ring of fixed capacity: adding the next sample past
 * the capacity overwrites the oldest, so memory never grows with traffic.
 */

/** A sample with the time it was taken. */
export interface Timed {
  /** Epoch milliseconds. */
  readonly at: number;
}

/**
 * A ring of the last `capacity` samples.
 *
 * @example
 * const recent = new RecentSamples<{ at: number; ms: number }>(1000);
 * recent.add({ at: Date.now(), ms: 42 });
 * recent.since(Date.now() - 60_000);   // the samples of the last minute, oldest first
 */
export class RecentSamples<T extends Timed> {
  private readonly ring: T[] = [];
  private next = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new RangeError(`capacity must be a positive integer, not ${capacity}`);
  }

  /** Adds a sample (samples are expected in time order). */
  add(sample: T): void {
    if (this.ring.length < this.capacity) this.ring.push(sample);
    else this.ring[this.next] = sample;
    this.next = (this.next + 1) % this.capacity;
  }

  /** How many samples are held (at most `capacity`). */
  get size(): number {
    return this.ring.length;
  }

  /** The samples taken at or after `from` (epoch ms), oldest first. */
  since(from: number): T[] {
    const ordered = this.ring.length < this.capacity ? this.ring : [...this.ring.slice(this.next), ...this.ring.slice(0, this.next)];
    return ordered.filter((s) => s.at >= from);
  }
}

/**
 * The `q` quantile (0..1) of `values` by nearest rank, or null when there are none.
 *
 * @example
 * quantile([5, 1, 3], 0.5);   // 3
 */
export function quantile(values: readonly number[], q: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.min(sorted.length, Math.max(1, Math.ceil(q * sorted.length)));
  return sorted[rank - 1]!;
}
