/**
 * A small seeded PRNG for tests (mulberry32 for the stream, Box–Muller for normals).
 * Tests must never use Math.random: the same seed gives the same numbers on every run.
 */

export interface Rng {
  /** Uniform in [0, 1). */
  next(): number;
  uniform(lo: number, hi: number): number;
  normal(): number;
  int(n: number): number;
  /** n uniform values in [lo, hi) as float64. */
  array(n: number, lo?: number, hi?: number): Float64Array;
}

export function makeRng(seed: number): Rng {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const uniform = (lo: number, hi: number): number => lo + (hi - lo) * next();
  return {
    next,
    uniform,
    normal: () => {
      const u = 1 - next();
      return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * next());
    },
    int: (n: number) => Math.floor(next() * n),
    array: (n: number, lo = -1, hi = 1) => {
      const out = new Float64Array(n);
      for (let i = 0; i < n; i++) out[i] = uniform(lo, hi);
      return out;
    },
  };
}
