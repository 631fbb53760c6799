/**
 * The few-row matmul path (batch-1 inference, a thread's small share of a batch): C[m,n] for a
 * runtime m ≤ SMALL_M rows, op(B) = B stored [k, ldb] row-major (the Keras [in, out] layout).
 *
 * Memory-bound, so the design is about streaming B: the rows of B are walked in chunks of 8
 * (then 4, then 1) consecutive rows, each chunk swept left to right, so B is read once,
 * contiguously (the prefetchers see plain streams). The partial sums of one K block live in
 * scratch (t_, one row of roundUp(n, 4) floats per row of A, L1-resident); each sweep step loads
 * four partial sums, adds the chunk's rows in order and stores them back. Rows of A past the
 * first re-read the chunk from L1, not from L3. Measured on the MLP's 784×512 layer: ~70 GB/s
 * against ~28 GB/s for column blocks walking down the rows (each step a 2 KB stride, which
 * defeats the prefetchers) and ~83 GB/s for a plain summing stream (the ceiling).
 *
 * Bit-identical to the blocked GEMM (gemm-core.ts) — so a thread's share of a batch gives exactly
 * what one thread gives — because every output is the same chain of operations: the same K
 * blocks (kBlocking), each summed from zero in k order (mul then add, or relaxed_madd with the
 * same operands), then the same epilogue (alpha, the old C masked in after the first block, bias
 * and activation on the last block, tail lanes through the scalar forms).
 */
import type { ActivationName } from "../graph-types.js";
import { activationScalar, activationSimd } from "./activation.js";
import { f32lit, intlit } from "./code.js";
import { roundUp } from "./gemm-core.js";

/** Rows up to which streaming B beats packing it (784×512 at m = 4: ~116 µs here vs ~325 µs blocked). */
export const SMALL_M = 4;
/** Rows of B per sweep: 8 splatted x values stay in registers beside the temporary. */
const CHUNK = 8;

export interface GemvSpec {
  /** Runtime row count expression (an i32 parameter name). */
  m: string;
  n: number; k: number;
  lda: number; ldb: number; ldc: number;
  /** K block length of the blocked path (the last block is k − (blocks − 1)·kc). */
  kc: number;
  alpha: number;
  accumulate: boolean;
  bias: boolean;
  activation: ActivationName;
  relaxed: boolean;
}

/** Scratch bytes the path needs: SMALL_M rows of partial sums. */
export function gemvScratchBytes(n: number): number {
  return SMALL_M * roundUp(n, 4) * 4;
}

/** `s + x·w` in the build's arithmetic (the blocked micro-kernel's exact form). */
function madd(relaxed: boolean, s: string, x: string, w: string): string {
  return relaxed ? `f32x4.relaxed_madd(${x}, ${w}, ${s})` : `f32x4.add(${s}, f32x4.mul(${x}, ${w}))`;
}

/** Loads the last n % 4 columns of a B row into the low lanes (zeros above), never reading past them. */
function tailLoad(tail: number, ptr: string, off: number): string {
  if (tail === 1) return `v128.load32_zero(${ptr}, ${intlit(off)})`;
  if (tail === 2) return `v128.load64_zero(${ptr}, ${intlit(off)})`;
  return `f32x4.replace_lane(v128.load64_zero(${ptr}, ${intlit(off)}), 2, load<f32>(${ptr}, ${intlit(off + 8)}))`;
}

/** Adds `rows` consecutive rows of B (from block row kk_) times A's row i_ into t_'s row i_. */
function chunk(s: GemvSpec, rows: number, kk: string): string[] {
  const n4 = Math.floor(s.n / 4) * 4, tail = s.n % 4, rowBytes = s.ldb * 4;
  const xs = Array.from({ length: rows }, (_, r) => `x${r}_`);
  const sweep = (load: (off: number) => string) => {
    const out = [`let s_ = v128.load(tp_);`];
    for (let r = 0; r < rows; r++) out.push(`s_ = ${madd(s.relaxed, "s_", xs[r], load(r * rowBytes))};`);
    out.push(`v128.store(tp_, s_);`);
    return out;
  };
  const lines = [
    `{`,
    `  const wr_ = b + <usize>((pc_ + ${kk}) * ${intlit(rowBytes)});`,
    `  for (let i_ = 0; i_ < ${s.m}; i_++) {`,
    `    const xr_ = a + <usize>(i_ * ${intlit(s.lda * 4)} + (pc_ + ${kk}) * 4);`,
    ...xs.map((x, r) => `    const ${x} = v128.load32_splat(xr_, ${intlit(r * 4)});`),
    `    const tr_ = t_ + <usize>(i_ * ${intlit(roundUp(s.n, 4) * 4)});`,
  ];
  if (n4 > 0) {
    lines.push(`    for (let j_: usize = 0; j_ < ${intlit(n4 * 4)}; j_ += 16) {`, `      const tp_ = tr_ + j_, wp_ = wr_ + j_;`,
      ...sweep((off) => `v128.load(wp_, ${intlit(off)})`).map((l) => "      " + l), `    }`);
  }
  if (tail > 0) {
    lines.push(`    {`, `      const tp_ = tr_ + ${intlit(n4 * 4)};`,
      ...sweep((off) => tailLoad(tail, "wr_", n4 * 4 + off)).map((l) => "      " + l), `    }`);
  }
  lines.push(`  }`, `}`);
  return lines;
}

