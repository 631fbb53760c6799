/**
 * Emitter: 3×3 stride-1 convolution forward by Winograd F(m×m, 3×3), m ∈ {2, 4} (Lavin & Gray
 * 2016). An m×m output tile costs α² = (m+2)² products per (channel, filter) instead of 9·m²:
 * 16 per 2×2 tile (2.25× fewer than direct) or 36 per 4×4 tile (4× fewer), so for convs with
 * enough channels and filters this beats the im2col GEMM of conv.ts, which already runs near the
 * wasm-SIMD FLOP ceiling (the only way left to go faster is fewer multiplications). F(4×4) pays
 * for its smaller GEMMs with dearer transforms (6×6 patches, coefficients 4, 5, ⅙, 1/24…) and
 * rounding ~10× larger (still ~1e-6 relative here).
 *
 *   U_ξ = (G·g·Gᵀ)_ξ            filters → α² matrices [C × F], every call (weights change in training)
 *   V_ξ = (Bᵀ·d·B)_ξ            per α×α input patch d (stride m, zeros outside the image)
 *   M_ξ[tiles × F] = V_ξ·U_ξ    α² small GEMMs per block of tiles (the register-blocked micro-kernel)
 *   y = act(Aᵀ·M·A + bias)      m×m outputs per tile; partial tiles store only in-range outputs
 *
 * Tiles are numbered over the whole batch (tile → image, ty, tx) and processed in blocks of
 * winogradTiles(m) so a block's V and M stay in L2. Transforms are vectorized over channels /
 * filters (f32x4, scalar for the remainder). Same params and Conv2dSpec as emitConv2d.
 */
import { activationNeeds, activationScalar, activationSimd } from "./activation.js";
import { f32lit, intlit, kernelParams, locals } from "./code.js";
import { checkConv2dSpec, type Conv2dSpec } from "./conv.js";
import { microKernel, roundUp, tileShape } from "./gemm-core.js";
import type { KernelDef } from "./kernel.js";

/** Output tile size m of F(m×m, 3×3); input patches are α = m + 2 wide. */
export type WinogradTile = 2 | 4;

/**
 * Tiles per block (a multiple of both micro-tile heights). m = 2: 16, 32 and 64 measured within
 * ±5% of each other on conv2, conv3, 32×32×32 and 16×16×128 (plain and relaxed): V and M of a
 * block stay in L2 at 32 for c, f ≤ 256. m = 4: see WINOGRAD4_TILES.
 */
export const WINOGRAD_TILES = 32;
/**
 * m = 4: a tile has 4× the outputs and 2.25× the planes. 8, 16 and 32 measured within ±5% of each
 * other on conv2 (forward and grad-input, batch 64/32/1), conv3, 32×32×32 and 16×16×128 (plain).
 */
export const WINOGRAD4_TILES = 16;
export const winogradTiles = (m: WinogradTile): number => (m === 2 ? WINOGRAD_TILES : WINOGRAD4_TILES);

/** Whether the spec is a conv Winograd F(m×m,3×3) can compute: 3×3, stride 1, dilation 1. */
export function winogradApplies(s: Conv2dSpec): boolean {
  return s.kh === 3 && s.kw === 3 && s.sh === 1 && s.sw === 1 && s.dh === 1 && s.dw === 1;
}

/**
 * Products per (channel, filter) of the im2col kernels (9 per output pixel of the forward conv)
 * over Winograd F(m×m)'s ((m+2)² per m×m tile of the conv it runs: the forward conv, or for the
 * input gradient the transposed conv whose output is the h×w input).
 */
export function productRatio(forward: Conv2dSpec, run: Conv2dSpec, m: WinogradTile = 2): number {
  return (9 * forward.oh * forward.ow) / ((m + 2) ** 2 * Math.ceil(run.oh / m) * Math.ceil(run.ow / m));
}

/** Scratch cap: U alone is 16·c·f floats (4 MB at 256·256, per thread). Measured up to c = f = 512. */
const MAX_CF = 256 * 256;

/**
 * Selection rule, forward: product ratio ≥ 1.25 (in effect: outputs of at least 2×2, since
 * partial tiles waste products). Kernel A/B at asc -O0 (the default), old im2col GEMM vs
 * Winograd F(2×2), speed-up old/new, plain | relaxed build, medians of 7 alternating runs on the
 * shared 2-core machine (load 5–13, so ±20%); r = productRatio:
 *   conv2 13×13×32→11×11×64 (r 1.89)  batch 64: 1.45–2.0 | 1.67–1.76   batch 1: 1.5–1.7 | 1.6–1.76
 *   conv3 5×5×64→3×3×64 (r 1.27)      batch 64: 1.24–1.28 | 1.14       batch 1: 1.26–1.4 | 1.16
 *   32×32×32→32×32×32 same (r 2.25)   batch 8: 1.9–2.1 | 2.1–2.3       batch 1: 2.0 | 1.6–2.1
 *   c=8 f=8 (13×13) 1.9 | 2.4–2.6; conv1 c=1 f=32 1.2–1.4 | 1.2–1.4; c=64 f=4 1.24 | 2.65;
 *   f=1 1.35; output 2×2 (r 2.25) 1.9 | 2.1; 3×3 with c=f=8 (r 1.27) 1.15 | 1.22;
 *   c=f=128/256/512 2.0–2.1 | 1.8–2.1 (beyond the scratch cap);
 *   output 1×1 (r 0.56) 0.40 | 0.62, output 1×11 (r 1.03) 0.91 | 0.99 → excluded.
 * Small c or f win too (the im2col GEMM is weak there). The tile size: winogradTile.
 */
export function winogradPays(s: Conv2dSpec): boolean {
  return winogradApplies(s) && productRatio(s, s) >= 1.25 && s.c * s.f <= MAX_CF;
}

/**
 * Selection rule, input gradient: ratio ≥ 1.25 and c ≥ 4 (c is the transposed conv's filter
 * count). Grad-input A/B as above (plain | relaxed):
 *   conv2 (r 1.39) batch 64: 1.38 | 1.09, batch 1: 1.18 | 0.96;   32×32×32 same (r 2.25): 1.9–3.0 | 1.9–2.2;
 *   c=f=8 13×13 valid (r 1.39) 1.77;   c=2 same (r 2.25) 1.14;
 *   conv3 (r 0.56) 0.55 | 0.58; output 2×2 (r 0.56) 0.61; c=1 (r 1.94) 0.87; c=3 (r 1.39) 0.95 → excluded.
 * The tile size: winogradGradInputTile.
 */
export function winogradGradInputPays(s: Conv2dSpec): boolean {
  return winogradGradInputApplies(s) && productRatio(s, gradInputAsConv(s)) >= 1.25 && s.c >= 4 && s.c * s.f <= MAX_CF;
}

/** F(4×4) scratch cap: U is 36·c·f floats (2.4 MB at 128·128, per thread). */
const MAX_CF4 = 128 * 128;

