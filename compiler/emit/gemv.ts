/**
 * The few-row matmul path (batch-1 inference, a thread's small share of a batch): C[m,n] for a
 * runtime m ≤ SMALL_M rows, op(B) = B stored [k, ldb] row-major (the Keras [in, out] layout).
 *
 * Memory-bound, so the design is about streaming B: the rows of B are walked in chunks of 5
 * consecutive rows (then one of the 1–4 left), each chunk swept left to right, so B is read once,
 * contiguously (the prefetchers see plain streams). The partial sums of one K block live in
 * scratch (t_, one row of roundUp(n, 4) floats per row of A, L1-resident); each sweep step loads
 * eight partial sums (two vectors), adds the chunk's rows in order and stores them back. Rows of A past the
 * first re-read the chunk from L1, not from L3. Measured on the MLP's 784×512 layer: ~70 GB/s
 * against ~28 GB/s for column blocks walking down the rows (each step a 2 KB stride, which
 * defeats the prefetchers) and ~83 GB/s for a plain summing stream (the ceiling). A chunk's rows
 * are still five 2 KB streams read side by side, so while one chunk is swept the loop also
 * touches the next chunk's bytes in address order (touchAhead): one stream the prefetchers
 * follow, and the next sweep finds its rows in cache.
 *
 * Bit-identical to the blocked GEMM (gemm-core.ts) — so a thread's share of a batch gives exactly
 * what one thread gives — because every output is the same chain of operations: the same K
 * blocks (kBlocking), each summed from zero in k order (mul then add, or relaxed_madd with the
 * same operands), then the same epilogue (alpha, the old C masked in after the first block, bias
 * and activation on the last block, tail lanes through the scalar forms).
 *
 * Zero skipping (n ≥ SKIP_MIN_N): a row k of B whose x[i, k] is ±0 for every row i of A adds
 * x·w = ±0 to each sum, and that changes nothing: a sum that starts at +0 is never −0 in
 * round-to-nearest (+0 + −0 = +0, x + (−x) = +0), and s + ±0 = s otherwise (relaxed_madd
 * included). So each K block first counts the rows with a nonzero x; when few enough remain
 * (skipMaxDensity: 7/8 of the block for n ≥ 256; ReLU outputs are ~50% zeros, MNIST pixels ~80%),
 * it lists them in scratch (ks_) and sweeps only those, in ascending k, each with a pointer of
 * its own, and never reads the other rows' bytes. The results stay
 * bit-identical to the blocked path EXCEPT when a skipped weight is ±Inf or NaN: the blocked path
 * computes 0·Inf = NaN there, this path leaves the sum finite. (A NaN or Inf in x is nonzero and
 * never skipped; NaN weights in rows that are read propagate as before.) In the relaxed build,
 * where relaxed_madd is fused, a sum can also become −0 when an exact s + x·w is a negative
 * nonzero below 2^−150 in magnitude (products of ~1e−23-sized operands); a skipped term would have
 * made it +0 again, so the sign of such a zero may differ.
 */
import type { ActivationName } from "../frontend/graph-types.js";
import { activationScalar, activationSimd } from "./activation.js";
import { f32lit, intlit } from "./code.js";
import { roundUp } from "./gemm-core.js";

/** Rows up to which streaming B beats packing it (784×512 at m = 4: ~116 µs here vs ~325 µs blocked). */
export const SMALL_M = 4;
/**
 * Rows of B per dense sweep and column vectors per sweep step: each step loads DENSE_VECS partial
 * sums, adds DENSE_ROWS rows to each (DENSE_VECS independent chains of DENSE_ROWS adds) and stores
 * them. V8 (x64) keeps 15 xmm registers for wasm and schedules every load of a step first, so the
 * splatted x values, the sums and the step's loads must fit: 5 × 2 is the widest two-vector shape
 * whose TurboFan loop touches no stack slot (6 × 2 reloads an x each step, 8 × 2 and 10 × 2 spill
 * more; 8 × 1 and 7 × 1 are clean). A stand-alone sweep loop over 784×512 weights (m = 1, in L3;
 * 2 vCPUs under load 6–13, medians of alternating rounds, µs): 8 × 1 (the former shape) 33.5 /
 * 34.3 / 32.9, 5 × 2 31.6 / 32.0 / 31.9; over 128×512 (L2-resident) 4.6–4.8 against 4.1. Two
 * chains of 5 per step leave the out-of-order window more independent work than one chain of 8,
 * at the same ~3.9 instructions per weight vector (4.27 in TurboFan's x64 loop with an index;
 * 3.73 with walking pointers and two steps per iteration, SWEEP_UNROLL). 1–3 rows per sweep cost
 * 10–35% more; 6 × 2 with two steps an iteration spills (3.67 instructions, slower).
 */