/** Sums one K block of length `len` (rows pc_ … pc_+len of B) into t_, from zero. */
function blockSum(s: GemvSpec, len: number): string[] {
  const np = roundUp(s.n, 4);
  const lines = [
    `for (let z_: usize = 0; z_ < <usize>(${s.m} * ${intlit(np * 4)}); z_ += 16) v128.store(t_ + z_, f32x4.splat(0));`,
  ];
  const full = Math.floor(len / CHUNK) * CHUNK;
  if (full > 0) lines.push(`for (let kk_: i32 = 0; kk_ < ${intlit(full)}; kk_ += ${intlit(CHUNK)}) {`, ...chunk(s, CHUNK, "kk_").map((l) => "  " + l), `}`);
  let at = full;
  if (len - at >= 4) { lines.push(...chunk(s, 4, intlit(at))); at += 4; }
  for (; at < len; at++) lines.push(...chunk(s, 1, intlit(at)));
  return lines;
}

type OldMode = "none" | "always" | "mask";

/**
 * Writes t_ to C for every row: alpha, the old C (`mask`: only when ao_), then on the last
 * block bias and activation — storeTile's expressions in storeTile's order.
 */
function epilogue(s: GemvSpec, old: OldMode, epi: boolean): string[] {
  const n4 = Math.floor(s.n / 4) * 4, np = roundUp(s.n, 4);
  const vec = (col: string) => {
    let e = `v128.load(tr_ + <usize>((${col}) * 4))`;
    if (s.alpha !== 1) e = `f32x4.mul(${e}, al_)`;
    const oldC = `v128.load(cr_ + <usize>((${col}) * 4))`;
    if (old === "always") e = `f32x4.add(${e}, ${oldC})`;
    if (old === "mask") e = `f32x4.add(${e}, v128.and(${oldC}, om_))`;
    if (epi && s.bias) e = `f32x4.add(${e}, v128.load(bias + <usize>((${col}) * 4)))`;
    if (epi) e = activationSimd(s.activation, `(${e})`);
    return `v128.store(cr_ + <usize>((${col}) * 4), ${e});`;
  };
  const lane = (col: number) => {
    let e = `load<f32>(tr_, ${intlit(col * 4)})`;
    if (s.alpha !== 1) e = `${e} * ${f32lit(s.alpha)}`; // = the lane of f32x4.mul(·, al_)
    const oldC = `load<f32>(cr_, ${intlit(col * 4)})`;
    if (old === "always") e = `${e} + ${oldC}`;
    if (old === "mask") e = `${e} + (ao_ ? ${oldC} : 0)`;
    if (epi && s.bias) e = `${e} + load<f32>(bias, ${intlit(col * 4)})`;
    if (epi) e = activationScalar(s.activation, `(${e})`);
    return `store<f32>(cr_, ${e}, ${intlit(col * 4)});`;
  };
  const lines = [
    `for (let i_ = 0; i_ < ${s.m}; i_++) {`,
    `  const tr_ = t_ + <usize>(i_ * ${intlit(np * 4)});`,
    `  const cr_ = c + <usize>(i_ * ${intlit(s.ldc * 4)});`,
  ];
  if (n4 > 0) lines.push(`  for (let j_ = 0; j_ < ${intlit(n4)}; j_ += 4) ${vec("j_")}`);
  for (let col = n4; col < s.n; col++) lines.push(`  ${lane(col)}`);
  lines.push(`}`);
  return lines;
}

/**
 * The path's code: `if (m ≤ SMALL_M) { … return; }`, placed before the blocked product.
 * Expects `al_` (alpha ≠ 1) from the GEMM prologue; uses `scratch` for the partial sums.
 */
export function gemvSmallM(s: GemvSpec): string {
  const blocks = Math.max(1, Math.ceil(s.k / s.kc));
  const last = s.k - (blocks - 1) * s.kc;
  const hasEpi = s.bias || s.activation !== "linear";
  const lines = [`if (${s.m} <= ${intlit(SMALL_M)}) {`, `  const t_: usize = scratch;`];
  if (blocks === 1) {
    lines.push(`  {`, `    const pc_: i32 = 0;`, ...blockSum(s, last).map((l) => "    " + l),
      ...epilogue(s, s.accumulate ? "always" : "none", true).map((l) => "    " + l), `  }`);
  } else {
    // Blocks before the last: the old C is added from the second block on (or always, accumulating).
    lines.push(`  for (let pc_: i32 = 0; pc_ < ${intlit((blocks - 1) * s.kc)}; pc_ += ${intlit(s.kc)}) {`,
      `    const ao_ = ${s.accumulate ? "true" : "pc_ > 0"};`,
      `    const om_ = i32x4.splat(ao_ ? -1 : 0);`,
      ...blockSum(s, s.kc).map((l) => "    " + l),
      ...epilogue(s, "mask", false).map((l) => "    " + l), `  }`);
    // The last block always adds the old C (pc_ > 0): mask mode with ao_ true, written plainly.
    lines.push(`  {`, `    const pc_: i32 = ${intlit((blocks - 1) * s.kc)};`, ...blockSum(s, last).map((l) => "    " + l),
      ...epilogue(s, "always", hasEpi).map((l) => "    " + l), `  }`);
  }
  lines.push(`  return;`, `}`);
  return lines.join("\n");
}