/**
 * Whether F(4×4) beats F(2×2) on a conv `run` (the forward conv, or the input gradient's
 * transposed conv) computing `forward`: it must save ≥ 1.3× the products (partial 4×4 tiles waste
 * more) and have ≥ 4 tiles per image (the per-call filter transform, 36·c·f floats, must be
 * shared: with one tile per image it loses at batch 1); c·f within its scratch cap.
 * Kernel A/B at asc -O0, F(2×2) vs F(4×4) (16 tiles per block, staged transforms, padded images),
 * speed-up old/new, plain | relaxed, CPU-time medians of 7 alternating runs (load 1–2);
 * ratio = productRatio(·, ·, 4) / productRatio(·, ·, 2):
 *   conv2 13×13×32→11×11×64 (1.78)   fwd b64 1.70 | 1.58   b32 1.56 | 1.55   b1 1.12 | 1.26   half the filters b32 1.62 | 1.55
 *     its grad-input (dx 13×13, 1.36)  b64 1.21 | 1.27   b32 1.25 | 1.23   b1 1.09 | 0.96   half the channels b32 1.30 | 1.23
 *   32×32×32 same (1.78)              fwd b8 1.52 | 1.49  b1 1.49 | 1.46;  grad-input b8 1.55 | 1.54  b1 1.43 | 1.45
 *   c=f=128 16×16 same (1.78)         fwd b8 1.64 | 1.55;  grad-input 1.62 | 1.54
 *   13×13×32 same (1.36)              fwd b64 1.23 | 1.23  b1 1.19 | 1.15;  grad-input b64 1.24 | 1.26  b1 1.05 | 1.00
 *   output 8×8, 4 tiles (1.78)        fwd b64 1.57 | 1.57  b1 1.17 | 1.12;   output 4×4, 1 tile: b64 1.53 | 1.54
 *   small c or f on conv2's 13×13 (1.78; grad-input 1.36), b64 | b1:  c=f=8 fwd 1.23–1.33 | 1.05–1.13,
 *     grad-input 1.33–1.60 | 1.10–1.16; c=f=16 1.38–1.40 | 1.06–1.14, 1.23 | 1.00–1.12; c=4 f=32 1.22–1.28 |
 *     1.06–1.15, 1.18–1.27 | 1.02–1.09; c=64 f=4 1.26–1.37, 1.20–1.21; f=1 1.26, 1.12–1.16; c=24/64 alike.
 *   → excluded: conv3 5×5×64→3×3×64 (1 tile; 1.78) fwd b64 1.56 | 1.62 but b1 0.43 | 0.63;
 *     output 5×5 (1.0) 0.94 | 0.95; output 2×2 (0.44) 0.43; grad-inputs of 8×8 (1.24) b64 1.12–1.14 but
 *     b1 0.77–0.84, of conv3 and of 4×4 (1.0) 0.92–0.95.
 * The grad-input's ~0.96–1.0 at batch 1 (relaxed) is accepted: it runs in training steps only.
 */
function f4Pays(forward: Conv2dSpec, run: Conv2dSpec): boolean {
  return productRatio(forward, run, 4) >= 1.3 * productRatio(forward, run, 2) &&
    Math.ceil(run.oh / 4) * Math.ceil(run.ow / 4) >= 4 && run.c * run.f <= MAX_CF4;
}

/** Tile size for the forward conv (where winogradPays): 4 where f4Pays, else 2. */
export function winogradTile(s: Conv2dSpec): WinogradTile {
  return f4Pays(s, s) ? 4 : 2;
}

/** Tile size for the input gradient (where winogradGradInputPays): 4 where f4Pays on its transposed conv, else 2. */
export function winogradGradInputTile(s: Conv2dSpec): WinogradTile {
  return f4Pays(s, gradInputAsConv(s)) ? 4 : 2;
}

/** Operations on one "lane group": a v128 of 4 channels/filters, or one f32 (remainders). */
interface Lanes {
  width: 1 | 4;
  load(ptr: string, off: number): string;
  store(ptr: string, off: number, v: string): string;
  add(a: string, b: string): string;
  sub(a: string, b: string): string;
  /** a · c for a constant c. */
  scale(a: string, c: number): string;
}
const VEC: Lanes = {
  width: 4,
  load: (p, o) => `v128.load(${p}, ${intlit(o)})`,
  store: (p, o, v) => `v128.store(${p}, ${v}, ${intlit(o)});`,
  add: (a, b) => `f32x4.add(${a}, ${b})`,
  sub: (a, b) => `f32x4.sub(${a}, ${b})`,
  scale: (a, c) => `f32x4.mul(${a}, f32x4.splat(${f32lit(c)}))`,
};
const SCALAR: Lanes = {
  width: 1,
  load: (p, o) => `load<f32>(${p}, ${intlit(o)})`,
  store: (p, o, v) => `store<f32>(${p}, ${v}, ${intlit(o)});`,
  add: (a, b) => `(${a} + ${b})`,
  sub: (a, b) => `(${a} - ${b})`,
  scale: (a, c) => `(${a} * ${f32lit(c)})`,
};

/**
 * A 1-D transform out = T·in: `coef` is the matrix. `program`, where given, computes it with
 * shared subexpressions (the F(4×4) matrices): expressions over the inputs, `tmp(e)` binding e to
 * a local and returning its name. Without one each row is summed directly (see combine). Programs
 * are checked against `coef` when this module loads.
 */
interface Transform { coef: number[][]; program?: Program }
type Program = (x: string[], L: Lanes, tmp: (e: string) => string) => string[];

const BT2: Transform = { coef: [[1, 0, -1, 0], [0, 1, 1, 0], [0, -1, 1, 0], [0, 1, 0, -1]] };
const G2: Transform = { coef: [[1, 0, 0], [0.5, 0.5, 0.5], [0.5, -0.5, 0.5], [0, 0, 1]] };
const AT2: Transform = { coef: [[1, 1, 1, 0], [0, 1, -1, -1]] };

/** F(4×4,3×3): Bᵀ with 6 shared sums (d4−d2 and 2·(d3−d1) serve two rows). */
const BT4: Transform = {
  coef: [[4, 0, -5, 0, 1, 0], [0, -4, -4, 1, 1, 0], [0, 4, -4, -1, 1, 0], [0, -2, -1, 2, 1, 0], [0, 2, -1, -2, 1, 0], [0, 4, 0, -5, 0, 1]],
  program: (d, L, tmp) => {
    const t = tmp(L.sub(d[4], d[2])), u = tmp(L.scale(L.sub(d[3], d[1]), 2));
    return [
      L.add(L.sub(d[4], L.scale(d[2], 5)), L.scale(d[0], 4)),
      L.sub(L.add(d[3], d[4]), L.scale(L.add(d[1], d[2]), 4)),
      L.add(L.sub(d[4], d[3]), L.scale(L.sub(d[1], d[2]), 4)),
      L.add(t, u),
      L.sub(t, u),
      L.add(L.sub(d[5], L.scale(d[3], 5)), L.scale(d[1], 4)),
    ];
  },
};
const G4: Transform = {
  coef: [[1 / 4, 0, 0], [-1 / 6, -1 / 6, -1 / 6], [-1 / 6, 1 / 6, -1 / 6], [1 / 24, 1 / 12, 1 / 6], [1 / 24, -1 / 12, 1 / 6], [0, 0, 1]],
  program: (g, L, tmp) => {
    const a = tmp(L.add(g[0], g[2])), b = tmp(L.add(L.scale(g[0], 1 / 24), L.scale(g[2], 1 / 6))), c = tmp(L.scale(g[1], 1 / 12));
    return [L.scale(g[0], 1 / 4), L.scale(L.add(a, g[1]), -1 / 6), L.scale(L.sub(a, g[1]), -1 / 6), L.add(b, c), L.sub(b, c), g[2]];
  },
};
const AT4: Transform = {
  coef: [[1, 1, 1, 1, 1, 0], [0, 1, -1, 2, -2, 0], [0, 1, 1, 4, 4, 0], [0, 1, -1, 8, -8, 1]],
  program: (x, L, tmp) => {
    const p = tmp(L.add(x[1], x[2])), q = tmp(L.sub(x[1], x[2])), r = tmp(L.add(x[3], x[4])), s = tmp(L.sub(x[3], x[4]));
    return [L.add(L.add(x[0], p), r), L.add(q, L.scale(s, 2)), L.add(p, L.scale(r, 4)), L.add(L.add(q, L.scale(s, 8)), x[5])];
  },
};

/** The transforms of one tile size: input (Bᵀ), filter (G), output (Aᵀ). */
const TRANSFORMS: Record<WinogradTile, { BT: Transform; G: Transform; AT: Transform }> = {
  2: { BT: BT2, G: G2, AT: AT2 },
  4: { BT: BT4, G: G4, AT: AT4 },
};