const DENSE_ROWS = 5;
const DENSE_VECS = 2;
/**
 * Listed rows per sweep and column vectors per sweep step (see chunk). Time of the listed sweep
 * over the dense one at m = 1, 784×512, half of x zero (ideal 0.5): 4 rows × 2 vectors 0.53,
 * 8 × 1 0.57, 6 × 2 0.57, 8 × 2 0.67, 4 × 4 0.77 (spills). With all rows listed, 4 × 2 costs
 * 1.0–1.07× the dense sweep.
 */
const LISTED_ROWS = 4;
const LISTED_VECS = 2;
/**
 * Sweep steps per loop iteration (when the step count divides; else 1): the pointers advance
 * once per SWEEP_UNROLL steps. See bench/README.md for what it does to TurboFan's loop.
 */
const SWEEP_UNROLL = 2;
/** Bytes of the next chunk per touching load: every other 64-byte line (all lines: no faster). */
const TOUCH_BYTES = 128;
/** Narrower B does not pay for listing (n = 32, half of x zero: 1.04–1.12× the dense time). */
const SKIP_MIN_N = 64;
/**
 * The largest fraction of a block's rows left for which the listed sweep runs (else the dense
 * one). Measured listed/dense, rows left → time: n = 512: 100% 1.0–1.07, 90% 0.95–1.03, 80%
 * 0.87–0.97; n = 128: 90% 1.02–1.2, 80% 1.01–1.05, 70% 0.91–0.94; n = 64: 70% 0.98–1.0, 50% 0.85.
 */
function skipMaxDensity(n: number): [number, number] {
  return n >= 256 ? [7, 8] : [5, 8];
}

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
  /** Per-column factor before the bias (gemm-core's `scale`). */
  scale?: boolean;
  /** A residual laid out as C, added after the bias (gemm-core's `residual`). */
  residual?: boolean;
  activation: ActivationName;
  relaxed: boolean;
}

/** Bytes of t_: SMALL_M rows of partial sums. */
const sumsBytes = (n: number): number => SMALL_M * roundUp(n, 4) * 4;

