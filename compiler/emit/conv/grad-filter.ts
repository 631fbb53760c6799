/** Convolution filter gradient as the blocked GEMM: dW = im2col(x)ᵀ·dy, im2col(x)ᵀ packed tile by tile. */
import { intlit, kernelParams } from "../code.js";
import { gemmBody, gemmPrologue, packedABytes, packedBFloats, roundUp, TRANSPOSE4, type GemmPlan } from "../gemm-core.js";
import type { KernelDef } from "../kernel.js";
import { KC_MAX } from "../matmul.js";
import { pixel, rowsExpr, run } from "./im2col.js";
import { checkConv2dSpec, CONV_LOCALS, type Conv2dSpec } from "./spec.js";

/**
 * Packs 4 pixels at a time (c % 4 == 0): per tap, 4×4 blocks (pixels × channels) go through a
 * SIMD transpose into 4 channel rows. Out-of-image pixels read the zero run at zb_ instead.
 */
function packIm2colT4(s: Conv2dSpec, rowStride: number): string {
  const R = rowStride * 4, P = [0, 1, 2, 3];
  const block = (ci: string, imm: number) => [
    ...P.map((i) => `const x${i}_ = v128.load(s${i}_ + ${ci} * 4, ${intlit(imm * 4)});`),
    ...TRANSPOSE4,
    ...P.map((j) => `v128.store(dst_ + <usize>(${ci} * ${intlit(R)}), y${j}_, ${intlit((imm + j) * R)});`),
  ];
  const chans = s.c <= 16
    ? Array.from({ length: s.c / 4 }, (_, g) => ["{", ...block("0", g * 4).map((l) => "  " + l), "}"]).flat()
    : [`for (let ci_: usize = 0; ci_ < ${intlit(s.c)}; ci_ += 4) {`, ...block("ci_", 0).map((l) => "  " + l), `}`];
  return [
    `for (; q_ + 4 <= kc_; q_ += 4) {`,
    ...P.map((i) => pixel(s, `pc_ + q_ + ${i}`, "x", String(i)).replace(/^/gm, "  ")),
    `  let dst_ = sa_ + <usize>(q_ * 4);`,
    `  for (let t_ = tlo_; t_ < thi_; t_++) {`,
    `    const ky_ = t_ / ${intlit(s.kw)};`,
    `    const kx_ = t_ - ky_ * ${intlit(s.kw)};`,
    ...P.flatMap((i) => [
      `      const iy${i}_ = iy0${i}_ + ky_ * ${intlit(s.dh)};`,
      `      const ix${i}_ = ix0${i}_ + kx_ * ${intlit(s.dw)};`,
      `      const s${i}_: usize = <u32>iy${i}_ < ${intlit(s.h)} && <u32>ix${i}_ < ${intlit(s.w)} ? xb${i}_ + <usize>((iy${i}_ * ${intlit(s.w)} + ix${i}_) * ${intlit(s.c * 4)}) : zb_;`,
    ]),
    ...chans.map((l) => "      " + l),
    `      dst_ += ${intlit(s.c * R)};`,
    `  }`,
    `}`,
  ].join("\n");
}

