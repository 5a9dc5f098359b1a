/**
 * Order statistics used by the benchmark: percentiles of one batch, medians over rounds.
 * Pure functions on plain numbers; no I/O.
 */

/**
 * The p-th percentile (0 ≤ p ≤ 100) by linear interpolation between the closest ranks
 * (the "R-7" / NumPy default definition). `NaN` for an empty list.
 *
 * @example
 * percentile([1, 2, 3, 4], 50); // 2.5
 * percentile([5, 1, 9], 100);   // 9
 */
export function percentile(values: readonly number[], p: number): number {
  if (!(p >= 0 && p <= 100)) throw new RangeError(`percentile must be within 0..100, got ${p}`);
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = (p / 100) * (sorted.length - 1);
  const lo = Math.floor(rank);
  const hi = Math.ceil(rank);
  const low = sorted[lo] as number;
  const high = sorted[hi] as number;
  return low + (high - low) * (rank - lo);
}

/**
 * The median (50th percentile); `NaN` for an empty list. `NaN` entries (a round with no figure)
 * are ignored, so one failed round does not poison the median of the others.
 *
 * @example
 * median([3, 1, 2]);    // 2
 * median([4, 1, 3, 2]); // 2.5
 */
export function median(values: readonly number[]): number {
  return percentile(values.filter((v) => !Number.isNaN(v)), 50);
}

/** p50 and p99 of a list of samples, with the count they come from. */
export interface Summary {
  readonly count: number;
  readonly p50: number;
  readonly p99: number;
}

/** p50 and p99 of `values` (both `NaN` when empty). */
export function summarize(values: readonly number[]): Summary {
  return { count: values.length, p50: percentile(values, 50), p99: percentile(values, 99) };
}
