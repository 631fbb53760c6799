/**
 * The blocked GEMM skeleton shared by the matmul and convolution emitters (perf-notes recipe):
 * C[M,N] (=|+=) epilogue(alpha · A[M,K] · B[K,N]) with B packed into NR-wide panels, A packed into
 * row-major MC×KCP tiles by a caller-supplied packer (plain, transposed, im2col…), and an MR×NR
 * register-blocked micro-kernel (8 accumulators + NR/4 B vectors + 1 splat live).
 * Invariant: rows past M in a tile (and panel columns past N) are computed but never stored.
 */
import { activationScalar, activationSimd } from "./activation.js";
import { f32lit, intlit } from "./code.js";
import type { ActivationName } from "../frontend/graph-types.js";

/**
 * Micro-tile shape: 4×8 for mul+add (needs a temporary), 2×16 for relaxed_madd (perf-notes).
 * Measured for the relaxed build (asc -O0, CPU-time medians of 11 alternating runs, Node 20):
 * 6×8 (12 accumulators) is no faster in the real kernels — matmul 512 NN 45.6 vs 44.8 GFLOP/s
 * (plain 4×8: 44.4), seed-CNN convs within ±5% (Winograd 3–5% slower: its 32-tile blocks waste
 * rows at MR 6). On Zen 3 mul and add run on separate pipes, so FMA adds no throughput here; the
 * ~8% a 6×8 loop gains with its panels in L1 (52 vs 48) is lost in place. Getting 6×8 even that
 * far took two V8 11.3 workarounds: TurboFan put all 8 loads before the 12 FMAs (20 live v128 →
 * spills) unless the accumulators' first uses after the loop are unconditional stores in row
 * order, and its loop unrolling (innermost loops below (depth+1)·50 nodes) did the same to the
 * copies unless the k loop held a nested (zero-trip) loop. Without both: 10–21 GFLOP/s. 4×12 and
 * 3×16 spill the same way (need 19 registers with the loads first).
 */
export function tileShape(relaxed: boolean): { mr: number; nr: number } {
  return relaxed ? { mr: 2, nr: 16 } : { mr: 4, nr: 8 };
}

export interface GemmPlan {
  /** i32 source expressions for the row count and the reduction length. */
  m: string; k: string;
  n: number;
  /** K block; the packed-A row stride (KCP, floats) is KC rounded up to 4. */
  kc: number;
  /** True when one K block covers all of K (K constant and ≤ KC): no partial-sum passes. */
  single: boolean;
  /** Rows per packed A tile (multiple of 4). */
  mc: number;
  /** Code that packs rows [ic_, ic_+mc_) × cols [pc_, pc_+kc_) of op(A) into sa_ (row stride KCP). */
  packA: string;
  /**
   * A read where it lies instead of from the packed tile (a 1×1 conv's NHWC input is already
   * row-major [pixels, c]): `at` is the address of the MR-row micro-tile starting at row ir_ of
   * the tile ic_ (an i32 expression over ic_, ir_, mc_, pc_), `ld` A's row stride in floats.
   * `packA` then only stages what cannot be read in place (a last micro-tile of fewer than MR rows,
   * whose reads past the rows would leave A's buffer).
   */
  aInPlace?: { at: string; ld: number };
  /** Where op(B) comes from: `ptr` (usize expression), row stride `ld`, stored transposed or not. */
  b: { ptr: string; ld: number; trans: boolean };
  /** Where C goes: `tile` stores rows relative to ic_ (a scratch tile) instead of absolute rows. */
  c: { ptr: string; ld: number; tile?: boolean };
  alpha: number;
  accumulate: boolean;
  bias?: string;
  /** Per-column factor applied to the finished sum before the bias (a folded batch normalization); needs `bias`. */
  scale?: string;
  /** A tensor laid out as C added after the bias, before the activation (a residual add); not with `c.tile`. */
  residual?: string;
  activation: ActivationName;
  relaxed: boolean;
  /** Code run after each finished A tile (only with `single`). */
  afterTile?: string;
  /** Pack B outside (caller emits `packB(plan)` once) instead of inside the K loop. */
  bPacked?: boolean;
}

