/**
 * Winograd tile geometry (tiles per image, α×α patches), the forward kernels' scratch layout (U, V,
 * M planes skewed against cache-set conflicts), the GEMM loops over planes and panels, and the
 * tile-block sizes.
 */
import type { Staging } from "./transforms.js";
import { intlit, locals } from "../code.js";
import { roundUp, tileShape } from "../gemm-core.js";
import type { Conv2dSpec } from "../conv/spec.js";
import type { WinogradTile } from "../../select/rules.js";

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

/** Tile geometry shared by the forward, input-gradient and filter-gradient kernels. */
export interface Tiling {
  s: Conv2dSpec;
  /** Output tile size m, input patch size α = m + 2, transform planes α². */
  m: WinogradTile; alpha: number; planes: number;
  /** Tiles per image row / column / image. */
  tx: number; ty: number; tpi: number;
  /** V's row stride (channels rounded up to 4) and the bytes between its ξ planes. */
  kcp: number; vPlane: number;
  /** Set when tiles read a zero-padded copy of their image (see paddedImage); pOff is then its offset. */
  padded?: PaddedImage;
  /** Whether the staged transforms run their column pass as a loop (see staging). */
  loopCols: boolean;
}

/** A zero-padded copy of one image: hp × wp pixels, the image's rows × cols at (padTop, padLeft). */
export interface PaddedImage { hp: number; wp: number; rows: number; cols: number; bytes: number }

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
export interface Layout extends Tiling {
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
export function skewed(bytes: number): number {
  const lines = Math.ceil(bytes / 64);
  return (lines % 2 ? lines : lines + 1) * 64;
}

export function tiling(s: Conv2dSpec, m: WinogradTile, T: number, loopCols: boolean): Tiling {
  const alpha = m + 2, tx = Math.ceil(s.ow / m), ty = Math.ceil(s.oh / m), kcp = roundUp(s.c, 4);
  return { s, m, alpha, planes: alpha * alpha, tx, ty, tpi: tx * ty, kcp, vPlane: skewed(T * kcp * 4), loopCols };
}

export function layout(s: Conv2dSpec, relaxed: boolean, m: WinogradTile, T: number, loopCols: boolean): Layout {
  const { mr, nr } = tileShape(relaxed), g: Tiling = tiling(s, m, T, loopCols), P = g.planes;
  if (m === 4) g.padded = paddedImage(s, m, g.tx, g.ty);
  const full = Math.floor(s.f / nr), tw = roundUp(s.f % nr, 4), fm = full * nr + tw;
  const uPlane = skewed(s.c * fm * 4), mPlane = skewed(T * fm * 4);
  const uOff = 0, vOff = uOff + P * uPlane, mOff = vOff + P * g.vPlane, pOff = mOff + P * mPlane;
  const sOff = pOff + (g.padded ? g.padded.bytes : roundUp(P * s.c * 4, 64)), bytes = sOff + (stagedIn(m) ? P * 16 : 0);
  return { ...g, relaxed, T, mr, nr, full, tw, fm, uPlane, mPlane, uOff, vOff, mOff, pOff, sOff, bytes };
}

/** Locals of tile g_ (a tile number over the batch): img_, ty_, tx_. */
export function decodeTile(o: Pick<Tiling, "tx" | "tpi">): string[] {
  return [
    `const img_ = g_ / ${intlit(o.tpi)};`,
    `const r_ = g_ - img_ * ${intlit(o.tpi)};`,
    `const ty_ = r_ / ${intlit(o.tx)};`,
    `const tx_ = r_ - ty_ * ${intlit(o.tx)};`,
  ];
}

/**
 * The loops around the GEMMs of a block: for each transform position xi_ (after `head`, its
 * plane pointers), the full NR-wide B panels and then the tail panel; a panel's packed B holds
 * `kRows` rows. `sweep(vectors, panel byte offset, first column)` emits one panel's micro-tiles.
 */
export function overPlanesAndPanels(head: string[], kRows: number, o: { nr: number; full: number; tw: number; planes: number },
  sweep: (nv: number, panel: string, col: string) => string[]): string[] {
  const { nr, full, tw } = o, lines = [`for (let xi_ = 0; xi_ < ${intlit(o.planes)}; xi_++) {`, ...head.map((l) => "  " + l)];
  if (full > 0) lines.push(`  for (let jp_ = 0; jp_ < ${intlit(full)}; jp_++) {`,
    ...sweep(nr / 4, `jp_ * ${intlit(kRows * nr * 4)}`, `jp_ * ${intlit(nr)}`).map((l) => "    " + l), `  }`);
  if (tw > 0) lines.push(`  {`, ...sweep(tw / 4, intlit(full * kRows * nr * 4), intlit(full * nr)).map((l) => "    " + l), `  }`);
  lines.push(`}`);
  return lines;
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
export const stagedIn = (m: WinogradTile): string | undefined => (m === 4 ? "st_" : undefined);

/**
 * stagedIn's area for a 2-D transform, its column pass as a loop where the tiling says so
 * (`loopCols`), its row pass too where `rows` (transforms.ts: Staging). Unrolled, each F(4×4)
 * transform is ~1–2 KB of wasm per lane group: the seed CNN's training module (budget 100 KB,
 * bench/README.md) went 96,855 → 104,515 B with the F(4×4) filter gradient, and is 96,561 B with
 * the loops below. Which passes loop is measured (per-call CPU medians, seed CNN b32, 3 instances ×
 * 24 alternating rounds, load ~7, against all unrolled): column loops in the forward and the filter
 * gradient, and row loops in the filter gradient's own transforms (dy, filter output), cost nothing
 * measurable (filter gradient 1.440 → 1.441 ms, predict b64 4.717 → 4.741); the input transform's
 * row loop cost ~2% (filter gradient 1.469, predict 4.815), so it stays unrolled; the input
 * gradient lost ~3% with its column loops (2.176 → 2.242 ms) and stays unrolled (`loopCols` false).
 */
export function staging(o: Pick<Tiling, "m" | "loopCols">, rows: boolean): Staging | undefined {
  const at = stagedIn(o.m);
  return at ? { at, loopCols: o.loopCols, loopRows: o.loopCols && rows } : undefined;
}

export function checkTile(m: number, T: number, who: string): void {
  if (m !== 2 && m !== 4) throw new Error(`internal: ${who}: tile size must be 2 or 4, got ${m}`);
  if (!Number.isInteger(T) || T < 4 || T % 4) throw new Error(`internal: ${who}: tiles per block must be a positive multiple of 4`);
}
