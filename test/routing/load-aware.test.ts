/**
 * The load-aware policy (the default endpoint selection): round robin while no endpoint has a
 * load reading, the less busy of two random samples once any has; and `busyness`, what it
 * compares (engine load, else own calls in flight, with KV-cache use as tie-break). Injected
 * random sources, plain data.
 */
import { describe, expect, it } from 'vitest';
import { loadAware } from '../../lambda/routing/load-aware.ts';
import type { EndpointView } from '../../lambda/routing/policy.ts';
import { busyness } from '../../lambda/routing/policy.ts';
import { mulberry32 } from '../../sim/prng.ts';

const plain = (...outstanding: number[]): EndpointView[] => outstanding.map((o, i) => ({ url: `http://e${i}`, outstanding: o }));
const loaded = (...load: number[]): EndpointView[] => load.map((l, i) => ({ url: `http://e${i}`, outstanding: 0, load: l }));

/** A random source that returns the given values in turn (then repeats the last). */
function sequence(...values: number[]): () => number {
  let i = 0;
  return () => values[Math.min(i++, values.length - 1)]!;
}

describe('busyness', () => {
  it("is the engine's load when the endpoint has a reading, whatever this instance has in flight", () => {
    expect(busyness({ url: 'a', outstanding: 9, load: 2 })).toBe(2);
    expect(busyness({ url: 'a', outstanding: 0, load: 12 })).toBe(12);
  });

  it('is the calls in flight without a reading', () => {
    expect(busyness({ url: 'a', outstanding: 4 })).toBe(4);
  });

  it('reads a load of 0 as 0, not as missing', () => {
    expect(busyness({ url: 'a', outstanding: 7, load: 0 })).toBe(0);
  });

  it('adds the KV-cache use, a fraction, as the tie-break', () => {
    expect(busyness({ url: 'a', outstanding: 0, load: 3, kvUsage: 0.25 })).toBe(3.25);
    expect(busyness({ url: 'a', outstanding: 2, kvUsage: 0.5 })).toBe(2.5);
    const full = busyness({ url: 'a', outstanding: 0, load: 3, kvUsage: 0.9 });
    const empty = busyness({ url: 'b', outstanding: 0, load: 3, kvUsage: 0.1 });
    const busier = busyness({ url: 'c', outstanding: 0, load: 4, kvUsage: 0 });
    expect(full).toBeGreaterThan(empty);
    expect(busier).toBeGreaterThan(full); // one more request outweighs any KV-cache use below 1
  });
});

describe('loadAware', () => {
  it('round-robins while no endpoint has a load reading, whatever is in flight', () => {
    const policy = loadAware(() => 0);
    const e = plain(9, 0, 5);
    expect([0, 1, 2, 3, 4].map(() => policy.select(e))).toEqual([0, 1, 2, 0, 1]);
  });

  it('does not draw random numbers while it round-robins', () => {
    let draws = 0;
    const policy = loadAware(() => (draws++, 0));
    for (let i = 0; i < 5; i++) policy.select(plain(0, 0));
    expect(draws).toBe(0);
  });

  it('takes the less busy of two random samples once the endpoints report their load', () => {
    // samples 0 and 1 (random 0, offset 0)
    expect(loadAware(() => 0).select(loaded(12, 3, 0))).toBe(1);
    expect(loadAware(() => 0).select(loaded(3, 12, 0))).toBe(0);
    // samples 2 and 0 (random 0.99 → 2; then 0 → offset 0 → (2 + 1 + 0) % 3 = 0)
    expect(loadAware(sequence(0.99, 0)).select(loaded(0, 5, 9))).toBe(0);
  });

  it('draws two random numbers per choice', () => {
    let draws = 0;
    const policy = loadAware(() => (draws++, 0.5));
    policy.select(loaded(1, 2, 3));
    expect(draws).toBe(2);
  });

  it('switches to load as soon as any one endpoint has a reading', () => {
    // only e1 has a reading; e0's busyness is its 6 calls in flight, e1's load is 2
    const mixed: EndpointView[] = [{ url: 'http://e0', outstanding: 6 }, { url: 'http://e1', outstanding: 6, load: 2 }];
    const policy = loadAware(() => 0);
    expect([0, 1, 2].map(() => policy.select(mixed))).toEqual([1, 1, 1]);
  });

  it('keeps the first sample on a tie, and breaks ties on load by KV-cache use', () => {
    // random 0.6 → first sample 1, second 0: a tie keeps 1 (round robin would start at 0)
    expect(loadAware(() => 0.6).select(loaded(4, 4))).toBe(1);
    expect(loadAware(() => 0).select(loaded(4, 4))).toBe(0);
    const views: EndpointView[] = [
      { url: 'http://e0', outstanding: 0, load: 4, kvUsage: 0.8 },
      { url: 'http://e1', outstanding: 0, load: 4, kvUsage: 0.3 },
    ];
    expect(loadAware(() => 0).select(views)).toBe(1);
  });

  it('compares the engine load, not what this instance has in flight', () => {
    const views: EndpointView[] = [
      { url: 'http://e0', outstanding: 0, load: 20 },
      { url: 'http://e1', outstanding: 5, load: 6 },
    ];
    expect(loadAware(() => 0).select(views)).toBe(1);
  });

  it('always returns 0 for a single endpoint', () => {
    expect(loadAware(() => 0.7).select(loaded(100))).toBe(0);
    expect(loadAware(() => 0.7).select(plain(100))).toBe(0);
  });

  it('goes back to round robin when the readings are gone', () => {
    const policy = loadAware(() => 0);
    expect(policy.select(loaded(5, 1))).toBe(1);
    const e = plain(0, 0, 0);
    const picks = [0, 1, 2].map(() => policy.select(e));
    expect([...picks].sort()).toEqual([0, 1, 2]); // a full cycle, each endpoint once
  });

  it('under a seeded draw never picks the busiest endpoint of four', () => {
    const policy = loadAware(mulberry32(11));
    const views = loaded(30, 1, 2, 1);
    const picks = Array.from({ length: 400 }, () => policy.select(views));
    expect(picks.filter((i) => i === 0)).toHaveLength(0);
    expect(new Set(picks).size).toBeGreaterThan(1); // still spread over the others
  });
});
