import { describe, expect, it } from 'vitest';
import type { TargetName } from '../../bench/cli-options.ts';
import { roundOrder } from '../../bench/run.ts';

const named = (...names: TargetName[]) => names.map((name) => ({ name }));
const namesOf = (setups: readonly { name: TargetName }[]) => setups.map((s) => s.name);

describe('roundOrder', () => {
  it('puts direct first and alternates the relay and the gateway between rounds', () => {
    const setups = named('direct', 'relay', 'gateway');
    expect(namesOf(roundOrder(setups, 1))).toEqual(['direct', 'relay', 'gateway']);
    expect(namesOf(roundOrder(setups, 2))).toEqual(['direct', 'gateway', 'relay']);
    expect(namesOf(roundOrder(setups, 0))).toEqual(['direct', 'gateway', 'relay']); // the warm-up round
  });

  it('gives the relay and the gateway each place equally over an even number of rounds, whatever order --targets named them in', () => {
    const setups = named('gateway', 'relay', 'direct');
    const orders = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10].map((round) => namesOf(roundOrder(setups, round)));
    expect(orders.every((o) => o[0] === 'direct')).toBe(true);
    expect(orders.filter((o) => o[1] === 'relay')).toHaveLength(5);
    expect(orders.filter((o) => o[1] === 'gateway')).toHaveLength(5);
    expect(orders[0]).toEqual(['direct', 'relay', 'gateway']);
  });

  it('keeps each target idle for the same number of batches in every group but a round\'s first', () => {
    // Two rounds of four groups (two concurrencies × two routes), as the bench runs them.
    const sequence = [1, 2].flatMap((round) => [0, 1, 2, 3].flatMap(() => namesOf(roundOrder(named('direct', 'relay', 'gateway'), round))));
    const gaps = (target: TargetName) => sequence.flatMap((name, i) => {
      if (name !== target) return [];
      const last = sequence.lastIndexOf(target, i - 1);
      return last < 0 ? [] : [i - last - 1];
    });
    // Batches 12.. are round 2; its first group swaps the pair, the other groups repeat the order.
    expect(gaps('relay')).toEqual([2, 2, 2, 3, 2, 2, 2]);
    expect(gaps('gateway')).toEqual([2, 2, 2, 1, 2, 2, 2]);
    expect(namesOf(roundOrder(named('relay', 'gateway'), 3))).toEqual(['relay', 'gateway']);
  });
});
