/**
 * Emit stage: the inverted-dropout mask generator. mask[e] is 1/(1−rate) or 0 from a counter-based
 * hash of (seed, step, stream, e): no state is advanced, so any element can be computed alone, in any
 * order, on any thread, and the same (seed, step) always gives the same mask. Layers differ by
 * `stream` (a compile-time constant), steps by the step word the runtime advances.
 *
 * THE FUNCTION (all arithmetic on u32, wrapping; `imul` = low 32 bits of the product):
 *   fmix32(h):  h ^= h >>> 16; h = imul(h, 0x85EBCA6B); h ^= h >>> 13; h = imul(h, 0xC2B2AE35); h ^= h >>> 16
 *   S   = fmix32(imul(stream, 0x632BE5AB) + 0x27D4EB2F)
 *   key = fmix32(fmix32(fmix32(seed ^ 0x9E3779B9) ^ step) ^ S)
 *   x   = fmix32(fmix32(e ^ key) + key)
 *   u   = (x >>> 8) / 2^24                      (24 bits, in [0, 1))
 *   mask[e] = u >= rate ? f32(1 / (1 − rate)) : 0
 * The comparison is done exactly on integers: (x >>> 8) >= ceil(rate · 2^24).
 * `rng` points at two u32 words: [0] = seed, [1] = step (read only here).
 */
import { f32lit, indent, intlit, kernelParams, locals, type SizeArg, sizeSrc } from "./code.js";
import type { KernelDef } from "./kernel.js";

export interface DropoutMaskSpec {
  n: SizeArg;
  /** In [0, 1). */
  rate: number;
  /** Per-layer stream id (u32). */
  stream: number;
}

/** Every name the body declares (plain names). */
export const DROPOUT_LOCALS = locals("emitDropoutMask", "listed", ["key", "keyv", "e", "h", "keep", "scale", "lim"]);

/** Params: mask (f32 out), rng (usize → [seed, step]), then n when it is a runtime size. */
export function emitDropoutMask(s: DropoutMaskSpec): KernelDef {
  if (!(s.rate >= 0 && s.rate < 1)) throw new Error(`internal: dropout rate ${s.rate} outside [0, 1)`);
  if (!Number.isInteger(s.stream) || s.stream < 0 || s.stream > 0xffffffff) throw new Error(`internal: bad dropout stream ${s.stream}`);
  const n = sizeSrc(DROPOUT_LOCALS, s.n, "n");
  const threshold = Math.ceil(s.rate * 16777216); // exact: scaling by 2^24 is exact in f64
  const body = `let key: u32 = load<u32>(rng) ^ 0x9E3779B9;
${fmix1("key")}
key ^= load<u32>(rng, 4);
${fmix1("key")}
key ^= ${intlit(streamConstant(s.stream))};
${fmix1("key")}
const lim: u32 = ${intlit(threshold)};
const scale: f32 = ${f32lit(1 / (1 - s.rate))};
const keyv = i32x4.splat(<i32>key);
let e: i32 = 0;
for (; e + 4 <= ${n}; e += 4) {
  let h = v128.xor(i32x4.add(i32x4.splat(e), i32x4(0, 1, 2, 3)), keyv);
${indent(fmix4("h"))}
  h = i32x4.add(h, keyv);
${indent(fmix4("h"))}
  const keep = i32x4.ge_u(i32x4.shr_u(h, 8), i32x4.splat(<i32>lim));
  v128.store(mask + (<usize>e << 2), v128.and(keep, f32x4.splat(scale)));
}
for (; e < ${n}; e++) {
  let h: u32 = <u32>e ^ key;
${indent(fmix1("h"))}
  h += key;
${indent(fmix1("h"))}
  store<f32>(mask + (<usize>e << 2), (h >>> 8) >= lim ? scale : 0);
}`;
  const params = kernelParams(DROPOUT_LOCALS, ["mask", "rng"], s.n);
  return {
    key: `dropout_mask:${s.n}:${s.rate}:${s.stream}`,
    label: `dropout mask rate ${s.rate} stream ${s.stream}`,
    params,
    body,
  };
}

/** The per-stream constant S of the header, folded at compile time. */
export function streamConstant(stream: number): number {
  return fmix32JS((Math.imul(stream, 0x632be5ab) + 0x27d4eb2f) >>> 0);
}