/** Evaluates a program on each unit vector (expressions are plain numbers) and compares with coef. */
function checkProgram(t: Transform): void {
  const num = (v: number) => String(v);
  const NUM: Lanes = {
    width: 1, load: () => { throw new Error("internal"); }, store: () => { throw new Error("internal"); },
    add: (a, b) => num(+a + +b), sub: (a, b) => num(+a - +b), scale: (a, c) => num(+a * c),
  };
  const n = t.coef[0].length;
  for (let i = 0; i < n; i++) {
    const outs = t.program!(Array.from({ length: n }, (_, j) => num(i === j ? 1 : 0)), NUM, (e) => e);
    outs.forEach((v, k) => {
      if (Math.abs(+v - t.coef[k][i]) > 1e-12) throw new Error(`internal: winograd transform program row ${k} column ${i} gives ${v}, not ${t.coef[k][i]}`);
    });
  }
}
for (const t of [BT4, G4, AT4]) checkProgram(t);

/**
 * One output of a 1-D transform without a program: the row's terms in index order starting from
 * a positive one, then one scale when the row's entries share a magnitude other than 1
 * (F(2×2)'s ½ rows). So the sum order is fixed by the matrix.
 */
function combine(t: Transform, k: number, ins: string[], L: Lanes): string {
  const terms = t.coef[k].map((c, m) => ({ c, m })).filter(({ c }) => c !== 0);
  const first = terms.findIndex(({ c }) => c > 0);
  if (first < 0) throw new Error("internal: winograd transform row without a positive term");
  const mag = terms[first].c;
  if (terms.some(({ c }) => Math.abs(c) !== mag)) throw new Error("internal: winograd transform row with mixed magnitudes needs a program");
  let e = ins[terms[first].m];
  terms.forEach(({ c, m }, i) => {
    if (i !== first) e = c > 0 ? L.add(e, ins[m]) : L.sub(e, ins[m]);
  });
  return mag !== 1 ? L.scale(e, mag) : e;
}

/** out = T·ins: code for the program's temporaries (locals named pfx t0_, t1_…) and the outputs' expressions. */
function apply1d(t: Transform, ins: string[], L: Lanes, pfx: string): { lines: string[]; outs: string[] } {
  if (!t.program) return { lines: [], outs: t.coef.map((_, k) => combine(t, k, ins, L)) };
  const lines: string[] = [];
  const outs = t.program(ins, L, (e) => {
    const name = `${pfx}t${lines.length}_`;
    lines.push(`const ${name} = ${e};`);
    return name;
  });
  return { lines, outs };
}

/**
 * out = T·X·Tᵀ for an n×n input named by `input(i, j)` (expressions or identifiers): first the
 * columns (temporaries p{k}{j}_), then the rows; `emit(k, l, expr)` receives each result.
 */
function transform2d(t: Transform, n: number, input: (i: number, j: number) => string, L: Lanes, pfx: string,
  emit: (k: number, l: number, expr: string) => string[], stage?: string): string[] {
  const lines: string[] = [], m = t.coef.length, idx = Array.from({ length: n }, (_, i) => i);
  const mid = (k: number, j: number) => stage ? L.load(stage, (k * n + j) * 16) : `${pfx}${k}${j}_`;
  for (let j = 0; j < n; j++) {
    // bind the column's inputs once: each one feeds several outputs
    lines.push(...idx.map((i) => `const ${pfx}x${i}${j}_ = ${input(i, j)};`));
    const col = apply1d(t, idx.map((i) => `${pfx}x${i}${j}_`), L, `${pfx}c${j}`);
    lines.push(...col.lines, ...col.outs.map((e, k) => stage ? L.store(stage, (k * n + j) * 16, e) : `const ${pfx}${k}${j}_ = ${e};`));
  }
  for (let k = 0; k < m; k++) {
    if (stage) lines.push(...idx.map((j) => `const ${pfx}${k}${j}_ = ${mid(k, j)};`));
    const row = apply1d(t, idx.map((j) => `${pfx}${k}${j}_`), L, `${pfx}r${k}`);
    lines.push(...row.lines);
    row.outs.forEach((e, l) => lines.push(...emit(k, l, e)));
  }
  return lines;
}

/** Tile geometry shared by the forward, input-gradient and filter-gradient kernels. */
interface Tiling {
  s: Conv2dSpec;
  /** Output tile size m, input patch size α = m + 2, transform planes α². */
  m: WinogradTile; alpha: number; planes: number;
  /** Tiles per image row / column / image. */
  tx: number; ty: number; tpi: number;
  /** V's row stride (channels rounded up to 4) and the bytes between its ξ planes. */
  kcp: number; vPlane: number;
  /** Set when tiles read a zero-padded copy of their image (see paddedImage); pOff is then its offset. */
  padded?: PaddedImage;
}

/** A zero-padded copy of one image: hp × wp pixels, the image's rows × cols at (padTop, padLeft). */
interface PaddedImage { hp: number; wp: number; rows: number; cols: number; bytes: number }

/**
 * Small images with padding put most tiles on the border, and each border tile copies its α×α
 * patch with zeros (the input gradient of conv2, dy 11×11 padded by 2: 15 of 16 F(4×4) tiles,
 * 4.5× the image's pixels). Instead each image is copied once, row by row, into a buffer whose
 * rim stays zero, and every tile reads in place. F(4×4) only, where border patches would copy
 * more than 2× the image's pixels (and the buffer stays ≤ 256 KB). Measured (plain, CPU-time
 * medians of 7): conv2's grad-input F(4×4) 1.19–1.25× → 1.26–1.28× F(2×2) at batch 32/64, c=f=24
 * 1.18 → 1.25, 13×13 same 1.21 → 1.24; everywhere (factor 0.5) no better; F(2×2) unchanged
 * (0.97–1.04), so it keeps its patch copies.
 */
function paddedImage(s: Conv2dSpec, m: WinogradTile, tx: number, ty: number): PaddedImage | undefined {
  const alpha = m + 2, hp = (ty - 1) * m + alpha, wp = (tx - 1) * m + alpha;
  const insideCount = (n: number, pad: number, size: number) =>
    Array.from({ length: n }, (_, t) => t * m - pad).filter((o) => o >= 0 && o <= size - alpha).length;
  const border = tx * ty - insideCount(ty, s.padTop, s.h) * insideCount(tx, s.padLeft, s.w);
  const bytes = roundUp(hp * wp * s.c * 4, 64);
  if (border * alpha * alpha <= 2 * s.h * s.w || bytes > 256 * 1024) return undefined;
  return { hp, wp, rows: Math.min(s.h, hp - s.padTop), cols: Math.min(s.w, wp - s.padLeft), bytes };
}

/** Scratch layout and the constants every part of the forward kernel shares. */
interface Layout extends Tiling {
  relaxed: boolean;
  /** Tiles per block. */
  T: number;
  /** Micro-tile rows (tiles) and panel width (filters). */
  mr: number; nr: number;
  /** Full NR panels and the tail panel's width (a multiple of 4, 0 if none); M's row stride FM. */
  full: number; tw: number; fm: number;
  /** Bytes between ξ planes of U and M (see skewed). */
  uPlane: number; mPlane: number;
  /** Byte offsets in scratch: U, V, M, the patch buffer (or padded image), the staging area (stagedIn). */
  uOff: number; vOff: number; mOff: number; pOff: number; sOff: number; bytes: number;
}

/**
 * Bytes between the α² ξ planes: an odd number of cache lines. The transforms touch all planes
 * at once; with power-of-two strides (4 KB, 16 KB…) those lines all fall into one L1 set and evict
 * each other (the filter transform of conv3 ran ~8× slower).
 */
function skewed(bytes: number): number {
  const lines = Math.ceil(bytes / 64);
  return (lines % 2 ? lines : lines + 1) * 64;
}

function tiling(s: Conv2dSpec, m: WinogradTile, T: number): Tiling {
  const alpha = m + 2, tx = Math.ceil(s.ow / m), ty = Math.ceil(s.oh / m), kcp = roundUp(s.c, 4);
  return { s, m, alpha, planes: alpha * alpha, tx, ty, tpi: tx * ty, kcp, vPlane: skewed(T * kcp * 4) };
}

