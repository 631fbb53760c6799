/**
 * The runtime's seeded random numbers: xoshiro128** streams keyed by (seed, index, stream), used
 * for initial weights (init.ts) and for fit's shuffles. Its own file so the core bundle can shuffle
 * without carrying the initializers.
 */

/** splitmix32-style mixer: spreads a 32-bit word over all bits. */
function mix(x: number): number {
  x = Math.imul(x ^ (x >>> 16), 0x85ebca6b);
  x = Math.imul(x ^ (x >>> 13), 0xc2b2ae35);
  return (x ^ (x >>> 16)) >>> 0;
}

/** xoshiro128** with uniform doubles (53 bits) and Box–Muller normals in float64. */
export class Rng {
  private s = new Uint32Array(4);
  private spare = NaN;

  /** `stream` separates uses (weights, shuffles) that share a seed and an index. */
  constructor(seed: number, index: number, stream = 0) {
    let h = mix(seed >>> 0) ^ mix(Math.floor(seed / 4294967296) >>> 0 ^ 0x9e3779b9);
    h = mix(h ^ mix(index + 0x632be5ab)) ^ mix(stream + 0x1b873593);
    for (let i = 0; i < 4; i++) this.s[i] = h = mix(h + 0x9e3779b9);
    if (!(this.s[0] | this.s[1] | this.s[2] | this.s[3])) this.s[0] = 1; // the all-zero state is a fixed point
  }

  u32(): number {
    const s = this.s;
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return r;
  }

  /** Uniform in [0, 1) with 53 random bits. */
  uniform(): number {
    return ((this.u32() >>> 5) * 67108864 + (this.u32() >>> 6)) / 9007199254740992;
  }

  normal(): number {
    if (this.spare === this.spare) {
      const z = this.spare;
      this.spare = NaN;
      return z;
    }
    const r = Math.sqrt(-2 * Math.log(1 - this.uniform())); // 1 − u is in (0, 1]: log is finite
    const a = 2 * Math.PI * this.uniform();
    this.spare = r * Math.sin(a);
    return r * Math.cos(a);
  }
}

const rotl = (x: number, k: number) => (x << k) | (x >>> (32 - k));