/** murmur3's fmix32 in JS (u32 in, u32 out), for folding constants and for tests. */
export function fmix32JS(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** fmix32 in place on the u32 variable `v`. */
function fmix1(v: string): string {
  return `${v} ^= ${v} >>> 16;\n${v} *= 0x85EBCA6B;\n${v} ^= ${v} >>> 13;\n${v} *= 0xC2B2AE35;\n${v} ^= ${v} >>> 16;`;
}

/** fmix32 on four u32 lanes held in the v128 variable `v`. */
function fmix4(v: string): string {
  return [
    `${v} = v128.xor(${v}, i32x4.shr_u(${v}, 16));`,
    `${v} = i32x4.mul(${v}, i32x4.splat(<i32>0x85EBCA6B));`,
    `${v} = v128.xor(${v}, i32x4.shr_u(${v}, 13));`,
    `${v} = i32x4.mul(${v}, i32x4.splat(<i32>0xC2B2AE35));`,
    `${v} = v128.xor(${v}, i32x4.shr_u(${v}, 16));`,
  ].join("\n");
}

// ---------------------------------------------------------------- normal noise

/**
 * Normal noise for gaussian_noise (mean 0) and gaussian_dropout (mean 1), from the same
 * counter-based hash: no state advances, any element is computed alone.
 *
 * THE FUNCTION (key and S as above; u32 arithmetic wraps; the rest in f64):
 *   x1  = fmix32(fmix32((2e) ^ key) + key),  x2 = fmix32(fmix32((2e + 1) ^ key) + key)
 *   u1  = ((x1 >>> 8) + 1) / 2^24            (in (0, 1]: the log is finite)
 *   u2  = (x2 >>> 8) / 2^24                  (in [0, 1))
 *   out[e] = f32(mean + stddev · sqrt(−2·ln u1) · cos(2π·u2))      (Box–Muller)
 * ln, sqrt and cos are AssemblyScript's Math (f64); a JS re-implementation agrees to a few f64 ulps.
 */
export interface RandomNormalSpec { n: SizeArg; mean: number; stddev: number; stream: number }

export const RANDOM_NORMAL_LOCALS = locals("emitRandomNormal", "listed", ["key", "e", "h1", "h2", "u1", "u2", "z"]);

/** Params: out (f32), rng (usize → [seed, step]), then n when it is a runtime size. */
export function emitRandomNormal(s: RandomNormalSpec): KernelDef {
  if (!Number.isFinite(s.mean) || !(s.stddev >= 0 && Number.isFinite(s.stddev))) throw new Error(`internal: normal noise mean ${s.mean}, stddev ${s.stddev}`);
  if (!Number.isInteger(s.stream) || s.stream < 0 || s.stream > 0xffffffff) throw new Error(`internal: bad noise stream ${s.stream}`);
  const n = sizeSrc(RANDOM_NORMAL_LOCALS, s.n, "n");
  // Finite (checked above), so String() is a literal that reads back as exactly this f64.
  const f64 = (v: number) => { const t = String(v); return `(<f64>${/[.eE]/.test(t) ? t : `${t}.0`})`; };
  const body = `let key: u32 = load<u32>(rng) ^ 0x9E3779B9;
${fmix1("key")}
key ^= load<u32>(rng, 4);
${fmix1("key")}
key ^= ${intlit(streamConstant(s.stream))};
${fmix1("key")}
for (let e: i32 = 0; e < ${n}; e++) {
  let h1: u32 = (<u32>e << 1) ^ key;
${indent(fmix1("h1"))}
  h1 += key;
${indent(fmix1("h1"))}
  let h2: u32 = ((<u32>e << 1) + 1) ^ key;
${indent(fmix1("h2"))}
  h2 += key;
${indent(fmix1("h2"))}
  const u1: f64 = (<f64>(h1 >>> 8) + 1.0) / 16777216.0;
  const u2: f64 = <f64>(h2 >>> 8) / 16777216.0;
  const z: f64 = Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(6.283185307179586 * u2);
  store<f32>(out + (<usize>e << 2), <f32>(${f64(s.mean)} + ${f64(s.stddev)} * z));
}`;
  return {
    key: `random_normal:${s.n}:${s.mean}:${s.stddev}:${s.stream}`,
    label: `normal noise mean ${s.mean} stddev ${s.stddev} stream ${s.stream}`,
    params: kernelParams(RANDOM_NORMAL_LOCALS, ["out", "rng"], s.n),
    body,
  };
}