export const roundUp = (x: number, to: number): number => Math.ceil(x / to) * to;
export const kcp = (p: GemmPlan): number => roundUp(p.kc, 4);
/**
 * Bytes of packed A for a tile of `mc` rows. The micro-kernel reads whole MR-row micro-tiles, so
 * when mc is not a multiple of MR (the grad-filter's tap-sized tiles, e.g. 9 rows) the last one
 * reads up to MR − 1 rows past the tile: they must still be inside the buffer (stale values,
 * computed and never stored).
 */
export function packedABytes(mc: number, p: GemmPlan): number {
  return roundUp(mc, tileShape(p.relaxed).mr) * kcp(p) * 4;
}
/** Width (floats) of the last, partial B panel: a multiple of 4 below NR (0 if none). */
const tailWidth = (n: number, nr: number): number => roundUp(n % nr, 4);
/** Floats of packed B for one K block. */
export function packedBFloats(p: GemmPlan): number {
  const { nr } = tileShape(p.relaxed);
  return kcp(p) * (Math.floor(p.n / nr) * nr + tailWidth(p.n, nr));
}

/**
 * Whether the per-column scale (a folded batch normalization) is applied to B as it is packed
 * (w·s, once per call) instead of to every output in the epilogue ((Σ a·w)·s: a load and a
 * multiply per output vector). Row-major B, one K block, no accumulation into C (where the
 * epilogue would scale C's old value too). Rounds differently from the epilogue's order, within
 * the fold's documented 1e-5. Measured: bench/README.md (issue 19, MobileNetV2).
 */
export function scaleInB(p: GemmPlan): boolean {
  return p.scale !== undefined && p.single && !p.accumulate && !p.b.trans && !p.bPacked;
}

/** Code packing op(B) rows [pc_, pc_+kc_) into sb_: panel jp at sb_ + jp·kc_·NR·4; tail columns past n zero. */
export function packB(p: GemmPlan): string {
  const { nr } = tileShape(p.relaxed), pw = nr * 4;
  const full = Math.floor(p.n / nr), tw = tailWidth(p.n, nr), ld = p.b.ld;
  const scaled = scaleInB(p);
  const vload = (src: string, off: number) => {
    const at = off ? `, ${off}` : "";
    return scaled ? `f32x4.mul(v128.load(${src}${at}), v128.load(${p.scale} + <usize>(j_ * ${intlit(pw)})${at}))` : `v128.load(${src}${at})`;
  };
  const vcopy = (dst: string, src: string) => Array.from({ length: nr / 4 }, (_, v) =>
    v === 0 ? `v128.store(${dst}, ${vload(src, 0)});` : `v128.store(${dst}, ${vload(src, v * 16)}, ${v * 16});`).join(" ");
  const lines: string[] = [];
  if (!p.b.trans) {
    lines.push(`for (let q_ = 0; q_ < kc_; q_++) {`,
      `  const src_ = ${p.b.ptr} + <usize>((pc_ + q_) * ${intlit(ld * 4)});`,
      `  let dst_ = sb_ + <usize>(q_ * ${intlit(pw)});`);
    if (full > 0) lines.push(`  for (let j_ = 0; j_ < ${intlit(full)}; j_++) {`,
      `    ${vcopy("dst_", `src_ + <usize>(j_ * ${intlit(pw)})`)}`,
      `    dst_ += <usize>(kc_ * ${intlit(pw)});`, `  }`);
    if (tw > 0) {
      lines.push(`  dst_ = sb_ + <usize>(kc_ * ${intlit(full * pw)} + q_ * ${intlit(tw * 4)});`);
      for (let j = 0; j < tw; j++) {
        const col = full * nr + j;
        const value = scaled ? `load<f32>(src_, ${intlit(col * 4)}) * load<f32>(${p.scale}, ${intlit(col * 4)})` : `load<f32>(src_, ${intlit(col * 4)})`;
        lines.push(col < p.n ? `  store<f32>(dst_, ${value}, ${intlit(j * 4)});` : `  store<f32>(dst_, 0, ${intlit(j * 4)});`);
      }
    }
    lines.push(`}`);
  } else {
    lines.push(...packBTrans(p, full, tw, nr));
  }
  return lines.join("\n");
}

