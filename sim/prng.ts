/**
 * A small seeded pseudo-random generator (mulberry32) and a string hash (FNV-1a), so every
 * "random" choice of the simulator is reproducible from its seed.
 */

/** A generator of floats in [0, 1). */
export type Random = () => number;

/**
 * mulberry32: a 32-bit state PRNG, fast and good enough for simulation (not for security).
 *
 * @example
 * const rnd = mulberry32(42);
 * rnd(); // same sequence for the same seed, every run
 */
export function mulberry32(seed: number): Random {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 32-bit FNV-1a hash of a string (UTF-16 code units), for deriving sub-seeds. */
export function hashString(text: string, basis = 0x811c9dc5): number {
  let h = basis >>> 0;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** An integer in [min, max] (inclusive) drawn from `rnd`. */
export function randomInt(rnd: Random, min: number, max: number): number {
  return min + Math.floor(rnd() * (max - min + 1));
}

/** `length` lowercase hex characters drawn from `rnd`. */
export function randomHex(rnd: Random, length: number): string {
  let out = '';
  for (let i = 0; i < length; i++) out += Math.floor(rnd() * 16).toString(16);
  return out;
}