/** Scratch bytes the path needs: the partial sums, then ks_ (one i32 per row of a K block). */
export function gemvScratchBytes(n: number, kc: number): number {
  return sumsBytes(n) + roundUp(kc, 4) * 4;
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

/**
 * Where a chunk's rows of B (and the matching x values of A's rows) come from: `rows` consecutive
 * rows from block row `kk`, or the `rows` block rows listed in ks_ from list position `at`.
 */
type RowSource = { consecutive: string } | { listedAt: string };

/**
 * Adds `rows` rows of B times A's row i_ into t_'s row i_, for every row i_ < m, in row order.
 * Consecutive rows share one pointer and reach each other with immediate offsets. Listed rows are
 * a run-time distance apart, and a wasm address is one value plus an immediate: loads at w_r + j_
 * cost an add each (the listed sweep took ~1.3× the dense one's time per row that way), so each
 * listed row gets its own pointer that walks along the row, and each step covers LISTED_VECS
 * column vectors (immediate offsets off the same pointers).
 */
function chunk(s: GemvSpec, rows: number, from: RowSource): string[] {
  const n4 = Math.floor(s.n / 4) * 4, tail = s.n % 4, rowBytes = s.ldb * 4;
  const listed = "listedAt" in from, vecs = listed ? LISTED_VECS : DENSE_VECS;
  /** Row r's 4 floats at byte `off` of the row. */
  const rowLoad = (r: number, off: number) => listed ? `v128.load(w${r}_, ${intlit(off)})` : `v128.load(wr_, ${intlit(r * rowBytes + off)})`;
  const rowTail = (r: number) => listed ? tailLoad(tail, `w${r}_`, n4 * 4) : tailLoad(tail, "wr_", n4 * 4 + r * rowBytes);
  /** One sweep step over `count` column vectors at tp_: load the sums, add the rows in order, store. */
  const step = (count: number, load: (r: number, v: number) => string, at = 0) => {
    const out = Array.from({ length: count }, (_, v) => `let s${v}_ = v128.load(tp_, ${intlit(at + v * 16)});`);
    for (let r = 0; r < rows; r++) {
      for (let v = 0; v < count; v++) out.push(`s${v}_ = ${madd(s.relaxed, `s${v}_`, `x${r}_`, load(r, v))};`);
    }
    out.push(...Array.from({ length: count }, (_, v) => `v128.store(tp_, s${v}_, ${intlit(at + v * 16)});`));
    return out;
  };
  /**
   * The loop's body: UNROLL steps in blocks of their own (byte `u·vecs·16` on from tp_ and the
   * row pointers), so the pointers advance once per UNROLL steps.
   */
  const unrolled = (unroll: number, load: (r: number, off: number) => string) =>
    Array.from({ length: unroll }, (_, u) => [`{`, ...step(vecs, (r, v) => load(r, (u * vecs + v) * 16), u * vecs * 16).map((l) => "  " + l), `}`]).flat();
  const steps = Math.floor(n4 / (4 * vecs)), unroll = steps % SWEEP_UNROLL === 0 ? SWEEP_UNROLL : 1;
  const looped = steps * 4 * vecs, stride = unroll * vecs * 16;
  const lines = [`{`];
  if (listed) {
    for (let r = 0; r < rows; r++) {
      lines.push(`  const k${r}_ = load<i32>(ks_ + <usize>(${from.listedAt} * 4), ${intlit(r * 4)});`,
        `  const w${r}_ = b + <usize>((pc_ + k${r}_) * ${intlit(rowBytes)});`);
    }
    lines.push(`  for (let i_ = 0; i_ < ${s.m}; i_++) {`,
      `    const xr_ = a + <usize>(i_ * ${intlit(s.lda * 4)} + pc_ * 4);`,
      ...Array.from({ length: rows }, (_, r) => `    const x${r}_ = v128.load32_splat(xr_ + <usize>(k${r}_ * 4));`));
  } else {
    // The next chunk's rows when they lie in B (see touchAhead), else this chunk's own.
    lines.push(`  const wr_ = b + <usize>((pc_ + ${from.consecutive}) * ${intlit(rowBytes)});`,
      ...(looped > 0 ? [`  const nx_ = pc_ + ${from.consecutive} + ${intlit(2 * rows)} <= ${intlit(s.k)} ? wr_ + ${intlit(rows * rowBytes)} : wr_;`] : []),
      `  for (let i_ = 0; i_ < ${s.m}; i_++) {`,
      `    const xr_ = a + <usize>(i_ * ${intlit(s.lda * 4)} + (pc_ + ${from.consecutive}) * 4);`,
      ...Array.from({ length: rows }, (_, r) => `    const x${r}_ = v128.load32_splat(xr_, ${intlit(r * 4)});`));
  }
  lines.push(`    const tr_ = t_ + <usize>(i_ * ${intlit(roundUp(s.n, 4) * 4)});`);
  if (looped > 0 && listed) {
    // One walking pointer per listed row: its loads need no address add (see above).
    lines.push(...Array.from({ length: rows }, (_, r) => `    let v${r}_ = w${r}_;`),
      `    for (let tp_ = tr_; tp_ < tr_ + ${intlit(looped * 4)}; tp_ += ${intlit(stride)}) {`,
      ...unrolled(unroll, (r, off) => `v128.load(v${r}_, ${intlit(off)})`).map((l) => "      " + l),
      ...Array.from({ length: rows }, (_, r) => `      v${r}_ += ${intlit(stride)};`), `    }`);
  } else if (looped > 0) {
    // Two walking pointers (sums and B rows) rather than one index added to two bases each step,
    // and a third that touches the next chunk's bytes in address order as this one is swept.
    lines.push(`    let wp_ = wr_;`, `    let np_ = nx_;`,
      `    for (let tp_ = tr_; tp_ < tr_ + ${intlit(looped * 4)}; tp_ += ${intlit(stride)}) {`,
      ...unrolled(unroll, (r, off) => `v128.load(wp_, ${intlit(r * rowBytes + off)})`).map((l) => "      " + l),
      ...touchAhead(rows * stride).map((l) => "      " + l),
      `      wp_ += ${intlit(stride)};`, `      np_ += ${intlit(rows * stride)};`, `    }`);
  }
  for (let col = looped; col < n4; col += 4) {
    lines.push(`    {`, `      const tp_ = tr_ + ${intlit(col * 4)};`,
      ...step(1, (r) => rowLoad(r, col * 4)).map((l) => "      " + l), `    }`);
  }
  if (tail > 0) {
    lines.push(`    {`, `      const tp_ = tr_ + ${intlit(n4 * 4)};`,
      ...step(1, (r) => rowTail(r)).map((l) => "      " + l), `    }`);
  }
  lines.push(`  }`, `}`);
  return lines;
}

/**
 * One load per TOUCH_BYTES of the `bytes` at np_, its value dropped (a wasm load may trap, so
 * neither binaryen nor V8 removes it). The dense sweep reads its chunk as `rows` streams 2 KB
 * long each (a B row), which the hardware prefetchers follow poorly: a single stream through the
 * next chunk, `rows` × the sweep's step a loop iteration, brings those rows into cache before
 * their sweep. See bench/README.md (fc1 of the MLP, 784×512).
 */
function touchAhead(bytes: number): string[] {
  const lines: string[] = [];
  for (let off = 0; off < bytes; off += TOUCH_BYTES) lines.push(`load<i32>(np_, ${intlit(off)});`);
  return lines;
}

/** The consecutive sweeps over rows pc_ … pc_+len of B: chunks of DENSE_ROWS, then one of the rows left. */
function denseSweeps(s: GemvSpec, len: number): string[] {
  const lines: string[] = [];
  const full = Math.floor(len / DENSE_ROWS) * DENSE_ROWS;
  if (full > 0) lines.push(`for (let kk_: i32 = 0; kk_ < ${intlit(full)}; kk_ += ${intlit(DENSE_ROWS)}) {`, ...chunk(s, DENSE_ROWS, { consecutive: "kk_" }).map((l) => "  " + l), `}`);
  // The last len mod DENSE_ROWS (≤ 4) rows: one chunk, in order after the full ones.
  if (full < len) lines.push(...chunk(s, len - full, { consecutive: intlit(full) }));
  return lines;
}

/** The same sweeps over the nz_ block rows listed in ks_ (ascending, so each sum keeps its k order). */
function listedSweeps(s: GemvSpec): string[] {
  return [
    `let p_: i32 = 0;`,
    `for (; p_ + ${intlit(LISTED_ROWS)} <= nz_; p_ += ${intlit(LISTED_ROWS)}) {`, ...chunk(s, LISTED_ROWS, { listedAt: "p_" }).map((l) => "  " + l), `}`,
    `for (; p_ < nz_; p_++) {`, ...chunk(s, 1, { listedAt: "p_" }).map((l) => "  " + l), `}`,
  ];
}

/** `ne_`: lanes of x[q_ … q_+4) that are nonzero (or NaN) in some row of A. */
function nonzeroLanes(s: GemvSpec): string[] {
  return [
    `const xq_ = a + <usize>((pc_ + q_) * 4);`,
    `let ne_ = f32x4.ne(v128.load(xq_), f32x4.splat(0));`,
    `for (let i_ = 1; i_ < ${s.m}; i_++) ne_ = v128.or(ne_, f32x4.ne(v128.load(xq_ + <usize>(i_ * ${intlit(s.lda * 4)})), f32x4.splat(0)));`,
  ];
}

/** `any_`: whether block row `q` (a constant) is nonzero (or NaN) in some row of A. */
function nonzeroRow(s: GemvSpec, q: number): string[] {
  return [
    `let any_ = false;`,
    `for (let i_ = 0; i_ < ${s.m}; i_++) any_ = any_ || load<f32>(a + <usize>(i_ * ${intlit(s.lda * 4)} + (pc_ + ${intlit(q)}) * 4)) != 0;`,
  ];
}

/**
 * nz_: how many rows of the block (length `len`) have a nonzero x in some row of A. One SIMD
 * compare per row of A and 4 k, the lanes (−1 where nonzero) subtracted from a count vector:
 * cheap enough that a dense x loses nothing measurable.
 */
function countNonzero(s: GemvSpec, len: number): string[] {
  const len4 = Math.floor(len / 4) * 4;
  const lines = [`let nz_: i32 = 0;`];
  if (len4 > 0) {
    lines.push(`{`, `  let cnt_ = i32x4.splat(0);`,
      `  for (let q_: i32 = 0; q_ < ${intlit(len4)}; q_ += 4) {`, ...nonzeroLanes(s).map((l) => "    " + l), `    cnt_ = i32x4.sub(cnt_, ne_);`, `  }`,
      `  nz_ = i32x4.extract_lane(cnt_, 0) + i32x4.extract_lane(cnt_, 1) + i32x4.extract_lane(cnt_, 2) + i32x4.extract_lane(cnt_, 3);`, `}`);
  }
  for (let q = len4; q < len; q++) lines.push(`{`, ...nonzeroRow(s, q).map((l) => "  " + l), `  nz_ += i32(any_);`, `}`);
  return lines;
}

/**
 * Lists in ks_, ascending, the nz_ rows of the block that countNonzero counted. Four k per step:
 * each k is stored at the list's end and the end advanced by its lane's bit (no branch per k;
 * a store past the end is overwritten by the next nonzero k, or lies past nz_ and is never read).
 */
function listNonzero(s: GemvSpec, len: number): string[] {
  const len4 = Math.floor(len / 4) * 4;
  const lines = [`let e_: i32 = 0;`];
  if (len4 > 0) {
    lines.push(`for (let q_: i32 = 0; q_ < ${intlit(len4)}; q_ += 4) {`, ...nonzeroLanes(s).map((l) => "  " + l),
      `  const bits_ = i32x4.bitmask(ne_);`,
      `  if (bits_ == 0) continue;`,
      ...[0, 1, 2, 3].flatMap((l) => [`  store<i32>(ks_ + <usize>(e_ * 4), q_ + ${intlit(l)});`, `  e_ += (bits_ >> ${intlit(l)}) & 1;`]),
      `}`);
  }
  for (let q = len4; q < len; q++) {
    lines.push(`{`, ...nonzeroRow(s, q).map((l) => "  " + l), `  store<i32>(ks_ + <usize>(e_ * 4), ${intlit(q)});`, `  e_ += i32(any_);`, `}`);
  }
  return lines;
}

/**
 * Sums one K block of length `len` (rows pc_ … pc_+len of B) into t_, from zero. For wide B, rows
 * whose x is zero in every row of A are skipped when few enough remain: they would add x·w = ±0 to
 * each sum, which never changes it (a sum that starts at +0 is never −0 in round-to-nearest), so
 * the bits stay the blocked path's — unless a skipped w is ±Inf or NaN, where 0·w = NaN.
 */
function blockSum(s: GemvSpec, len: number): string[] {
  const np = roundUp(s.n, 4);
  const lines = [
    `for (let z_: usize = 0; z_ < <usize>(${s.m} * ${intlit(np * 4)}); z_ += 16) v128.store(t_ + z_, f32x4.splat(0));`,
  ];
  if (len === 0) return lines;
  if (s.n < SKIP_MIN_N) return [...lines, ...denseSweeps(s, len)];
  const [num, den] = skipMaxDensity(s.n);
  return [...lines, ...countNonzero(s, len),
    `if (nz_ * ${intlit(den)} > ${intlit(len * num)}) {`, ...denseSweeps(s, len).map((l) => "  " + l),
    `} else {`, ...listNonzero(s, len).map((l) => "  " + l), ...listedSweeps(s).map((l) => "  " + l), `}`];
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
    if (epi && s.scale) e = `f32x4.mul(${e}, v128.load(scale + <usize>((${col}) * 4)))`;
    if (epi && s.bias) e = `f32x4.add(${e}, v128.load(bias + <usize>((${col}) * 4)))`;
    if (epi && s.residual) e = `f32x4.add(${e}, v128.load(rr_ + <usize>((${col}) * 4)))`;
    if (epi) e = activationSimd(s.activation, `(${e})`);
    return `v128.store(cr_ + <usize>((${col}) * 4), ${e});`;
  };
  const lane = (col: number) => {
    let e = `load<f32>(tr_, ${intlit(col * 4)})`;
    if (s.alpha !== 1) e = `${e} * ${f32lit(s.alpha)}`; // = the lane of f32x4.mul(·, al_)
    const oldC = `load<f32>(cr_, ${intlit(col * 4)})`;
    if (old === "always") e = `${e} + ${oldC}`;
    if (old === "mask") e = `${e} + (ao_ ? ${oldC} : 0)`;
    if (epi && s.scale) e = `(${e}) * load<f32>(scale, ${intlit(col * 4)})`;
    if (epi && s.bias) e = `${e} + load<f32>(bias, ${intlit(col * 4)})`;
    if (epi && s.residual) e = `${e} + load<f32>(rr_, ${intlit(col * 4)})`;
    if (epi) e = activationScalar(s.activation, `(${e})`);
    return `store<f32>(cr_, ${e}, ${intlit(col * 4)});`;
  };
  const lines = [
    `for (let i_ = 0; i_ < ${s.m}; i_++) {`,
    `  const tr_ = t_ + <usize>(i_ * ${intlit(np * 4)});`,
    `  const cr_ = c + <usize>(i_ * ${intlit(s.ldc * 4)});`,
    ...(epi && s.residual ? [`  const rr_ = residual + <usize>(i_ * ${intlit(s.ldc * 4)});`] : []),
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
  const hasEpi = s.bias || !!s.scale || !!s.residual || s.activation !== "linear";
  const lines = [`if (${s.m} <= ${intlit(SMALL_M)}) {`, `  const t_: usize = scratch;`, `  const ks_: usize = scratch + ${intlit(sumsBytes(s.n))};`];
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
