/** Winograd F(2×2, 3×3) or F(4×4, 3×3) filter gradient (see below): dW accumulated over the batch's tiles by α² GEMMs. */
import { intlit, kernelParams } from "../code.js";
import { checkConv2dSpec, type Conv2dSpec } from "../conv/spec.js";
import { microKernel, roundUp, tileShape } from "../gemm-core.js";
import type { KernelDef } from "../kernel.js";
import { winogradApplies, type WinogradTile } from "../../select/rules.js";
import { copyBorderPatch, inputTransform } from "./input.js";
import { checkTile, decodeTile, overPlanesAndPanels, skewed, stagedIn, staging, tiling, WINOGRAD_LOCALS, type Tiling } from "./layout.js";
import { at, checkProgram, SCALAR, transform2d, VEC, type Lanes, type Transform } from "./transforms.js";

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
 *
 * F(4×4, 3×3) (m = 4) is the same with 4×4 dy tiles, 6×6 input patches and 36 GEMMs: Y_t =
 * A·dy_t·Aᵀ and dW = Gᵀ·M·G with F(4×4)'s A (= Aᵀᵀ, 6×4) and G (6×3) unscaled (A4, G4T). It does
 * 2.25 products per (c, f) and output pixel where F(2×2) does 4.
 */
const AH: Transform = { coef: [[1, 0], [0.5, 0.5], [0.5, -0.5], [0, 1]] };
const GHT: Transform = { coef: [[1, 1, 1, 0], [0, 1, -1, 0], [0, 1, 1, -1]] };
/** F(4×4)'s A = (Aᵀ)ᵀ, 6×4: x0, x0±x1+x2±x3, x0±2x1+4x2±8x3, x3 (two shared sums per pair). */
const A4: Transform = {
  coef: [[1, 0, 0, 0], [1, 1, 1, 1], [1, -1, 1, -1], [1, 2, 4, 8], [1, -2, 4, -8], [0, 0, 0, 1]],
  program: (x, L, tmp) => {
    const p = tmp(L.add(x[0], x[2])), q = tmp(L.add(x[1], x[3]));
    const a = tmp(L.add(x[0], L.scale(x[2], 4))), b = tmp(L.scale(L.add(x[1], L.scale(x[3], 4)), 2));
    return [x[0], L.add(p, q), L.sub(p, q), L.add(a, b), L.sub(a, b), x[3]];
  },
};
/** F(4×4)'s Gᵀ, 3×6 (the transpose of transforms.ts's G4). */
const G4T: Transform = {
  coef: [[1 / 4, -1 / 6, -1 / 6, 1 / 24, 1 / 24, 0], [0, -1 / 6, 1 / 6, 1 / 12, -1 / 12, 0], [0, -1 / 6, -1 / 6, 1 / 6, 1 / 6, 1]],
  program: (g, L, tmp) => {
    const s12 = tmp(L.add(g[1], g[2])), d12 = tmp(L.sub(g[2], g[1])), s34 = tmp(L.add(g[3], g[4])), d34 = tmp(L.sub(g[3], g[4]));
    return [
      L.add(L.sub(L.scale(g[0], 1 / 4), L.scale(s12, 1 / 6)), L.scale(s34, 1 / 24)),
      L.add(L.scale(d12, 1 / 6), L.scale(d34, 1 / 12)),
      L.add(L.scale(L.sub(s34, s12), 1 / 6), g[5]),
    ];
  },
};
checkProgram(A4);
checkProgram(G4T);
/** The dy transform and the filter output transform of each tile size (exported for the transforms test). */
export const GF_TRANSFORMS: Record<WinogradTile, { A: Transform; GT: Transform }> = { 2: { A: AH, GT: GHT }, 4: { A: A4, GT: G4T } };

/**
 * Tiles per block of the filter gradient (K of its GEMMs). 32, 64 and 128 measured within ±10% of
 * each other on the shapes at winogradGradFilterPays (plain and relaxed), 32 ahead more often.
 */
