import { describe, expect, it } from 'vitest';
import type { AdmissionMode, TargetName } from '../../bench/cli-options.ts';
import { roundOrder } from '../../bench/run.ts';

type Path = { readonly name: TargetName; readonly admission: AdmissionMode | null };
const label = (p: Path) => (p.admission === null ? p.name : `${p.name} ${p.admission}`);
const gateway = (name: TargetName): Path[] => (['none', 'exact', 'lease'] as const).map((admission) => ({ name, admission }));
const plain = (name: TargetName): Path => ({ name, admission: null });
const ALL: Path[] = [plain('direct'), plain('pipe'), plain('vllm-toy'), ...gateway('lambda'), ...gateway('node'), ...gateway('stack')];

describe('roundOrder', () => {
  it('puts direct first and the other paths in the targets\' order, reversed in even rounds (the warm-up round 0 too)', () => {
    expect(roundOrder(ALL, 1).map(label)).toEqual([
      'direct', 'pipe', 'vllm-toy', 'lambda none', 'lambda exact', 'lambda lease', 'node none', 'node exact', 'node lease', 'stack none', 'stack exact', 'stack lease',
    ]);
    expect(roundOrder(ALL, 2).map(label)).toEqual([
      'direct', 'stack lease', 'stack exact', 'stack none', 'node lease', 'node exact', 'node none', 'lambda lease', 'lambda exact', 'lambda none', 'vllm-toy', 'pipe',
    ]);
    expect(roundOrder(ALL, 0).map(label)).toEqual(roundOrder(ALL, 2).map(label));
  });

  it('orders by target whatever order the paths were started in, keeping a gateway\'s admission modes together', () => {
    const shuffled = [...gateway('stack'), plain('pipe'), ...gateway('lambda'), plain('direct')];
    expect(roundOrder(shuffled, 1).map(label)).toEqual(['direct', 'pipe', 'lambda none', 'lambda exact', 'lambda lease', 'stack none', 'stack exact', 'stack lease']);
  });

  it('gives every path each side of the pipe over a pair of rounds: its place after the pipe in one is its place before it in the other', () => {
    const places = (round: number) => new Map(roundOrder(ALL, round).slice(1).map((p, i) => [label(p), i]));
    const odd = places(1);
    const even = places(2);
    const pipeOdd = odd.get('pipe') as number;
    const pipeEven = even.get('pipe') as number;
    for (const [name, place] of odd) {
      if (name === 'pipe') continue;
      expect(place - pipeOdd, name).toBe(pipeEven - (even.get(name) as number));
    }
  });
});