function layout(s: Conv2dSpec, relaxed: boolean, m: WinogradTile, T: number): Layout {
  const { mr, nr } = tileShape(relaxed), g: Tiling = tiling(s, m, T), P = g.planes;
  if (m === 4) g.padded = paddedImage(s, m, g.tx, g.ty);
  const full = Math.floor(s.f / nr), tw = roundUp(s.f % nr, 4), fm = full * nr + tw;
  const uPlane = skewed(s.c * fm * 4), mPlane = skewed(T * fm * 4);
  const uOff = 0, vOff = uOff + P * uPlane, mOff = vOff + P * g.vPlane, pOff = mOff + P * mPlane;
  const sOff = pOff + (g.padded ? g.padded.bytes : roundUp(P * s.c * 4, 64)), bytes = sOff + (stagedIn(m) ? P * 16 : 0);
  return { ...g, relaxed, T, mr, nr, full, tw, fm, uPlane, mPlane, uOff, vOff, mOff, pOff, sOff, bytes };
}

/**
 * U_ξ packed as the micro-kernel's B panels: panel jp at jp·C·NR floats, row c, column f % NR
 * (the tail panel is tw floats wide). `flipped` (input gradient): the filter is w rotated 180°
 * with c and f swapped, g[ky][kx][c][f] = w[2−ky][2−kx][f][c].
 */
function filterTransform(o: Layout, flipped: boolean): string {
  const { s, nr, full, fm, alpha } = o, C = s.c, F = s.f, plane = o.uPlane, G = TRANSFORMS[o.m].G;
  const lines = [`const u_: usize = scratch + ${intlit(o.uOff)};`];
  if (F < fm) {
    // zero the tail panel's columns past F in all planes (the micro-kernel reads whole vectors)
    lines.push(`for (let c_ = 0; c_ < ${intlit(C)}; c_++) {`,
      `  const uz_ = u_ + <usize>(${intlit(full * C * nr * 4)} + c_ * ${intlit(o.tw * 4)});`);
    for (let x = 0; x < o.planes; x++) for (let f = F; f < fm; f++) lines.push(`  store<f32>(uz_, 0, ${intlit(x * plane + (f - full * nr) * 4)});`);
    lines.push(`}`);
  }
  const column = (f: string) => [
    `const jp_ = ${f} / ${intlit(nr)};`,
    `const pw_: usize = jp_ < ${intlit(full)} ? ${intlit(nr * 4)} : ${intlit(o.tw * 4)};`,
    `const ud_ = u_ + <usize>(jp_ * ${intlit(C * nr * 4)} + (${f} - jp_ * ${intlit(nr)}) * 4) + <usize>c_ * pw_;`,
  ];
  if (!flipped) {
    // contiguous in f: vectors over 4 filters of one channel
    const group = (L: Lanes, f: string) => [
      ...column(f),
      `const ws_ = w + <usize>((c_ * ${intlit(F)} + ${f}) * 4);`,
      ...transform2d(G, 3, (i, j) => L.load("ws_", (i * 3 + j) * C * F * 4), L, "q", (k, l, e) => [L.store("ud_", (k * alpha + l) * plane, e)]),
    ];
    const f4 = Math.floor(F / 4) * 4;
    lines.push(`for (let c_ = 0; c_ < ${intlit(C)}; c_++) {`);
    if (f4 > 0) lines.push(`  for (let f_ = 0; f_ < ${intlit(f4)}; f_ += 4) {`, ...group(VEC, "f_").map((l) => "    " + l), `  }`);
    for (let f = f4; f < F; f++) lines.push(`  {`, ...group(SCALAR, intlit(f)).map((l) => "    " + l), `  }`);
    lines.push(`}`);
    return lines.join("\n");
  }
  // flipped: contiguous in c (w's last axis): vectors over 4 channels of one filter, stored lane by lane
  const tap = (i: number, j: number) => ((2 - i) * 3 + (2 - j)) * C * F * 4;
  const group = (L: Lanes, c: string) => [
    ...column("f_"),
    `const ws_ = w + <usize>((f_ * ${intlit(C)} + ${c}) * 4);`,
    ...transform2d(G, 3, (i, j) => L.load("ws_", tap(i, j)), L, "q", (k, l, e) => {
      const off = (k * alpha + l) * plane;
      if (L === SCALAR) return [L.store("ud_", off, e)];
      return [`{`, `  const u4_ = ${e};`,
        ...[0, 1, 2, 3].map((r) => `  store<f32>(ud_ + pw_ * ${intlit(r)}, f32x4.extract_lane(u4_, ${r}), ${intlit(off)});`), `}`];
    }),
  ];
  const c4 = Math.floor(C / 4) * 4;
  lines.push(`for (let f_ = 0; f_ < ${intlit(F)}; f_++) {`);
  if (c4 > 0) lines.push(`  for (let c_ = 0; c_ < ${intlit(c4)}; c_ += 4) {`, ...group(VEC, "c_").map((l) => "    " + l), `  }`);
  for (let c = c4; c < C; c++) lines.push(`  {`, `    const c_ = ${intlit(c)};`, ...group(SCALAR, "c_").map((l) => "    " + l), `  }`);
  lines.push(`}`);
  return lines.join("\n");
}

/** Locals of tile g_ (a tile number over the batch): img_, ty_, tx_. */
function decodeTile(o: Pick<Tiling, "tx" | "tpi">): string[] {
  return [
    `const img_ = g_ / ${intlit(o.tpi)};`,
    `const r_ = g_ - img_ * ${intlit(o.tpi)};`,
    `const ty_ = r_ / ${intlit(o.tx)};`,
    `const tx_ = r_ - ty_ * ${intlit(o.tx)};`,
  ];
}

/** Copies (or zeroes) C floats from cs_ to dst_ (both usize identifiers). */
function copyChannels(C: number, zero: boolean): string[] {
  const c4 = Math.floor(C / 4) * 4, lines: string[] = [];
  if (c4 > 0) lines.push(`for (let k_ = 0; k_ < ${intlit(c4)}; k_ += 4) v128.store(dst_ + <usize>(k_ * 4), ${zero ? "f32x4.splat(0)" : "v128.load(cs_ + <usize>(k_ * 4))"});`);
  for (let k = c4; k < C; k++) lines.push(`store<f32>(dst_, ${zero ? "0" : `load<f32>(cs_, ${intlit(k * 4)})`}, ${intlit(k * 4)});`);
  return lines;
}

/**
 * For a tile whose n×n pixel patch sticks out of an h×w image: copies the patch, zeros for the
 * pixels outside, into the buffer `patch` (pixel stride px bytes) and points src_/rs_ at it. The
 * patch's top-left pixel is (y0, x0) of image img_ in `image` (either may be negative).
 */
function copyBorderPatch(p: { n: number; image: string; h: number; w: number; y0: string; x0: string; patch: string; px: number; channels: number }): string[] {
  const { n, h, w, px } = p;
  return [
    `for (let i_ = 0; i_ < ${intlit(n)}; i_++) for (let j_ = 0; j_ < ${intlit(n)}; j_++) {`,
    `  const iy_ = ${p.y0} + i_, ix_ = ${p.x0} + j_;`,
    `  const dst_ = ${p.patch} + <usize>((i_ * ${intlit(n)} + j_) * ${intlit(px)});`,
    `  if (<u32>iy_ < ${intlit(h)} && <u32>ix_ < ${intlit(w)}) {`,
    `    const cs_ = ${p.image} + <usize>(((img_ * ${intlit(h)} + iy_) * ${intlit(w)} + ix_) * ${intlit(px)});`,
    ...copyChannels(p.channels, false).map((l) => "    " + l),
    `  } else {`,
    ...copyChannels(p.channels, true).map((l) => "    " + l),
    `  }`,
    `}`,
    `src_ = ${p.patch};`,
    `rs_ = ${intlit(n * px)};`,
  ];
}

/**
 * src_/rs_ of tile (img_, ty_, tx_) in the padded copy at pp_, after copying image img_ there
 * unless it is already (pimg_: the image held, −1 before the first; the rim was zeroed once).
 */