export const WINOGRAD_GF_TILES = 32;
/**
 * m = 4: tiles per block. 36 is one block per filter-gradient chunk of 4 examples of the seed CNN's
 * conv2 (9 tiles an image): 1.35 ms per 32 examples against 1.46 (16), 1.42 (32), 1.37 (40).
 */
export const WINOGRAD4_GF_TILES = 36;

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
  vOff: number; yOff: number; mOff: number; pOff: number; qOff: number; sOff: number; bytes: number;
}

function gfLayout(s: Conv2dSpec, relaxed: boolean, T: number, m: WinogradTile): GfLayout {
  const tile = tileShape(relaxed), nr = tile.nr;
  // fewer micro-kernel rows than MR when c is smaller: conv1 (c = 1) would compute 3 rows of 4 for nothing
  const mr = s.c >= tile.mr ? tile.mr : s.c === 1 ? 1 : 2;
  const g = tiling(s, m, T, true), P = g.planes;
  const full = Math.floor(s.f / nr), tw = roundUp(s.f % nr, 4), fm = full * nr + tw, rows = roundUp(s.c, mr);
  const yPlane = skewed(T * fm * 4), mPlane = skewed(rows * fm * 4);
  const vOff = 0, yOff = vOff + P * g.vPlane, mOff = yOff + P * yPlane, pOff = mOff + P * mPlane;
  const qOff = pOff + roundUp(P * s.c * 4, 64), sOff = qOff + roundUp(m * m * s.f * 4, 64);
  const bytes = sOff + (stagedIn(m) ? P * 16 : 0);
  return { ...g, relaxed, T, mr, nr, full, tw, fm, rows, yPlane, mPlane, vOff, yOff, mOff, pOff, qOff, sOff, bytes };
}

/**
 * Zeroes what the GEMMs read but no transform writes (V channels past C, Y tail columns past F),
 * so the padding lanes compute on zeros rather than on whatever the scratch held.
 */
function gfZeroPadding(o: GfLayout): string[] {
  const { s, T, full, nr, tw, fm, kcp, planes } = o, lines: string[] = [];
  if (kcp > s.c) {
    lines.push(`for (let xi_ = 0; xi_ < ${intlit(planes)}; xi_++) {`,
      `  const vz_ = v_ + <usize>(xi_ * ${intlit(o.vPlane)});`,
      `  for (let t_ = 0; t_ < ${intlit(T)}; t_++) {`,
      ...Array.from({ length: kcp - s.c }, (_, i) => `    store<f32>(vz_ + <usize>(t_ * ${intlit(kcp * 4)}), 0, ${intlit((s.c + i) * 4)});`),
      `  }`,
      `}`);
  }
  if (fm > s.f) {
    lines.push(`for (let xi_ = 0; xi_ < ${intlit(planes)}; xi_++) {`,
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
 * dy is read in place unless the tile sticks out of OH×OW: then its m×m pixels
 * are copied, zeros for the missing ones, into a patch at qp_ with the same pixel stride.
 */
function gfDyTransform(o: GfLayout): string {
  const { s, T, nr, full, tw, m, alpha } = o, F = s.f, px = F * 4, rowsIdx = Array.from({ length: m }, (_, i) => i);
  const group = (L: Lanes, f: string, dst: string) => [
    ...rowsIdx.map((i) => `const d${i}_ = r${i}_ + <usize>(${f} * 4);`),
    `const yd_ = ${dst};`,
    ...transform2d(GF_TRANSFORMS[m].A, m, (i, j) => L.load(...at(`d${i}_`, 0, j, px)), L, "y",
      (k, l, e) => [L.store(...at("yd_", l * o.yPlane, k, alpha * o.yPlane), e)], staging(o, true)),
  ];
  const lines = [
    `for (let t_ = 0; t_ < tb_; t_++) {`,
    `  const g_ = t0_ + t_;`,
    ...decodeTile(o).map((l) => "  " + l),
    `  let src_: usize = dy + <usize>(((img_ * ${intlit(s.oh)} + ty_ * ${intlit(m)}) * ${intlit(s.ow)} + tx_ * ${intlit(m)}) * ${intlit(px)});`,
    `  let rs_: usize = ${intlit(s.ow * px)};`,
  ];
  if (s.oh % m || s.ow % m) {
    lines.push(
      `  if (ty_ * ${intlit(m)} + ${intlit(m - 1)} >= ${intlit(s.oh)} || tx_ * ${intlit(m)} + ${intlit(m - 1)} >= ${intlit(s.ow)}) {`,
      ...copyBorderPatch({ n: m, image: "dy", h: s.oh, w: s.ow, y0: `ty_ * ${intlit(m)}`, x0: `tx_ * ${intlit(m)}`, patch: "qp_", px, channels: F }).map((l) => "    " + l),
      `  }`);
  }
  lines.push(...rowsIdx.map((i) => `  const r${i}_ = src_${i ? ` + rs_ * ${intlit(i)}` : ""};`));
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
  ], T, { nr, full, tw, planes: o.planes }, sweep)].join("\n");
}

