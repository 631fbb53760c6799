/**
 * Convolution forward as the blocked GEMM of gemm-core.ts over small im2col tiles built in scratch:
 * y = im2col(x)·W. Also the pieces the im2col gradients share: output-pixel locals and channel runs.
 */
import { activationNeeds } from "../activation.js";
import { intlit, kernelParams } from "../code.js";
import { gemmBody, gemmPrologue, inPlaceA, packB, packedABytes, packedBFloats, roundUp, singleBlockConsts, tileShape, type GemmPlan } from "../gemm-core.js";
import type { KernelDef } from "../kernel.js";
import { KC_MAX, MC } from "../matmul.js";
import { pointwiseInPlace } from "../../select/rules.js";
import { checkConv2dSpec, CONV_LOCALS, type Conv2dSpec } from "./spec.js";

/** The GEMM's row count: every output pixel of the batch. */
export const rowsExpr = (s: Conv2dSpec) => `(n * ${intlit(s.oh * s.ow)})`;

/** Locals for output pixel `p`: its image's input base xb_ and the window origin iy0_, ix0_ (names get `sfx`). */
export function pixel(s: Conv2dSpec, p: string, x: string, sfx = ""): string {
  const ohw = s.oh * s.ow, v = (name: string) => `${name}${sfx}_`;
  return [
    `const ${v("p")} = ${p};`,
    `const ${v("img")} = ${v("p")} / ${intlit(ohw)};`,
    `const ${v("rem")} = ${v("p")} - ${v("img")} * ${intlit(ohw)};`,
    `const ${v("oy")} = ${v("rem")} / ${intlit(s.ow)};`,
    `const ${v("iy0")} = ${v("oy")} * ${intlit(s.sh)} - ${intlit(s.padTop)};`,
    `const ${v("ix0")} = (${v("rem")} - ${v("oy")} * ${intlit(s.ow)}) * ${intlit(s.sw)} - ${intlit(s.padLeft)};`,
    `const ${v("xb")} = ${x} + <usize>(${v("img")} * ${intlit(s.h * s.w * s.c * 4)});`,
  ].join("\n");
}

/** Copies (`op` "copy"), zeroes ("zero") or adds into dst ("add") `count` floats; dst_/src_ are usize expressions. */
export function run(op: "copy" | "zero" | "add", dst: string, src: string, count: number): string {
  const vec = Math.floor(count / 4) * 4, lines: string[] = [];
  const v = (o: string, imm: number) => {
    const at = imm ? `, ${intlit(imm)}` : "";
    if (op === "copy") return `v128.store(${dst}${o}, v128.load(${src}${o}${at})${at});`;
    if (op === "zero") return `v128.store(${dst}${o}, i32x4.splat(0)${at});`;
    return `v128.store(${dst}${o}, f32x4.add(v128.load(${dst}${o}${at}), v128.load(${src}${o}${at}))${at});`;
  };
  const sc = (imm: number) => {
    if (op === "copy") return `store<f32>(${dst}, load<f32>(${src}, ${intlit(imm)}), ${intlit(imm)});`;
    if (op === "zero") return `store<f32>(${dst}, 0, ${intlit(imm)});`;
    return `store<f32>(${dst}, load<f32>(${dst}, ${intlit(imm)}) + load<f32>(${src}, ${intlit(imm)}), ${intlit(imm)});`;
  };
  if (vec <= 32) for (let i = 0; i < vec; i += 4) lines.push(v("", i * 4));
  else lines.push(`for (let ci_ = 0; ci_ < ${intlit(vec)}; ci_ += 4) ${v(" + <usize>(ci_ * 4)", 0)}`);
  for (let i = vec; i < count; i++) lines.push(sc(i * 4));
  return lines.join("\n");
}