/** 4×4 transpose of x0_..x3_ into y0_..y3_ (rows become columns). */
export const TRANSPOSE4 = [
  `const t0_ = f32x4.shuffle(x0_, x1_, 0, 4, 1, 5);`, `const t1_ = f32x4.shuffle(x0_, x1_, 2, 6, 3, 7);`,
  `const t2_ = f32x4.shuffle(x2_, x3_, 0, 4, 1, 5);`, `const t3_ = f32x4.shuffle(x2_, x3_, 2, 6, 3, 7);`,
  `const y0_ = f32x4.shuffle(t0_, t2_, 0, 1, 4, 5);`, `const y1_ = f32x4.shuffle(t0_, t2_, 2, 3, 6, 7);`,
  `const y2_ = f32x4.shuffle(t1_, t3_, 0, 1, 4, 5);`, `const y3_ = f32x4.shuffle(t1_, t3_, 2, 3, 6, 7);`,
];

/**
 * Packs op(B) = Bᵀ (B stored [n, ld]): groups of 4 columns × 4 k steps go through a 4×4 SIMD
 * transpose (scalar for k and column remainders); full panels and the tail panel differ in width.
 */
function packBTrans(p: GemmPlan, full: number, tw: number, nr: number): string[] {
  const ld = p.b.ld, L = ld * 4, n4 = Math.floor(p.n / 4) * 4;
  const group = (from: number, to: number, w: number, panelBase: string) => [
    `for (let j_ = ${intlit(from)}; j_ < ${intlit(to)}; j_ += 4) {`,
    `  const src_ = ${p.b.ptr} + <usize>((j_ * ${intlit(ld)} + pc_) * 4);`,
    `  const jr_ = j_ - ${intlit(from)};`,
    `  const dst_ = sb_ + <usize>(${panelBase} + (jr_ % ${intlit(w)}) * 4);`,
    `  let q_ = 0;`,
    `  for (; q_ + 4 <= kc_; q_ += 4) {`,
    `    const s_ = src_ + <usize>(q_ * 4);`,
    ...[0, 1, 2, 3].map((i) => `    const x${i}_ = v128.load(s_, ${intlit(i * L)});`),
    ...TRANSPOSE4.map((l) => "    " + l),
    `    const d_ = dst_ + <usize>(q_ * ${intlit(w * 4)});`,
    ...[0, 1, 2, 3].map((i) => `    v128.store(d_, y${i}_, ${intlit(i * w * 4)});`),
    `  }`,
    `  for (; q_ < kc_; q_++) {`,
    `    const s_ = src_ + <usize>(q_ * 4);`,
    `    const d_ = dst_ + <usize>(q_ * ${intlit(w * 4)});`,
    ...[0, 1, 2, 3].map((i) => `    store<f32>(d_, load<f32>(s_, ${intlit(i * L)}), ${intlit(i * 4)});`),
    `  }`,
    `}`,
  ];
  const lines: string[] = [];
  if (full > 0) lines.push(...group(0, full * nr, nr, `(jr_ / ${intlit(nr)}) * kc_ * ${intlit(nr * 4)}`));
  if (n4 > full * nr) lines.push(...group(full * nr, n4, tw, `kc_ * ${intlit(full * nr * 4)}`));
  if (p.n > n4) {
    // The last n % 4 columns (all in the tail panel), then zero the tail panel's columns past n.
    lines.push(`for (let q_ = 0; q_ < kc_; q_++) {`,
      `  const src_ = ${p.b.ptr} + <usize>((${intlit(n4)} * ${intlit(ld)} + pc_ + q_) * 4);`,
      `  const dst_ = sb_ + <usize>(kc_ * ${intlit(full * nr * 4)} + q_ * ${intlit(tw * 4)});`);
    for (let j = n4; j < p.n; j++) lines.push(`  store<f32>(dst_, load<f32>(src_, ${intlit((j - n4) * L)}), ${intlit((j - full * nr) * 4)});`);
    for (let j = p.n; j < full * nr + tw; j++) lines.push(`  store<f32>(dst_, 0, ${intlit((j - full * nr) * 4)});`);
    lines.push(`}`);
  }
  return lines;
}

