/**
 * A binary min-heap of timed events for the virtual-time simulation. Events at the same time
 * leave in the order they were pushed, so a run is deterministic.
 */

interface Entry<T> {
  readonly at: number;
  readonly order: number;
  readonly value: T;
}

/** A priority queue of values keyed by virtual time. */
export class EventQueue<T> {
  private readonly heap: Entry<T>[] = [];
  private pushed = 0;

  /** Number of queued events. */
  get size(): number {
    return this.heap.length;
  }

  /** Time of the earliest event, or Infinity when empty. */
  peekTime(): number {
    return this.heap[0]?.at ?? Infinity;
  }

  /** Adds `value` at time `at`. */
  push(at: number, value: T): void {
    const heap = this.heap;
    heap.push({ at, order: this.pushed++, value });
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[i]!, heap[parent]!)) break;
      [heap[i], heap[parent]] = [heap[parent]!, heap[i]!];
      i = parent;
    }
  }

  /** Removes and returns the earliest event, or undefined when empty. */
  pop(): { readonly at: number; readonly value: T } | undefined {
    const heap = this.heap;
    const top = heap[0];
    if (!top) return undefined;
    const last = heap.pop()!;
    if (heap.length > 0) {
      heap[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < heap.length && before(heap[l]!, heap[m]!)) m = l;
        if (r < heap.length && before(heap[r]!, heap[m]!)) m = r;
        if (m === i) break;
        [heap[i], heap[m]] = [heap[m]!, heap[i]!];
        i = m;
      }
    }
    return { at: top.at, value: top.value };
  }
}

function before<T>(a: Entry<T>, b: Entry<T>): boolean {
  return a.at < b.at || (a.at === b.at && a.order < b.order);
}