function paddedSource(o: Tiling, p: PaddedImage): string[] {
  const { s, m } = o, px = s.c * 4;
  return [
    `  if (img_ != pimg_) {`,
    `    pimg_ = img_;`,
    `    for (let y_ = 0; y_ < ${intlit(p.rows)}; y_++) {`,
    `      const cs_ = x + <usize>((img_ * ${intlit(s.h)} + y_) * ${intlit(s.w * px)});`,
    `      const dst_ = pp_ + <usize>((y_ + ${intlit(s.padTop)}) * ${intlit(p.wp * px)} + ${intlit(s.padLeft * px)});`,
    ...copyChannels(p.cols * s.c, false).map((l) => "      " + l),
    `    }`,
    `  }`,
    `  const src_: usize = pp_ + <usize>((ty_ * ${intlit(m * p.wp)} + tx_ * ${intlit(m)}) * ${intlit(px)});`,
    `  const rs_: usize = ${intlit(p.wp * px)};`,
  ];
}

/**
 * V for tiles [t0_, t0_+tb_) into v_ (per ξ plane, rows of KCP channels per tile): patches wholly
 * inside the image are read in place (row stride W·C); border patches are first copied with zeros
 * into an α×α×C patch buffer at pp_ (row stride α·C) — or, with `padded`, every patch is read in
 * place from the image's zero-padded copy at pp_.
 */
function inputTransform(o: Tiling): string {
  const { s, m, alpha } = o, C = s.c, c4 = Math.floor(C / 4) * 4, px = C * 4, vPlane = o.vPlane;
  const inside = s.h >= alpha && s.w >= alpha
    ? `<u32>iy0_ <= ${intlit(s.h - alpha)} && <u32>ix0_ <= ${intlit(s.w - alpha)}` : "false";
  const rows = Array.from({ length: alpha }, (_, i) => i);
  const group = (L: Lanes, ci: string) => {
    const lines = rows.map((i) => `const s${i}_ = src_ + rs_ * ${intlit(i)} + <usize>(${ci} * 4);`);
    lines.push(`const vd_ = vt_ + <usize>(${ci} * 4);`);
    const d = (i: number, j: number) => L.load(`s${i}_`, j * px);
    lines.push(...transform2d(TRANSFORMS[m].BT, alpha, d, L, "e", (k, l, e) => [L.store("vd_", (k * alpha + l) * vPlane, e)], stagedIn(m)));
    return lines;
  };
  const head = [
    `for (let t_ = 0; t_ < tb_; t_++) {`,
    `  const g_ = t0_ + t_;`,
    ...decodeTile(o).map((l) => "  " + l),
  ];
  const tail = [`  const vt_ = v_ + <usize>(t_ * ${intlit(o.kcp * 4)});`];
  const lines = o.padded ? [...head, ...paddedSource(o, o.padded), ...tail] : [...head,
    `  const iy0_ = ty_ * ${intlit(m)} - ${intlit(s.padTop)};`,
    `  const ix0_ = tx_ * ${intlit(m)} - ${intlit(s.padLeft)};`,
    `  let src_: usize = x + <usize>(((img_ * ${intlit(s.h)} + iy0_) * ${intlit(s.w)} + ix0_) * ${intlit(px)});`,
    `  let rs_: usize = ${intlit(s.w * px)};`,
    `  if (!(${inside})) {`,
    ...copyBorderPatch({ n: alpha, image: "x", h: s.h, w: s.w, y0: "iy0_", x0: "ix0_", patch: "pp_", px, channels: C }).map((l) => "    " + l),
    `  }`,
    ...tail,
  ];
  if (c4 > 0) lines.push(`  for (let ci_ = 0; ci_ < ${intlit(c4)}; ci_ += 4) {`, ...group(VEC, "ci_").map((l) => "    " + l), `  }`);
  for (let ci = c4; ci < C; ci++) lines.push(`  {`, ...group(SCALAR, intlit(ci)).map((l) => "    " + l), `  }`);
  lines.push(`}`);
  return lines.join("\n");
}

/** The α² GEMMs M_ξ = V_ξ·U_ξ over the block's rows (rounded up to MR; extra rows are never read). */
function products(o: Layout): string {
  const { s, mr, nr, full, tw, fm, kcp } = o, C = s.c;
  const sweep = (nv: number, panel: string, col: string) => {
    const stores: string[] = [];
    for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) stores.push(`v128.store(mp_, c${r}${v}_, ${intlit(r * fm * 4 + v * 16)});`);
    return [
      `const pbp_ = ub_ + <usize>(${panel});`,
      `for (let ir_ = 0; ir_ < tb_; ir_ += ${intlit(mr)}) {`,
      `  let pa_ = va_ + <usize>(ir_ * ${intlit(kcp * 4)});`,
      `  let pb_ = pbp_;`,
      microKernel(nv, kcp, o.relaxed).replace(/^/gm, "  "),
      `  const mp_ = mb_ + <usize>((ir_ * ${intlit(fm)} + ${col}) * 4);`,
      ...stores.map((l) => "  " + l),
      `}`,
    ];
  };
  return overPlanesAndPanels([
    `const va_ = v_ + <usize>(xi_ * ${intlit(o.vPlane)});`,
    `const ub_ = u_ + <usize>(xi_ * ${intlit(o.uPlane)});`,
    `const mb_ = m_ + <usize>(xi_ * ${intlit(o.mPlane)});`,
  ], C, { nr, full, tw, planes: o.planes }, sweep).join("\n");
}

/**
 * The loops around the GEMMs of a block: for each transform position xi_ (after `head`, its
 * plane pointers), the full NR-wide B panels and then the tail panel; a panel's packed B holds
 * `kRows` rows. `sweep(vectors, panel byte offset, first column)` emits one panel's micro-tiles.
 */
function overPlanesAndPanels(head: string[], kRows: number, o: { nr: number; full: number; tw: number; planes: number },
  sweep: (nv: number, panel: string, col: string) => string[]): string[] {
  const { nr, full, tw } = o, lines = [`for (let xi_ = 0; xi_ < ${intlit(o.planes)}; xi_++) {`, ...head.map((l) => "  " + l)];
  if (full > 0) lines.push(`  for (let jp_ = 0; jp_ < ${intlit(full)}; jp_++) {`,
    ...sweep(nr / 4, `jp_ * ${intlit(kRows * nr * 4)}`, `jp_ * ${intlit(nr)}`).map((l) => "    " + l), `  }`);
  if (tw > 0) lines.push(`  {`, ...sweep(tw / 4, intlit(full * kRows * nr * 4), intlit(full * nr)).map((l) => "    " + l), `  }`);
  lines.push(`}`);
  return lines;
}

/**
 * y = act(Aᵀ·M·A [+ old y] + bias) for the block's tiles; outputs past OH/OW are not stored: row
 * k > 0 of a tile only where vy{k}_ (column l: vx{l}_), flags declared only when OH (OW) is not a
 * multiple of m.
 */
function outputTransform(o: Layout): string {
  const { s, m, alpha } = o, F = s.f, f4 = Math.floor(F / 4) * 4, act = s.activation ?? "linear";
  const mPlane = o.mPlane, yRow = s.ow * F * 4;
  const rowFlags = s.oh % m !== 0, colFlags = s.ow % m !== 0;
  const group = (L: Lanes, f: string) => {
    const lines = [`const ms_ = mt_ + <usize>(${f} * 4);`, `const yd_ = yt_ + <usize>(${f} * 4);`];
    if (s.bias) lines.push(`const bv_ = ${L.load(`bias + <usize>(${f} * 4)`, 0)};`);
    const mm = (i: number, j: number) => L.load("ms_", (i * alpha + j) * mPlane);
    lines.push(...transform2d(TRANSFORMS[m].AT, alpha, mm, L, "a", (k, l, e) => {
      const off = k * yRow + l * F * 4;
      if (s.accumulate) e = L.add(e, L.load("yd_", off));
      if (s.bias) e = L.add(e, "bv_");
      e = L === VEC ? activationSimd(act, `(${e})`) : activationScalar(act, `(${e})`);
      const st = L.store("yd_", off, e);
      const cond = [k && rowFlags ? `vy${k}_` : "", l && colFlags ? `vx${l}_` : ""].filter((c) => c).join(" && ");
      return [cond ? `if (${cond}) ${st}` : st];
    }, stagedIn(m)));
    return lines;
  };
  const flags = (axis: "y" | "x", size: number) => Array.from({ length: m - 1 }, (_, i) => i + 1)
    .map((k) => `  const v${axis}${k}_ = t${axis}_ * ${intlit(m)} + ${intlit(k)} < ${intlit(size)};`);
  const lines = [
    `for (let t_ = 0; t_ < tb_; t_++) {`,
    `  const g_ = t0_ + t_;`,
    ...decodeTile(o).map((l) => "  " + l),
    ...(rowFlags ? flags("y", s.oh) : []),
    ...(colFlags ? flags("x", s.ow) : []),
    `  const mt_ = m_ + <usize>(t_ * ${intlit(o.fm * 4)});`,
    `  const yt_ = y + <usize>(((img_ * ${intlit(s.oh)} + ty_ * ${intlit(m)}) * ${intlit(s.ow)} + tx_ * ${intlit(m)}) * ${intlit(F * 4)});`,
  ];
  if (f4 > 0) lines.push(`  for (let f_ = 0; f_ < ${intlit(f4)}; f_ += 4) {`, ...group(VEC, "f_").map((l) => "    " + l), `  }`);
  for (let f = f4; f < F; f++) lines.push(`  {`, ...group(SCALAR, intlit(f)).map((l) => "    " + l), `  }`);
  lines.push(`}`);
  return lines.join("\n");
}

