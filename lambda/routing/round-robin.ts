/**
 * Round-robin endpoint selection: the default policy of a pool. Pure: the cursor is the caller's.
 */

/** A round-robin cursor over a fixed list. */
export interface RoundRobin<T> {
  next(): T;
}

/**
 * Creates a round-robin selector over `items` (at least one).
 *
 * @example
 * const rr = roundRobin(['http://a', 'http://b']);
 * rr.next(); // 'http://a'
 * rr.next(); // 'http://b'
 */
export function roundRobin<T>(items: readonly T[]): RoundRobin<T> {
  if (items.length === 0) throw new Error('roundRobin needs at least one item');
  let cursor = 0;
  return {
    next() {
      const item = items[cursor % items.length]!;
      cursor = (cursor + 1) % items.length;
      return item;
    },
  };
}