/** Packs im2col(x)ᵀ (rows = tap·c + channel for the tile's taps; cols = pixels pc_..) into sa_. */
function packIm2colT(s: Conv2dSpec, rowStride: number): string {
  const R = rowStride * 4, K = s.kh * s.kw * s.c;
  const chans = s.c <= 16
    ? Array.from({ length: s.c }, (_, ci) => `store<f32>(dst_, load<f32>(src_, ${intlit(ci * 4)}), ${intlit(ci * R)});`).join("\n")
    : `for (let ci_ = 0; ci_ < ${intlit(s.c)}; ci_++) store<f32>(dst_ + <usize>(ci_ * ${intlit(R)}), load<f32>(src_ + <usize>(ci_ * 4)));`;
  const zeros = s.c <= 16
    ? Array.from({ length: s.c }, (_, ci) => `store<f32>(dst_, 0, ${intlit(ci * R)});`).join("\n")
    : `for (let ci_ = 0; ci_ < ${intlit(s.c)}; ci_++) store<f32>(dst_ + <usize>(ci_ * ${intlit(R)}), 0);`;
  return [
    // This tile's rows are taps [tlo_, thi_) × all channels.
    `const tlo_ = ic_ / ${intlit(s.c)};`,
    `const thi_ = tlo_ + mc_ / ${intlit(s.c)};`,
    `let q_ = 0;`,
    ...(s.c % 4 === 0 ? [packIm2colT4(s, rowStride)] : []),
    `for (; q_ < kc_; q_++) {`,
    pixel(s, "pc_ + q_", "x").replace(/^/gm, "  "),
    `  let dst_ = sa_ + <usize>(q_ * 4);`,
    `  for (let t_ = tlo_; t_ < thi_; t_++) {`,
    `    const ky_ = t_ / ${intlit(s.kw)};`,
    `    const iy_ = iy0_ + ky_ * ${intlit(s.dh)};`,
    `    const ix_ = ix0_ + (t_ - ky_ * ${intlit(s.kw)}) * ${intlit(s.dw)};`,
    `    if (<u32>iy_ < ${intlit(s.h)} && <u32>ix_ < ${intlit(s.w)}) {`,
    `      const src_ = xb_ + <usize>((iy_ * ${intlit(s.w)} + ix_) * ${intlit(s.c * 4)});`,
    chans.replace(/^/gm, "      "),
    `    } else {`,
    zeros.replace(/^/gm, "      "),
    `    }`,
    `    dst_ += ${intlit(s.c * R)};`,
    `  }`,
    `}`,
  ].join("\n");
}

/** Filter gradient: dw[kh,kw,c,f] (=|+=) im2col(x)ᵀ·dy over the batch. Params x, dy, dw, scratch, n. */
export function emitConv2dGradFilter(spec: Conv2dSpec): KernelDef {
  checkConv2dSpec(spec, "emitConv2dGradFilter");
  const taps = spec.kh * spec.kw, K = taps * spec.c;
  // A tiles hold whole taps (≤ 512 rows unless one tap is more); the pixel block keeps a tile
  // near 256 KB (L2) — shorter blocks would re-read and re-write dW too often.
  const mc = Math.min(taps, Math.max(1, Math.floor(512 / spec.c))) * spec.c;
  const kc = Math.min(KC_MAX, Math.max(64, Math.floor(65536 / mc / 4) * 4));
  const plan: GemmPlan = {
    m: intlit(K), k: rowsExpr(spec), n: spec.f, kc, single: false, mc,
    packA: packIm2colT(spec, kc),
    b: { ptr: "dy", ld: spec.f, trans: false }, c: { ptr: "dw", ld: spec.f },
    alpha: 1, accumulate: !!spec.accumulate, activation: "linear", relaxed: !!spec.relaxed,
  };
  const bBytes = roundUp(packedBFloats(plan) * 4, 64), aBytes = roundUp(packedABytes(plan.mc, plan), 64);
  return {
    key: `conv2d_grad_filter:${JSON.stringify(spec)}`,
    label: `conv2d grad-filter ${spec.kh}x${spec.kw} ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}`,
    params: kernelParams(CONV_LOCALS, ["x", "dy", "dw", "scratch"], "n"),
    body: [
      `const zb_: usize = scratch + ${intlit(bBytes + aBytes)};`,
      run("zero", "zb_", "", spec.c),
      gemmPrologue(plan, `scratch + ${intlit(bBytes)}`, "scratch"), gemmBody(plan),
    ].join("\n"),
    needs: [],
    scratchBytes: bBytes + aBytes + roundUp(spec.c * 4, 64),
  };
}