/** Locals end with "_" (as the GEMM's). */
export const WINOGRAD_LOCALS = locals("emitConv2dWinograd", "suffixed");
/** The input gradient's body also declares x and y: its tensors under the forward body's names. */
export const WINOGRAD_GRAD_INPUT_LOCALS = locals("emitConv2dGradInputWinograd", "suffixed", ["x", "y"]);
/**
 * Where the 2-D transforms of m = 4 keep their 6×6 intermediate: in scratch (st_, 576 bytes, L1)
 * rather than in 36 locals. V8 spilled those badly: staged, conv2's F(4×4) forward ran 1.57–1.68×
 * F(2×2) instead of 1.36–1.47×, its input gradient 1.19–1.22× instead of 1.14–1.15× (F(2×2)'s
 * 4×4 intermediate stays in locals).
 */
const stagedIn = (m: WinogradTile): string | undefined => (m === 4 ? "st_" : undefined);

/** The kernel body for spec (x → y, filter w as in filterTransform) with m×m tiles in blocks of T. */
function winogradBody(spec: Conv2dSpec, flipped: boolean, m: WinogradTile, T: number): { body: string; bytes: number } {
  const o = layout(spec, !!spec.relaxed, m, T);
  const body = [
    filterTransform(o, flipped),
    `const v_: usize = scratch + ${intlit(o.vOff)};`,
    `const m_: usize = scratch + ${intlit(o.mOff)};`,
    `const pp_: usize = scratch + ${intlit(o.pOff)};`,
    ...(stagedIn(m) ? [`const ${stagedIn(m)}: usize = scratch + ${intlit(o.sOff)};`] : []),
    ...(o.padded ? [
      `for (let k_ = 0; k_ < ${intlit(o.padded.bytes)}; k_ += 16) v128.store(pp_ + <usize>k_, f32x4.splat(0));`,
      `let pimg_: i32 = -1;`,
    ] : []),
    `const kc_: i32 = ${intlit(spec.c)};`,
    `const total_ = n * ${intlit(o.tpi)};`,
    `for (let t0_ = 0; t0_ < total_; t0_ += ${intlit(T)}) {`,
    `  const tb_ = min<i32>(${intlit(T)}, total_ - t0_);`,
    inputTransform(o).replace(/^/gm, "  "),
    products(o).replace(/^/gm, "  "),
    outputTransform(o).replace(/^/gm, "  "),
    `}`,
  ].join("\n");
  return { body, bytes: o.bytes };
}

function checkTile(m: number, T: number, who: string): void {
  if (m !== 2 && m !== 4) throw new Error(`internal: ${who}: tile size must be 2 or 4, got ${m}`);
  if (!Number.isInteger(T) || T < 4 || T % 4) throw new Error(`internal: ${who}: tiles per block must be a positive multiple of 4`);
}

/**
 * Forward: y[n,oh,ow,f] (=|+=) act(conv3x3(x, w) + bias) by Winograd F(m×m,3×3). Params x, w, y,
 * [bias], scratch, n. `tiles`: tiles per block (default winogradTiles(m); benchmarks vary it).
 */
export function emitConv2dWinograd(spec: Conv2dSpec, m: WinogradTile = 2, tiles = winogradTiles(m)): KernelDef {
  checkConv2dSpec(spec, "emitConv2dWinograd");
  if (!winogradApplies(spec)) throw new Error("internal: emitConv2dWinograd: needs a 3x3 kernel, stride 1, dilation 1");
  checkTile(m, tiles, "emitConv2dWinograd");
  const act = spec.activation ?? "linear";
  if (!/^[a-z_]+$/.test(act)) throw new Error(`internal: "${act}" is not an activation name`);
  const { body, bytes } = winogradBody(spec, false, m, tiles);
  return {
    key: `conv2d_winograd:${JSON.stringify({ ...spec, activation: act, m, tiles })}`,
    label: `conv2d winograd F${m} 3x3 ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}${act !== "linear" ? " " + act : ""}`,
    params: kernelParams(WINOGRAD_LOCALS, ["x", "w", "y", ...(spec.bias ? ["bias"] : []), "scratch"], "n"),
    body,
    needs: activationNeeds(act),
    scratchBytes: bytes,
  };
}

/**
 * The input gradient of a forward conv `spec` as a forward conv of dy: dx is the full
 * correlation of dy with w rotated 180° and c/f swapped, i.e. a 3×3 stride-1 conv of the
 * oh×ow×f image dy with padding 2 − pad, giving h×w×c.
 */
export function gradInputAsConv(spec: Conv2dSpec): Conv2dSpec {
  return {
    h: spec.oh, w: spec.ow, c: spec.f, f: spec.c, kh: 3, kw: 3, sh: 1, sw: 1, dh: 1, dw: 1,
    padTop: 2 - spec.padTop, padLeft: 2 - spec.padLeft, oh: spec.h, ow: spec.w,
    accumulate: spec.accumulate, relaxed: spec.relaxed,
  };
}

/** Whether the input gradient of `spec` can go through Winograd (pads ≤ 2 keep the transposed pads ≥ 0). */
export function winogradGradInputApplies(spec: Conv2dSpec): boolean {
  // (bottom/right pads > 2 would make the transposed ones negative: rows of dy that no x reaches
  // are simply never read, which the zero-outside-the-image reads already handle)
  return winogradApplies(spec) && spec.padTop <= 2 && spec.padLeft <= 2;
}

/**
 * Input gradient: dx[n,h,w,c] (=|+=) conv3x3(dy, rot180(w)ᵀ) by Winograd F(m×m,3×3). Params dy,
 * w, dx, scratch, n (as emitConv2dGradInput).
 */
export function emitConv2dGradInputWinograd(spec: Conv2dSpec, m: WinogradTile = 2, tiles = winogradTiles(m)): KernelDef {
  checkConv2dSpec(spec, "emitConv2dGradInputWinograd");
  if (!winogradGradInputApplies(spec)) throw new Error("internal: emitConv2dGradInputWinograd: needs a 3x3 kernel, stride 1, dilation 1, padding <= 2");
  checkTile(m, tiles, "emitConv2dGradInputWinograd");
  const t = gradInputAsConv(spec);
  const { body, bytes } = winogradBody(t, true, m, tiles);
  return {
    key: `conv2d_grad_input_winograd:${JSON.stringify({ ...t, m, tiles })}`,
    label: `conv2d grad-input winograd F${m} 3x3 ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}`,
    params: kernelParams(WINOGRAD_GRAD_INPUT_LOCALS, ["dy", "w", "dx", "scratch"], "n"),
    // the shared body reads x and writes y
    body: [`const x: usize = dy;`, `const y: usize = dx;`, body].join("\n"),
    needs: [],
    scratchBytes: bytes,
  };
}