/** dw[ky,kx,c,f] (=|+=) (Ĝᵀ·M[c,f]·Ĝ)[ky,kx], vectorized over filters. */
function gfFilterOutput(o: GfLayout): string {
  const { s, fm, m, alpha } = o, C = s.c, F = s.f, f4 = Math.floor(F / 4) * 4;
  const group = (L: Lanes, f: string) => [
    `const ms_ = mc_ + <usize>(${f} * 4);`,
    `const wd_ = wc_ + <usize>(${f} * 4);`,
    ...transform2d(GF_TRANSFORMS[m].GT, alpha, (i, j) => L.load(...at("ms_", i * alpha * o.mPlane, j, o.mPlane)), L, "g", (k, l, e) => {
      const [wk, off] = at("wd_", l * C * F * 4, k, 3 * C * F * 4);
      return [L.store(wk, off, s.accumulate ? L.add(L.load(wk, off), e) : e)];
    }, staging(o, true)),
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
 * Filter gradient: dw[3,3,c,f] (=|+=) Σ over the batch of x patches ⊗ dy, by Winograd F(m×m,3×3).
 * Params x, dy, dw, scratch, n (as emitConv2dGradFilter). `tiles`: tiles per block (the GEMMs' K).
 */
export function emitConv2dGradFilterWinograd(spec: Conv2dSpec, m: WinogradTile = 2, tiles = m === 2 ? WINOGRAD_GF_TILES : WINOGRAD4_GF_TILES): KernelDef {
  checkConv2dSpec(spec, "emitConv2dGradFilterWinograd");
  if (!winogradApplies(spec)) throw new Error("internal: emitConv2dGradFilterWinograd: needs a 3x3 kernel, stride 1, dilation 1");
  checkTile(m, tiles, "emitConv2dGradFilterWinograd");
  const o = gfLayout(spec, !!spec.relaxed, tiles, m), T = o.T;
  const zeroM = [
    `for (let k_ = 0; k_ < ${intlit(o.planes * o.mPlane)}; k_ += 16) v128.store(m_ + <usize>k_, f32x4.splat(0));`,
  ];
  const body = [
    `const v_: usize = scratch + ${intlit(o.vOff)};`,
    `const y_: usize = scratch + ${intlit(o.yOff)};`,
    `const m_: usize = scratch + ${intlit(o.mOff)};`,
    `const pp_: usize = scratch + ${intlit(o.pOff)};`,
    `const qp_: usize = scratch + ${intlit(o.qOff)};`,
    ...(stagedIn(m) ? [`const ${stagedIn(m)}: usize = scratch + ${intlit(o.sOff)};`] : []),
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
    key: `conv2d_grad_filter_winograd:${JSON.stringify({ ...spec, m, tiles })}`,
    label: `conv2d grad-filter winograd ${m === 4 ? "F4 " : ""}3x3 ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}`,
    params: kernelParams(WINOGRAD_LOCALS, ["x", "dy", "dw", "scratch"], "n"),
    body,
    needs: [],
    scratchBytes: o.bytes,
  };
}
