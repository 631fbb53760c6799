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