/**
 * A row-major A (rows `ld` floats apart, columns from 0) in one K block is the packed tile as it
 * stands, so the micro-kernel reads it in place and nothing is copied: a matmul's A, a 1×1 conv's
 * x. Only a last micro-tile of fewer than MR rows is staged in sa_ (row stride ld) by `copyRow`
 * (one row, src_ → dst_): the micro-kernel reads MR rows, and past A's end they could leave
 * memory. Measured: bench/README.md (issue 19, "GEMM blocking").
 */
export function inPlaceA(a: string, ld: number, mr: number, copyRow: string): { packA: string; aInPlace: { at: string; ld: number } } {
  const row = intlit(ld * 4);
  const packA = [
    `const full_ = mc_ & ${intlit(~(mr - 1))};`,
    `for (let r_ = full_; r_ < mc_; r_++) {`,
    `  const src_ = ${a} + <usize>((ic_ + r_) * ${row});`,
    `  const dst_ = sa_ + <usize>((r_ - full_) * ${row});`,
    copyRow.replace(/^/gm, "  "),
    `}`,
  ].join("\n");
  return { packA, aInPlace: { at: `(ir_ + ${intlit(mr)} <= mc_ ? ${a} + <usize>((ic_ + ir_) * ${row}) : sa_)`, ld } };
}

/**
 * The MR×(4·nv) micro-kernel: accumulates pa_ (MR rows, stride KCP) × pb_ (panel width 4·nv) over kc_.
 * `aColumns` (Winograd's filter gradient): A is stored transposed, k-major — row r of step k at
 * pa_ + 4·r, steps `rowStride` floats apart — so a transform that writes rows of k needs no transpose.
 * `rows` overrides MR (fewer rows for an A with fewer than MR rows).
 * NOTE: one k step per iteration on purpose. Unrolling by 2 or 4 (with asc -O0 or -O3) made V8
 * keep every step's loads live at once and spill: ~30 vs ~50 GFLOP/s measured A/B on this machine.
 * The loop ends on pb_ reaching its end, not on a step counter: in V8 11.3's x64 code (Node 20,
 * --print-wasm-code) a 4×8 step is 2 vmovdqu + 4 vbroadcastss + 8 vmulps + 8 vaddps and no spills,
 * and a counter was one more add of the ~4 integer ops per step; the loop is bound by instructions
 * issued, not by the FP pipes (bench/README.md, "GEMM blocking").
 */
export function microKernel(nv: number, rowStride: number, relaxed: boolean, aColumns = false, rows?: number): string {
  const MR = rows ?? tileShape(relaxed).mr;
  const w = nv * 4;
  const lines: string[] = [];
  for (let r = 0; r < MR; r++) for (let v = 0; v < nv; v++) lines.push(`let c${r}${v}_ = f32x4.splat(0);`);
  lines.push(`const pbe_ = pb_ + <usize>(kc_ * ${intlit(w * 4)});`, `while (pb_ < pbe_) {`);
  for (let v = 0; v < nv; v++) lines.push(`  const b${v}_ = v128.load(pb_, ${intlit(v * 16)});`);
  for (let r = 0; r < MR; r++) {
    lines.push(`  const a${r}_ = v128.load32_splat(pa_, ${intlit(aColumns ? r * 4 : r * rowStride * 4)});`);
    for (let v = 0; v < nv; v++) {
      const acc = `c${r}${v}_`, a = `a${r}_`, b = `b${v}_`;
      lines.push(relaxed ? `  ${acc} = f32x4.relaxed_madd(${a}, ${b}, ${acc});` : `  ${acc} = f32x4.add(${acc}, f32x4.mul(${a}, ${b}));`);
    }
  }
  lines.push(`  pa_ += ${intlit(aColumns ? rowStride * 4 : 4)};`, `  pb_ += ${intlit(w * 4)};`, `}`);
  return lines.join("\n");
}

type OldMode = "none" | "always" | "mask";

