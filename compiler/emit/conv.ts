/**
 * Emitters: 2-D convolution (NHWC, filters [kh,kw,c,f]) forward, input gradient and filter
 * gradient, all as the blocked GEMM of gemm-core.ts over small im2col tiles built in scratch:
 * forward y = im2col(x)·W, grad-filter dW = im2col(x)ᵀ·dy, grad-input dcol = dy·Wᵀ then col2im.
 * Padding is explicit (padTop/padLeft; bottom/right implied by oh/ow) and reads as zeros.
 */
import type { ActivationName } from "../graph-types.js";
import { activationNeeds } from "./activation.js";
import { intlit } from "./code.js";
import { gemmBody, gemmPrologue, packedABytes, packedBFloats, roundUp, TRANSPOSE4, type GemmPlan } from "./gemm-core.js";
import type { KernelDef, KernelParam } from "./kernel.js";
import { KC_MAX, MC, packAPlain } from "./matmul.js";

export interface Conv2dSpec {
  h: number; w: number; c: number; f: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
  padTop: number; padLeft: number; oh: number; ow: number;
  bias?: boolean; activation?: ActivationName; relaxed?: boolean; accumulate?: boolean;
  /**
   * Grad-filter only: the row stride of dy and dw when this kernel computes a slice of `f`
   * filters out of `ldf` (threaded builds split the filters; the caller offsets dy and dw).
   */
  ldf?: number;
}

export function checkConv2dSpec(s: Conv2dSpec, who: string): void {
  for (const key of ["h", "w", "c", "f", "kh", "kw", "sh", "sw", "dh", "dw", "oh", "ow"] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 1) throw new Error(`internal: ${who}: ${key} must be a positive integer, got ${s[key]}`);
  }
  for (const key of ["padTop", "padLeft"] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 0) throw new Error(`internal: ${who}: ${key} must be a non-negative integer, got ${s[key]}`);
  }
}

const usize = (name: string): KernelParam => ({ name, type: "usize" });
const rowsExpr = (s: Conv2dSpec) => `(n * ${intlit(s.oh * s.ow)})`;

/** Locals for output pixel `p`: its image's input base xb_ and the window origin iy0_, ix0_ (names get `sfx`). */
function pixel(s: Conv2dSpec, p: string, x: string, sfx = ""): string {
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
function run(op: "copy" | "zero" | "add", dst: string, src: string, count: number): string {
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

/** Forward: y[n,oh,ow,f] (=|+=) act(im2col(x)·w + bias). Params x, w, y, [bias], scratch, n. */
export function emitConv2d(spec: Conv2dSpec): KernelDef {
  checkConv2dSpec(spec, "emitConv2d");
  const taps = spec.kh * spec.kw, K = taps * spec.c, act = spec.activation ?? "linear";
  // K blocks hold whole taps so the im2col packer copies contiguous channel runs.
  const blocks = Math.max(1, Math.ceil(K / KC_MAX));
  const kc = Math.ceil(taps / blocks) * spec.c;
  const plan: GemmPlan = {
    m: rowsExpr(spec), k: intlit(K), n: spec.f, kc, single: kc >= K, mc: MC,
    packA: packIm2col(spec, roundUp(kc, 4), kc >= K),
    b: { ptr: "w", ld: spec.f, trans: false }, c: { ptr: "y", ld: spec.f },
    alpha: 1, accumulate: !!spec.accumulate, bias: spec.bias ? "bias" : undefined, activation: act, relaxed: !!spec.relaxed,
  };
  const bBytes = roundUp(packedBFloats(plan) * 4, 64);
  return {
    key: `conv2d:${JSON.stringify({ ...spec, activation: act })}`,
    label: `conv2d ${spec.kh}x${spec.kw} ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}${act !== "linear" ? " " + act : ""}`,
    params: [usize("x"), usize("w"), usize("y"), ...(spec.bias ? [usize("bias")] : []), usize("scratch"), { name: "n", type: "i32" }],
    body: [gemmPrologue(plan, `scratch + ${intlit(bBytes)}`, "scratch"), gemmBody(plan)].join("\n"),
    needs: activationNeeds(act),
    scratchBytes: bBytes + packedABytes(MC, plan),
  };
}

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
    b: { ptr: "dy", ld: spec.ldf ?? spec.f, trans: false }, c: { ptr: "dw", ld: spec.ldf ?? spec.f },
    alpha: 1, accumulate: !!spec.accumulate, activation: "linear", relaxed: !!spec.relaxed,
  };
  const bBytes = roundUp(packedBFloats(plan) * 4, 64), aBytes = roundUp(packedABytes(plan.mc, plan), 64);
  return {
    key: `conv2d_grad_filter:${JSON.stringify(spec)}`,
    label: `conv2d grad-filter ${spec.kh}x${spec.kw} ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}`,
    params: [usize("x"), usize("dy"), usize("dw"), usize("scratch"), { name: "n", type: "i32" }],
    body: [
      `const zb_: usize = scratch + ${intlit(bBytes + aBytes)};`,
      run("zero", "zb_", "", spec.c),
      gemmPrologue(plan, `scratch + ${intlit(bBytes)}`, "scratch"), gemmBody(plan),
    ].join("\n"),
    needs: [],
    scratchBytes: bBytes + aBytes + roundUp(spec.c * 4, 64),
  };
}