/*
 * Filter gradient by Winograd F(2×2, 3×3). By bilinearity of y = Aᵀ[(G·g·Gᵀ) ⊙ (Bᵀ·d·B)]·A,
 * a tile's share of dW is Gᵀ[(A·dy_t·Aᵀ) ⊙ (Bᵀ·d_t·B)]·G, so
 *
 *   V_t = Bᵀ·d_t·B              per 4×4 input patch (the forward's input transform)
 *   Y_t = Â·dy_t·Âᵀ             per 2×2 output-gradient tile (zeros past OH/OW)
 *   M_ξ[C × F] = Σ_t V_t,ξᵀ·Y_t,ξ  16 GEMMs whose reduction runs over the batch's tiles
 *   dW = Ĝᵀ·M·Ĝ                 3×3 per (c, f), written (or added) once at the end
 *
 * with the 0.5 of G and the sign of A's last row moved into Â: G = D·S·Ĝ and Â = S·D·A for
 * D = diag(1, ½, ½, 1), S = diag(1, 1, 1, −1), so every row of Â and Ĝᵀ has a positive term and
 * one scale (what `combine` emits) and Ĝᵀ·(S·D·M·D·S)·Ĝ = Gᵀ·M·G.
 * Tiles go in blocks of WINOGRAD_GF_TILES (the GEMMs' K); M accumulates across blocks in
 * scratch in block order, so the sums' order depends on the shapes only.
 */
const AH: Transform = { coef: [[1, 0], [0.5, 0.5], [0.5, -0.5], [0, 1]] };
const GHT: Transform = { coef: [[1, 1, 1, 0], [0, 1, -1, 0], [0, 1, 1, -1]] };

/**
 * Tiles per block of the filter gradient (K of its GEMMs). 32, 64 and 128 measured within ±10% of
 * each other on the shapes at winogradGradFilterPays (plain and relaxed), 32 ahead more often.
 */
export const WINOGRAD_GF_TILES = 32;

/**
 * Scratch layout of the filter gradient, per ξ: V [T × KCP] as the forward writes it (the GEMMs
 * read it as a transposed A), Y as B panels [T × fm], M [rows × fm].
 */
interface GfLayout extends Tiling {
  relaxed: boolean; T: number;
  mr: number; nr: number; full: number; tw: number; fm: number;
  /** M's row count: channels rounded up to MR (≤ KCP). */
  rows: number;
  yPlane: number; mPlane: number;
  vOff: number; yOff: number; mOff: number; pOff: number; qOff: number; bytes: number;
}

function gfLayout(s: Conv2dSpec, relaxed: boolean, T: number): GfLayout {
  const tile = tileShape(relaxed), nr = tile.nr;
  // fewer micro-kernel rows than MR when c is smaller: conv1 (c = 1) would compute 3 rows of 4 for nothing
  const mr = s.c >= tile.mr ? tile.mr : s.c === 1 ? 1 : 2;
  const g = tiling(s, 2, T);
  const full = Math.floor(s.f / nr), tw = roundUp(s.f % nr, 4), fm = full * nr + tw, rows = roundUp(s.c, mr);
  const yPlane = skewed(T * fm * 4), mPlane = skewed(rows * fm * 4);
  const vOff = 0, yOff = vOff + 16 * g.vPlane, mOff = yOff + 16 * yPlane, pOff = mOff + 16 * mPlane;
  const qOff = pOff + roundUp(16 * s.c * 4, 64), bytes = qOff + roundUp(4 * s.f * 4, 64);
  return { ...g, relaxed, T, mr, nr, full, tw, fm, rows, yPlane, mPlane, vOff, yOff, mOff, pOff, qOff, bytes };
}

/**
 * Zeroes what the GEMMs read but no transform writes (V channels past C, Y tail columns past F),
 * so the padding lanes compute on zeros rather than on whatever the scratch held.
 */
function gfZeroPadding(o: GfLayout): string[] {
  const { s, T, full, nr, tw, fm, kcp } = o, lines: string[] = [];
  if (kcp > s.c) {
    lines.push(`for (let xi_ = 0; xi_ < 16; xi_++) {`,
      `  const vz_ = v_ + <usize>(xi_ * ${intlit(o.vPlane)});`,
      `  for (let t_ = 0; t_ < ${intlit(T)}; t_++) {`,
      ...Array.from({ length: kcp - s.c }, (_, i) => `    store<f32>(vz_ + <usize>(t_ * ${intlit(kcp * 4)}), 0, ${intlit((s.c + i) * 4)});`),
      `  }`,
      `}`);
  }
  if (fm > s.f) {
    lines.push(`for (let xi_ = 0; xi_ < 16; xi_++) {`,
      `  const yz_ = y_ + <usize>(xi_ * ${intlit(o.yPlane)} + ${intlit(full * T * nr * 4)});`,
      `  for (let t_ = 0; t_ < ${intlit(T)}; t_++) {`,
      ...Array.from({ length: fm - s.f }, (_, i) => `    store<f32>(yz_ + <usize>(t_ * ${intlit(tw * 4)}), 0, ${intlit((s.f - full * nr + i) * 4)});`),
      `  }`,
      `}`);
  }
  return lines;
}

/**
 * Y for tiles [t0_, t0_+tb_) into the micro-kernel's B panels (panel jp at jp·T·NR floats, row t).
 * dy is read in place unless the tile sticks out of OH×OW: then its 2×2 pixels
 * are copied, zeros for the missing ones, into a patch at qp_ with the same pixel stride.
 */
function gfDyTransform(o: GfLayout): string {
  const { s, T, nr, full, tw } = o, F = s.f, px = F * 4;
  const group = (L: Lanes, f: string, dst: string) => [
    `const d0_ = r0_ + <usize>(${f} * 4);`,
    `const d1_ = r1_ + <usize>(${f} * 4);`,
    `const yd_ = ${dst};`,
    ...transform2d(AH, 2, (i, j) => L.load(`d${i}_`, j * px), L, "y", (k, l, e) => [L.store("yd_", (k * 4 + l) * o.yPlane, e)]),
  ];
  const lines = [
    `for (let t_ = 0; t_ < tb_; t_++) {`,
    `  const g_ = t0_ + t_;`,
    ...decodeTile(o).map((l) => "  " + l),
    `  let src_: usize = dy + <usize>(((img_ * ${intlit(s.oh)} + ty_ * 2) * ${intlit(s.ow)} + tx_ * 2) * ${intlit(px)});`,
    `  let rs_: usize = ${intlit(s.ow * px)};`,
  ];
  if (s.oh % 2 || s.ow % 2) {
    lines.push(
      `  if (ty_ * 2 + 1 >= ${intlit(s.oh)} || tx_ * 2 + 1 >= ${intlit(s.ow)}) {`,
      ...copyBorderPatch({ n: 2, image: "dy", h: s.oh, w: s.ow, y0: "ty_ * 2", x0: "tx_ * 2", patch: "qp_", px, channels: F }).map((l) => "    " + l),
      `  }`);
  }
  lines.push(`  const r0_ = src_;`, `  const r1_ = src_ + rs_;`);
  if (full > 0) {
    // full panels: NR/4 vectors of one panel row per tile, unrolled
    lines.push(`  for (let jp_ = 0; jp_ < ${intlit(full)}; jp_++) {`,
      `    const yp_ = y_ + <usize>(jp_ * ${intlit(T * nr * 4)} + t_ * ${intlit(nr * 4)});`);
    for (let v = 0; v < nr / 4; v++) {
      lines.push(`    {`, ...group(VEC, `(jp_ * ${intlit(nr)} + ${intlit(v * 4)})`, `yp_ + <usize>(${intlit(v * 16)})`).map((l) => "      " + l), `    }`);
    }
    lines.push(`  }`);
  }
  if (tw > 0) {
    const f0 = full * nr, f4 = f0 + Math.floor((F - f0) / 4) * 4;
    lines.push(`  const yq_ = y_ + <usize>(${intlit(full * T * nr * 4)} + t_ * ${intlit(tw * 4)});`);
    for (let f = f0; f < F; f += f < f4 ? 4 : 1) {
      const L = f < f4 ? VEC : SCALAR;
      lines.push(`  {`, ...group(L, intlit(f), `yq_ + <usize>(${intlit((f - f0) * 4)})`).map((l) => "    " + l), `  }`);
    }
  }
  lines.push(`}`);
  return lines.join("\n");
}