/** Stores the accumulators of one micro-tile to cp_ (row stride ld), `lanes` valid columns. */
function storeTile(p: GemmPlan, nv: number, lanes: number, old: OldMode, epi: boolean): string {
  const MR = tileShape(p.relaxed).mr;
  const lines: string[] = [];
  // the epilogue's bias and scale vectors, loaded once per micro-tile rather than once per row
  // (V8 does not reuse a load across the stores between them)
  const fullVectors = Math.floor(lanes / 4);
  const scaled = epi && p.scale !== undefined && !scaleInB(p);
  for (let v = 0; v < fullVectors; v++) {
    if (scaled) lines.push(`const sv${v}_ = v128.load(sp_, ${intlit(v * 16)});`);
    if (epi && p.bias) lines.push(`const bv${v}_ = v128.load(bp_, ${intlit(v * 16)});`);
  }
  for (let r = 0; r < MR; r++) {
    const body: string[] = [];
    for (let v = 0; v < nv; v++) {
      const valid = Math.min(4, lanes - v * 4);
      if (valid <= 0) continue;
      const off = r * p.c.ld * 4 + v * 16;
      let e = `c${r}${v}_`;
      if (p.alpha !== 1) e = `f32x4.mul(${e}, al_)`;
      if (valid === 4) {
        if (old === "always") e = `f32x4.add(${e}, v128.load(cp_, ${intlit(off)}))`;
        if (old === "mask") e = `f32x4.add(${e}, v128.and(v128.load(cp_, ${intlit(off)}), om_))`;
        if (scaled) e = `f32x4.mul(${e}, sv${v}_)`;
        if (epi && p.bias) e = `f32x4.add(${e}, bv${v}_)`;
        if (epi && p.residual) e = `f32x4.add(${e}, v128.load(rp_, ${intlit(off)}))`;
        if (epi) e = activationSimd(p.activation, `(${e})`);
        body.push(`v128.store(cp_, ${e}, ${intlit(off)});`);
        continue;
      }
      body.push(`{`, `  const e_ = ${e};`);
      for (let l = 0; l < valid; l++) {
        const o = off + l * 4;
        let s = `f32x4.extract_lane(e_, ${l})`;
        if (old === "always") s = `${s} + load<f32>(cp_, ${intlit(o)})`;
        if (old === "mask") s = `${s} + (ao_ ? load<f32>(cp_, ${intlit(o)}) : 0)`;
        if (epi && p.scale && !scaleInB(p)) s = `(${s}) * load<f32>(sp_, ${intlit(v * 16 + l * 4)})`;
        if (epi && p.bias) s = `${s} + load<f32>(bp_, ${intlit(v * 16 + l * 4)})`;
        if (epi && p.residual) s = `${s} + load<f32>(rp_, ${intlit(o)})`;
        if (epi) s = activationScalar(p.activation, `(${s})`);
        body.push(`  store<f32>(cp_, ${s}, ${intlit(o)});`);
      }
      body.push(`}`);
    }
    if (r === 0) lines.push(...body);
    else lines.push(`if (mr_ > ${r}) {`, ...body.map((l) => "  " + l), `}`);
  }
  return lines.join("\n");
}

const hasEpilogue = (p: GemmPlan): boolean => p.bias !== undefined || p.scale !== undefined || p.residual !== undefined || p.activation !== "linear";

/** Store code for the current K block: epilogue only on the last block, old C when accumulating or after the first block. */
function storeCode(p: GemmPlan, nv: number, lanes: number): string {
  if (p.single) return storeTile(p, nv, lanes, p.accumulate ? "always" : "none", true);
  if (!hasEpilogue(p)) return storeTile(p, nv, lanes, "mask", false);
  return [`if (last_) {`, storeTile(p, nv, lanes, "mask", true), `} else {`, storeTile(p, nv, lanes, "mask", false), `}`].join("\n");
}