/** Copies one tap's channel run into dst_ (zeros outside the image), then advances dst_. */
function tapCopy(s: Conv2dSpec): string[] {
  const c4 = s.c * 4;
  return [
    `if (<u32>iy_ < ${intlit(s.h)} && <u32>ix_ < ${intlit(s.w)}) {`,
    `  const src_ = xb_ + <usize>((iy_ * ${intlit(s.w)} + ix_) * ${intlit(c4)});`,
    run("copy", "dst_", "src_", s.c).replace(/^/gm, "  "),
    `} else {`,
    run("zero", "dst_", "", s.c).replace(/^/gm, "  "),
    `}`,
    `dst_ += ${intlit(c4)};`,
  ];
}

/**
 * Packs im2col rows (output pixels ic_.., taps pc_/c ..) of x into sa_ (row stride KCP). With one
 * K block the taps are plain ky/kx loops; otherwise the block's tap range is decoded per tap.
 */
function packIm2col(s: Conv2dSpec, rowStride: number, single: boolean): string {
  const taps = single ? [
    `for (let ky_ = 0; ky_ < ${intlit(s.kh)}; ky_++) {`,
    `  const iy_ = iy0_ + ky_ * ${intlit(s.dh)};`,
    `  for (let kx_ = 0; kx_ < ${intlit(s.kw)}; kx_++) {`,
    `    const ix_ = ix0_ + kx_ * ${intlit(s.dw)};`,
    ...tapCopy(s).map((l) => "    " + l),
    `  }`,
    `}`,
  ] : [
    `const t0_ = pc_ / ${intlit(s.c)};`,
    `const t1_ = t0_ + kc_ / ${intlit(s.c)};`,
    `for (let t_ = t0_; t_ < t1_; t_++) {`,
    `  const ky_ = t_ / ${intlit(s.kw)};`,
    `  const iy_ = iy0_ + ky_ * ${intlit(s.dh)};`,
    `  const ix_ = ix0_ + (t_ - ky_ * ${intlit(s.kw)}) * ${intlit(s.dw)};`,
    ...tapCopy(s).map((l) => "  " + l),
    `}`,
  ];
  return [
    `for (let r_ = 0; r_ < mc_; r_++) {`,
    pixel(s, "ic_ + r_", "x").replace(/^/gm, "  "),
    `  let dst_ = sa_ + <usize>(r_ * ${intlit(rowStride * 4)});`,
    ...taps.map((l) => "  " + l),
    `}`,
  ].join("\n");
}

/** The forward's GEMM plan (and the in-place A, where pointwiseInPlace). */
function forwardPlan(spec: Conv2dSpec): { plan: GemmPlan; inPlace: boolean; mr: number } {
  const taps = spec.kh * spec.kw, K = taps * spec.c, act = spec.activation ?? "linear";
  // K blocks hold whole taps so the im2col packer copies contiguous channel runs.
  const blocks = Math.max(1, Math.ceil(K / KC_MAX));
  const kc = Math.ceil(taps / blocks) * spec.c;
  const { mr } = tileShape(!!spec.relaxed);
  // A 1×1 stride-1 unpadded conv's x is [pixels, c] row-major: the GEMM's A as it stands (pointwiseInPlace).
  const inPlace = pointwiseInPlace(spec) ? inPlaceA("x", spec.c, mr, run("copy", "dst_", "src_", spec.c)) : undefined;
  const plan: GemmPlan = {
    m: rowsExpr(spec), k: intlit(K), n: spec.f, kc, single: kc >= K, mc: MC,
    packA: inPlace?.packA ?? packIm2col(spec, roundUp(kc, 4), kc >= K), aInPlace: inPlace?.aInPlace,
    b: { ptr: "w", ld: spec.f, trans: false }, c: { ptr: "y", ld: spec.f },
    alpha: 1, accumulate: !!spec.accumulate, bias: spec.bias ? "bias" : undefined, scale: spec.scale ? "scale" : undefined, residual: spec.residual ? "residual" : undefined, activation: act, relaxed: !!spec.relaxed,
  };
  return { plan, inPlace: !!inPlace, mr };
}