/** M_ξ (+)= Vᵀ_ξ·Y_ξ over the block's tb_ tiles: the first block stores, later ones add (fixed order). */
function gfProducts(o: GfLayout): string {
  const { s, T, mr, nr, full, tw, fm, kcp } = o;
  const sweep = (nv: number, panel: string, col: string) => {
    const stores: string[] = [], adds: string[] = [];
    for (let r = 0; r < mr; r++) for (let v = 0; v < nv; v++) {
      const off = intlit(r * fm * 4 + v * 16);
      stores.push(`v128.store(mp_, c${r}${v}_, ${off});`);
      adds.push(`v128.store(mp_, f32x4.add(v128.load(mp_, ${off}), c${r}${v}_), ${off});`);
    }
    return [
      `const pbp_ = yb_ + <usize>(${panel});`,
      `for (let ir_ = 0; ir_ < ${intlit(s.c)}; ir_ += ${intlit(mr)}) {`,
      `  let pa_ = va_ + <usize>(ir_ * 4);`,
      `  let pb_ = pbp_;`,
      microKernel(nv, kcp, o.relaxed, true, mr).replace(/^/gm, "  "),
      `  const mp_ = mb_ + <usize>((ir_ * ${intlit(fm)} + ${col}) * 4);`,
      `  if (first_) {`, ...stores.map((l) => "    " + l), `  } else {`, ...adds.map((l) => "    " + l), `  }`,
      `}`,
    ];
  };
  return [`const first_ = t0_ == 0;`, `const kc_ = tb_;`, ...overPlanesAndPanels([
    `const va_ = v_ + <usize>(xi_ * ${intlit(o.vPlane)});`,
    `const yb_ = y_ + <usize>(xi_ * ${intlit(o.yPlane)});`,
    `const mb_ = m_ + <usize>(xi_ * ${intlit(o.mPlane)});`,
  ], T, { nr, full, tw, planes: 16 }, sweep)].join("\n");
}

/** dw[ky,kx,c,f] (=|+=) (Ĝᵀ·M[c,f]·Ĝ)[ky,kx], vectorized over filters. */
function gfFilterOutput(o: GfLayout): string {
  const { s, fm } = o, C = s.c, F = s.f, f4 = Math.floor(F / 4) * 4;
  const group = (L: Lanes, f: string) => [
    `const ms_ = mc_ + <usize>(${f} * 4);`,
    `const wd_ = wc_ + <usize>(${f} * 4);`,
    ...transform2d(GHT, 4, (i, j) => L.load("ms_", (i * 4 + j) * o.mPlane), L, "g", (k, l, e) => {
      const off = (k * 3 + l) * C * F * 4;
      return [L.store("wd_", off, s.accumulate ? L.add(L.load("wd_", off), e) : e)];
    }),
  ];
  const lines = [
    `for (let c_ = 0; c_ < ${intlit(C)}; c_++) {`,
    `  const mc_ = m_ + <usize>(c_ * ${intlit(fm * 4)});`,
    `  const wc_ = dw + <usize>(c_ * ${intlit(F * 4)});`,
  ];
  if (f4 > 0) lines.push(`  for (let f_ = 0; f_ < ${intlit(f4)}; f_ += 4) {`, ...group(VEC, "f_").map((l) => "    " + l), `  }`);
  for (let f = f4; f < F; f++) lines.push(`  {`, ...group(SCALAR, intlit(f)).map((l) => "    " + l), `  }`);
  lines.push(`}`);
  return lines.join("\n");
}

/**
 * Selection rule, filter gradient: the forward's (ratio ≥ 1.25, c·f ≤ the scratch cap). Kernel A/B
 * at asc -O0, old im2col grad-filter vs Winograd (T = 32), speed-up old/new, plain | relaxed,
 * medians of 7 alternating runs (load 2–13, so ±20%); "/64" = 32 of the 64 filters (as threaded builds once split them):
 *   conv2 13×13×32→11×11×64 (r 1.89)  batch 64: 1.73 | 1.74  batch 32: 1.70 | 1.74  batch 1: 2.8 | 1.6  /64: 2.1 | 1.85
 *   conv3 5×5×64→3×3×64 (r 1.27)      batch 64: 1.29 | 1.33  batch 32: 1.31 | 1.33  batch 1: 0.71 | 0.99  /64: 1.28 | 1.60
 *   conv1 28×28×1→26×26×32 (r 2.25)   batch 64: 2.07 | 2.03  batch 32: 2.10 | 2.15  batch 1: 2.0 | 2.0    /32: 2.8 | 3.7
 *     (with a 1-row micro-kernel for c = 1; with the 4-row one it was 1.1–1.4 plain)
 *   32×32×32 same 1.99 | 2.06; c=f=8 2.35 | 2.80; c=3 f=32 1.39 | 1.73; c=32 f=1 2.35 | 2.95; c=1 f=8 same 4.3 | 2.9;
 *   output 2×2 2.04 | 2.14; c=f=128 2.2 | 2.5; c=f=256 2.5 | 2.5;
 *   output 1×1 (r 0.56) 0.48 | 0.49, output 1×11 (r 1.03) 0.91 | 0.94 → excluded.
 * conv3 at batch 1 (4 tiles) loses: the fixed Ĝᵀ·M·Ĝ over 16·c·f floats outweighs its GEMMs. Kept
 * because training batches are large; the kernel is chosen at compile time, not per batch.
 */
export function winogradGradFilterPays(s: Conv2dSpec): boolean {
  return winogradPays(s);
}

/**
 * Filter gradient: dw[3,3,c,f] (=|+=) Σ over the batch of x patches ⊗ dy, by Winograd F(2×2,3×3).
 * Params x, dy, dw, scratch, n (as emitConv2dGradFilter).
 */
export function emitConv2dGradFilterWinograd(spec: Conv2dSpec, tiles = WINOGRAD_GF_TILES): KernelDef {
  checkConv2dSpec(spec, "emitConv2dGradFilterWinograd");
  if (!winogradApplies(spec)) throw new Error("internal: emitConv2dGradFilterWinograd: needs a 3x3 kernel, stride 1, dilation 1");
  if (!Number.isInteger(tiles) || tiles < 4 || tiles % 4) throw new Error("internal: emitConv2dGradFilterWinograd: tiles must be a positive multiple of 4");
  const o = gfLayout(spec, !!spec.relaxed, tiles), T = o.T;
  const zeroM = [
    `for (let k_ = 0; k_ < ${intlit(16 * o.mPlane)}; k_ += 16) v128.store(m_ + <usize>k_, f32x4.splat(0));`,
  ];
  const body = [
    `const v_: usize = scratch + ${intlit(o.vOff)};`,
    `const y_: usize = scratch + ${intlit(o.yOff)};`,
    `const m_: usize = scratch + ${intlit(o.mOff)};`,
    `const pp_: usize = scratch + ${intlit(o.pOff)};`,
    `const qp_: usize = scratch + ${intlit(o.qOff)};`,
    ...gfZeroPadding(o),
    `const total_ = n * ${intlit(o.tpi)};`,
    // no tiles (batch 0): the gradient is zero
    `if (total_ <= 0) {`, ...zeroM.map((l) => "  " + l), `}`,
    `for (let t0_ = 0; t0_ < total_; t0_ += ${intlit(T)}) {`,
    `  const tb_ = min<i32>(${intlit(T)}, total_ - t0_);`,
    inputTransform(o).replace(/^/gm, "  "),
    gfDyTransform(o).replace(/^/gm, "  "),
    gfProducts(o).replace(/^/gm, "  "),
    `}`,
    gfFilterOutput(o),
  ].join("\n");
  return {
    key: `conv2d_grad_filter_winograd:${JSON.stringify({ ...spec, tiles })}`,
    label: `conv2d grad-filter winograd 3x3 ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}`,
    params: kernelParams(WINOGRAD_LOCALS, ["x", "dy", "dw", "scratch"], "n"),
    body,
    needs: [],
    scratchBytes: o.bytes,
  };
}