/** One column panel (full or tail) swept over the rows of the current A tile. */
function panelSweep(p: GemmPlan, nv: number, lanes: number, col: string, panelOff: string): string {
  const row = p.c.tile ? "ir_" : "ic_ + ir_";
  const { mr } = tileShape(p.relaxed);
  return [
    `const pbp_ = sb_ + <usize>(${panelOff});`,
    ...(p.bias ? [`const bp_ = ${p.bias} + <usize>((${col}) * 4);`] : []),
    ...(p.scale && !scaleInB(p) ? [`const sp_ = ${p.scale} + <usize>((${col}) * 4);`] : []),
    `for (let ir_ = 0; ir_ < mc_; ir_ += ${intlit(mr)}) {`,
    `  const mr_ = min<i32>(${intlit(mr)}, mc_ - ir_);`,
    `  let pa_ = ${p.aInPlace ? p.aInPlace.at : `sa_ + <usize>(ir_ * ${intlit(kcp(p) * 4)})`};`,
    `  let pb_ = pbp_;`,
    microKernel(nv, p.aInPlace?.ld ?? kcp(p), p.relaxed).replace(/^/gm, "  "),
    `  const cp_ = ${p.c.ptr} + <usize>(((${row}) * ${intlit(p.c.ld)} + ${col}) * 4);`,
    ...(p.residual ? [`  const rp_ = ${p.residual} + <usize>(((${row}) * ${intlit(p.c.ld)} + ${col}) * 4);`] : []),
    storeCode(p, nv, lanes).replace(/^/gm, "  "),
    `}`,
  ].join("\n");
}

/** The loops over A tiles and B panels for one K block. */
function tileLoops(p: GemmPlan): string {
  const { nr } = tileShape(p.relaxed), pw = nr * 4;
  const full = Math.floor(p.n / nr), tw = tailWidth(p.n, nr);
  const lines = [`for (let ic_ = 0; ic_ < ${p.m}; ic_ += ${intlit(p.mc)}) {`, `  const mc_ = min<i32>(${intlit(p.mc)}, ${p.m} - ic_);`,
    p.packA.replace(/^/gm, "  ")];
  if (full > 0) {
    lines.push(`  for (let jp_ = 0; jp_ < ${intlit(full)}; jp_++) {`,
      panelSweep(p, nr / 4, nr, `jp_ * ${intlit(nr)}`, `jp_ * kc_ * ${intlit(pw)}`).replace(/^/gm, "    "), `  }`);
  }
  if (tw > 0) {
    lines.push(`  {`, panelSweep(p, tw / 4, p.n % nr, intlit(full * nr), `kc_ * ${intlit(full * pw)}`).replace(/^/gm, "    "), `  }`);
  }
  if (p.afterTile) lines.push(p.afterTile.replace(/^/gm, "  "));
  lines.push(`}`);
  return lines.join("\n");
}

/** Declarations the K-block code expects before it: sa_/sb_ scratch pointers and al_. */
export function gemmPrologue(p: GemmPlan, sa: string, sb: string): string {
  // Activation names reach source as helper names (act_<name>): only plain lowercase words pass.
  if (!/^[a-z_][a-z_0-9]*$/.test(p.activation)) throw new Error(`internal: "${p.activation}" is not an activation name`);
  const lines = [`const sa_: usize = ${sa};`, `const sb_: usize = ${sb};`];
  if (p.alpha !== 1) lines.push(`const al_ = f32x4.splat(${f32lit(p.alpha)});`);
  return lines.join("\n");
}

/** Single-block K constants (pc_, kc_), for callers that pack B once outside loops. */
export function singleBlockConsts(p: GemmPlan): string {
  return [`const pc_: i32 = 0;`, `const kc_: i32 = ${p.k};`].join("\n");
}

/** The whole product for one set of base pointers: the K-block loop around packing and tiles. */
export function gemmBody(p: GemmPlan): string {
  const pb = p.bPacked ? "" : packB(p);
  if (p.single) {
    return [p.bPacked ? "" : singleBlockConsts(p), pb, tileLoops(p)].filter((s) => s).join("\n");
  }
  return [
    `for (let pc_: i32 = 0; ; ) {`,
    `  const kc_ = min<i32>(${intlit(p.kc)}, ${p.k} - pc_);`,
    `  const last_ = pc_ + ${intlit(p.kc)} >= ${p.k};`,
    `  const ao_ = ${p.accumulate ? "true" : "pc_ > 0"};`,
    `  const om_ = i32x4.splat(ao_ ? -1 : 0);`,
    pb.replace(/^/gm, "  "),
    tileLoops(p).replace(/^/gm, "  "),
    `  pc_ += ${intlit(p.kc)};`,
    `  if (pc_ >= ${p.k}) break;`,
    `}`,
  ].join("\n");
}