/** Adds the finished dcol tile (rows = pixels ic_.., cols = tap·c + channel) into dx. */
function col2im(s: Conv2dSpec): string {
  const K = s.kh * s.kw * s.c, c4 = s.c * 4;
  return [
    `for (let r_ = 0; r_ < mc_; r_++) {`,
    pixel(s, "ic_ + r_", "dx").replace(/^/gm, "  "),
    `  let src_ = ct_ + <usize>(r_ * ${intlit(K * 4)});`,
    `  for (let ky_ = 0; ky_ < ${intlit(s.kh)}; ky_++) {`,
    `    const iy_ = iy0_ + ky_ * ${intlit(s.dh)};`,
    `    for (let kx_ = 0; kx_ < ${intlit(s.kw)}; kx_++) {`,
    `      const ix_ = ix0_ + kx_ * ${intlit(s.dw)};`,
    `      if (<u32>iy_ < ${intlit(s.h)} && <u32>ix_ < ${intlit(s.w)}) {`,
    `        const dst_ = xb_ + <usize>((iy_ * ${intlit(s.w)} + ix_) * ${intlit(c4)});`,
    run("add", "dst_", "src_", s.c).replace(/^/gm, "        "),
    `      }`,
    `      src_ += ${intlit(c4)};`,
    `    }`,
    `  }`,
    `}`,
  ].join("\n");
}

/** Input gradient: dx[n,h,w,c] (=|+=) col2im(dy·wᵀ), one MC-pixel tile at a time. Params dy, w, dx, scratch, n. */
export function emitConv2dGradInput(spec: Conv2dSpec): KernelDef {
  checkConv2dSpec(spec, "emitConv2dGradInput");
  const K = spec.kh * spec.kw * spec.c, kc = roundUp(spec.f, 4);
  const plan: GemmPlan = {
    m: rowsExpr(spec), k: intlit(spec.f), n: K, kc, single: true, mc: MC,
    packA: packAPlain("dy", spec.f, kc),
    b: { ptr: "w", ld: spec.f, trans: true }, c: { ptr: "ct_", ld: K, tile: true },
    alpha: 1, accumulate: false, activation: "linear", relaxed: !!spec.relaxed,
    afterTile: col2im(spec),
  };
  const bBytes = roundUp(packedBFloats(plan) * 4, 64), aBytes = roundUp(packedABytes(MC, plan), 64);
  const total = spec.h * spec.w * spec.c;
  const zero = spec.accumulate ? [] : [
    `const tot_ = n * ${intlit(total)};`,
    `let z_ = 0;`,
    `for (; z_ + 4 <= tot_; z_ += 4) v128.store(dx + <usize>(z_ * 4), i32x4.splat(0));`,
    `for (; z_ < tot_; z_++) store<f32>(dx + <usize>(z_ * 4), 0);`,
  ];
  return {
    key: `conv2d_grad_input:${JSON.stringify(spec)}`,
    label: `conv2d grad-input ${spec.kh}x${spec.kw} ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}`,
    params: [usize("dy"), usize("w"), usize("dx"), usize("scratch"), { name: "n", type: "i32" }],
    body: [...zero, gemmPrologue(plan, `scratch + ${intlit(bBytes)}`, "scratch"),
      `const ct_: usize = scratch + ${intlit(bBytes + aBytes)};`, gemmBody(plan)].join("\n"),
    needs: [],
    scratchBytes: bBytes + aBytes + MC * K * 4,
  };
}
