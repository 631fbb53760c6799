/**
 * Direct filter gradient for few input channels.
 *
 * dW[tap·c + ci, f] = Σ over examples and output pixels of x(pixel + tap, ci) · dy(pixel, f).
 * K = kh·kw·c ≤ 36 rows, so the im2col GEMM spends its time packing. Here one output row of one
 * image is a tile: for each group of 3 taps × 3 filter vectors (9 accumulators), walk the row's
 * pixels (x by stride, dy by a row), then add the tile's sums into dW. Every dW element is
 * 0 (or its old value) + tile sums in (image, row) order, each a left-to-right sum over the row:
 * the order depends on shapes only.
 * Padded convolutions first copy each image into a zero-bordered buffer in scratch.
 */
import { directConvApplies } from "../../select/rules.js";
import { block, indent, intlit, kernelParams } from "../code.js";
import { roundUp } from "../gemm-core.js";
import type { KernelDef } from "../kernel.js";
import { checkConv2dSpec, CONV_LOCALS, type Conv2dSpec } from "./spec.js";

/** Taps per group and filter vectors per chunk: 9 accumulators + 3 dy vectors + a splat and a product. */
const GF_TAPS = 3, GF_VECS = 3;

/** Filter gradient for c ≤ 4 (directConvApplies): dw[kh,kw,c,f] (=|+=) Σ im2col(x)ᵀ·dy. Params x, dy, dw, scratch, n. */
export function emitConv2dGradFilterDirect(spec: Conv2dSpec): KernelDef {
  checkConv2dSpec(spec, "emitConv2dGradFilterDirect");
  if (!directConvApplies(spec)) throw new Error("internal: emitConv2dGradFilterDirect: needs c ≤ 4 and kh·kw·c ≤ 36");
  const s = spec, F = s.f, c4 = s.c * 4;
  const padded = s.padTop > 0 || s.padLeft > 0 || (s.oh - 1) * s.sh + (s.kh - 1) * s.dh >= s.h || (s.ow - 1) * s.sw + (s.kw - 1) * s.dw >= s.w;
  // Geometry of the image the taps read: x itself, or the zero-bordered copy (hp × wp) in scratch.
  const hp = padded ? Math.max(s.h + s.padTop, (s.oh - 1) * s.sh + (s.kh - 1) * s.dh + 1) : s.h;
  const wp = padded ? Math.max(s.w + s.padLeft, (s.ow - 1) * s.sw + (s.kw - 1) * s.dw + 1) : s.w;
  const taps: { off: number; row: number }[] = [];
  for (let ky = 0; ky < s.kh; ky++) for (let kx = 0; kx < s.kw; kx++) for (let ci = 0; ci < s.c; ci++) {
    taps.push({ off: ((ky * s.dh * wp + kx * s.dw) * s.c + ci) * 4, row: (ky * s.kw + kx) * s.c + ci });
  }
  const nv = Math.ceil(s.f / 4), fullChunks = Math.floor(Math.floor(s.f / 4) / GF_VECS), tailVecs = nv - fullChunks * GF_VECS;

  /** One pass over the tile's pixels for taps g and `V` vectors at filter byte `fo`, then dw += sums. */
  const pass = (g: typeof taps, V: number, fo: string, imm: number, lanes: number[]): string => {
    const lines: string[] = [];
    for (let t = 0; t < g.length; t++) for (let v = 0; v < V; v++) lines.push(`let a${t}${v}_ = f32x4.splat(0);`);
    lines.push(`let xq_: usize = xr_;`, `let dq_: usize = dr_ + <usize>(${fo});`,
      `for (let ox_: i32 = 0; ox_ < ${intlit(s.ow)}; ox_++) {`);
    for (let v = 0; v < V; v++) lines.push(`  const d${v}_ = v128.load(dq_, ${intlit(imm + v * 16)});`);
    g.forEach((t, ti) => {
      lines.push(`  const s${ti}_ = v128.load32_splat(xq_, ${intlit(t.off)});`);
      for (let v = 0; v < V; v++) {
        const acc = `a${ti}${v}_`;
        lines.push(s.relaxed ? `  ${acc} = f32x4.relaxed_madd(s${ti}_, d${v}_, ${acc});` : `  ${acc} = f32x4.add(${acc}, f32x4.mul(s${ti}_, d${v}_));`);
      }
    });
    lines.push(`  xq_ += ${intlit(s.sw * c4)};`, `  dq_ += ${intlit(F * 4)};`, `}`);
    g.forEach((t, ti) => {
      lines.push(`{`, `  const wq_: usize = dw + <usize>(${fo}) + ${intlit(t.row * F * 4)};`);
      for (let v = 0; v < V; v++) {
        const o = imm + v * 16;
        if (lanes[v] === 4) lines.push(`  v128.store(wq_, f32x4.add(v128.load(wq_, ${intlit(o)}), a${ti}${v}_), ${intlit(o)});`);
        else for (let l = 0; l < lanes[v]!; l++) lines.push(`  store<f32>(wq_, load<f32>(wq_, ${intlit(o + l * 4)}) + f32x4.extract_lane(a${ti}${v}_, ${l}), ${intlit(o + l * 4)});`);
      }
      lines.push(`}`);
    });
    return block("{", lines);
  };

  const groups: (typeof taps)[] = [];
  for (let i = 0; i < taps.length; i += GF_TAPS) groups.push(taps.slice(i, i + GF_TAPS));
  const perRow: string[] = [];
  if (fullChunks > 0) {
    const body = groups.map((g) => pass(g, GF_VECS, "fc_", 0, new Array(GF_VECS).fill(4))).join("\n");
    perRow.push(block(`for (let fc_: i32 = 0; fc_ < ${intlit(fullChunks * GF_VECS * 16)}; fc_ += ${intlit(GF_VECS * 16)}) {`, body));
  }
  if (tailVecs > 0) {
    const base = fullChunks * GF_VECS * 16;
    const lanes = Array.from({ length: tailVecs }, (_, v) => Math.min(4, s.f - (fullChunks * GF_VECS + v) * 4));
    perRow.push(...groups.map((g) => pass(g, tailVecs, "0", base, lanes)));
  }

  const K = taps.length;
  const zeroDw = s.accumulate ? [] : [
    `for (let k_: i32 = 0; k_ < ${intlit(K)}; k_++) {`,
    `  const z_: usize = dw + <usize>(k_ * ${intlit(F * 4)});`,
    ...Array.from({ length: Math.floor(s.f / 4) }, (_, v) => `  v128.store(z_, i32x4.splat(0), ${intlit(v * 16)});`),
    ...Array.from({ length: s.f % 4 }, (_, l) => `  store<f32>(z_, 0, ${intlit((Math.floor(s.f / 4) * 4 + l) * 4)});`),
    `}`,
  ];
  const xImg = s.h * s.w * c4, padBytes = roundUp(hp * wp * c4 + 16, 64);
  const image = padded ? [
    // Zero-bordered copy: zero the whole buffer, then copy x's rows at (padTop, padLeft).
    `memory.fill(scratch, 0, ${intlit(hp * wp * c4)});`,
    `for (let iy_: i32 = 0; iy_ < ${intlit(s.h)}; iy_++) {`,
    `  memory.copy(scratch + <usize>(((iy_ + ${intlit(s.padTop)}) * ${intlit(wp)} + ${intlit(s.padLeft)}) * ${intlit(c4)}), xb_ + <usize>(iy_ * ${intlit(s.w * c4)}), ${intlit(s.w * c4)});`,
    `}`,
    `const xi_: usize = scratch;`,
  ] : [`const xi_: usize = xb_;`];
  const body = [
    ...zeroDw,
    `for (let b_: i32 = 0; b_ < n; b_++) {`,
    `  const xb_: usize = x + <usize>b_ * ${intlit(xImg)};`,
    ...image.map((l) => "  " + l),
    `  for (let oy_: i32 = 0; oy_ < ${intlit(s.oh)}; oy_++) {`,
    `    const xr_: usize = xi_ + <usize>(oy_ * ${intlit(s.sh * wp * c4)});`,
    `    const dr_: usize = dy + <usize>((b_ * ${intlit(s.oh * s.ow)} + oy_ * ${intlit(s.ow)}) * ${intlit(F * 4)});`,
    indent(perRow, 2),
    `  }`,
    `}`,
  ].join("\n");
  return {
    key: `conv2d_grad_filter_direct:${JSON.stringify(spec)}`,
    label: `conv2d grad-filter direct ${s.kh}x${s.kw} ${s.h}x${s.w}x${s.c}->${s.oh}x${s.ow}x${s.f}`,
    params: kernelParams(CONV_LOCALS, ["x", "dy", "dw", "scratch"], "n"),
    body,
    needs: [],
    scratchBytes: padded ? padBytes : 64,
  };
}