/**
 * Whether a caller may pack the forward's B once (emitConv2dPackB) and call emitConv2d(spec, true)
 * on it many times: one K block, A read in place (the inverted-residual kernel's 1×1 convs).
 */
export function conv2dPrepackable(spec: Conv2dSpec): boolean {
  const { plan, inPlace } = forwardPlan(spec);
  return plan.single && inPlace && !plan.accumulate;
}

/** Bytes of the forward's packed B (what emitConv2dPackB writes), 64-byte aligned. */
export function conv2dPackedBBytes(spec: Conv2dSpec): number {
  return roundUp(packedBFloats(forwardPlan(spec).plan) * 4, 64);
}

/**
 * The forward's B packed as emitConv2d packs it (the folded scale multiplied in): params w,
 * [scale], sb (conv2dPackedBBytes bytes). Only where conv2dPrepackable.
 */
export function emitConv2dPackB(spec: Conv2dSpec): KernelDef {
  checkConv2dSpec(spec, "emitConv2dPackB");
  if (!conv2dPrepackable(spec)) throw new Error("internal: emitConv2dPackB: not a single-block in-place conv");
  const { plan } = forwardPlan(spec);
  return {
    key: `conv2d_pack_b:${JSON.stringify({ ...spec, activation: spec.activation ?? "linear" })}`,
    label: `conv2d pack B ${spec.kh}x${spec.kw}x${spec.c}->${spec.f}${spec.scale ? " scaled" : ""}`,
    params: kernelParams(CONV_LOCALS, ["w", ...(spec.scale ? ["scale"] : []), "sb"]),
    body: [`const sb_: usize = sb;`, singleBlockConsts(plan), packB(plan)].join("\n"),
  };
}

/**
 * Forward: y[n,oh,ow,f] (=|+=) act(im2col(x)·w + bias). Params x, w, y, [bias], [scale], [residual], scratch, n.
 * `packedB` (where conv2dPrepackable): w is B as emitConv2dPackB packed it, the scale in it, so
 * the kernel takes no scale and packs nothing: the same sums as the kernel that packs.
 */
export function emitConv2d(spec: Conv2dSpec, packedB = false): KernelDef {
  checkConv2dSpec(spec, "emitConv2d");
  if (packedB && !conv2dPrepackable(spec)) throw new Error("internal: emitConv2d: B can be packed outside only for a single-block in-place conv");
  const act = spec.activation ?? "linear";
  const { plan: packing, inPlace, mr } = forwardPlan(spec);
  const plan: GemmPlan = packedB ? { ...packing, scale: undefined, bPacked: true } : packing;
  const bBytes = packedB ? 0 : roundUp(packedBFloats(plan) * 4, 64);
  const aBytes = inPlace ? roundUp(mr * spec.c * 4, 64) : packedABytes(MC, plan);
  const scale = spec.scale && !packedB;
  return {
    key: `conv2d${packedB ? "_packed_b" : ""}:${JSON.stringify({ ...spec, activation: act })}`,
    label: `conv2d ${spec.kh}x${spec.kw} ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}${spec.scale ? " scaled" : ""}${spec.residual ? " +residual" : ""}${act !== "linear" ? " " + act : ""}${packedB ? " (B packed)" : ""}`,
    params: kernelParams(CONV_LOCALS, ["x", "w", "y", ...(spec.bias ? ["bias"] : []), ...(scale ? ["scale"] : []), ...(spec.residual ? ["residual"] : []), "scratch"], "n"),
    body: packedB
      ? [gemmPrologue(plan, "scratch", "w"), singleBlockConsts(plan), gemmBody(plan)].join("\n")
      : [gemmPrologue(plan, `scratch + ${intlit(bBytes)}`, "scratch"), gemmBody(plan)].join("\n"),
    needs: activationNeeds(act),
    scratchBytes: bBytes + aBytes,
  };
}
