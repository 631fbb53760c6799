/**
 * Emitters: 2-D convolution (NHWC, filters [kh,kw,c,f]) forward, input gradient and filter
 * gradient, all as the blocked GEMM of gemm-core.ts over small im2col tiles built in scratch:
 * forward y = im2col(x)·W, grad-filter dW = im2col(x)ᵀ·dy, grad-input dcol = dy·Wᵀ then col2im.
 * Padding is explicit (padTop/padLeft; bottom/right implied by oh/ow) and reads as zeros.
 */
import type { ActivationName } from "../frontend/graph-types.js";
import { activationNeeds, activationSimd } from "./activation.js";
import { indent, intlit, kernelParams, locals } from "./code.js";
import { gemmBody, gemmPrologue, packedABytes, packedBFloats, roundUp, TRANSPOSE4, type GemmPlan } from "./gemm-core.js";
import type { KernelDef } from "./kernel.js";
import { KC_MAX, MC, packAPlain } from "./matmul.js";

export interface Conv2dSpec {
  h: number; w: number; c: number; f: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
  padTop: number; padLeft: number; oh: number; ow: number;
  bias?: boolean; activation?: ActivationName; relaxed?: boolean; accumulate?: boolean;
}

export function checkConv2dSpec(s: Conv2dSpec, who: string): void {
  for (const key of ["h", "w", "c", "f", "kh", "kw", "sh", "sw", "dh", "dw", "oh", "ow"] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 1) throw new Error(`internal: ${who}: ${key} must be a positive integer, got ${s[key]}`);
  }
  for (const key of ["padTop", "padLeft"] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 0) throw new Error(`internal: ${who}: ${key} must be a non-negative integer, got ${s[key]}`);
  }
}

/** Locals of the convolution kernels end with "_" (as the GEMM's they share). */
export const CONV_LOCALS = locals("emitConv2d", "suffixed");
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
    params: kernelParams(CONV_LOCALS, ["x", "w", "y", ...(spec.bias ? ["bias"] : []), "scratch"], "n"),
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
    params: kernelParams(CONV_LOCALS, ["dy", "w", "dx", "scratch"], "n"),
    body: [...zero, gemmPrologue(plan, `scratch + ${intlit(bBytes)}`, "scratch"),
      `const ct_: usize = scratch + ${intlit(bBytes + aBytes)};`, gemmBody(plan)].join("\n"),
    needs: [],
    scratchBytes: bBytes + aBytes + MC * K * 4,
  };
}

// ───────────────────────── Direct convolution for few input channels ─────────────────────────
//
// With c ≤ 4 the im2col GEMM has K = kh·kw·c ≤ 36: packing dominates and the product is short.
// Here each block of P output pixels keeps P×V f32x4 accumulators (V output vectors of 4 filters)
// and adds, tap by tap in (ky, kx, ci) order, splat(x)·w-row — the GEMM's k order, so the sums
// (and with the same epilogue, the results) are bit-identical to emitConv2d. Filters are walked in
// chunks of V vectors; padded filter counts use a zero-padded copy of w and bias in scratch.
// Blocks whose windows lie in the image advance one x pointer per pixel by per-tap deltas; border
// blocks test each tap and read 0 outside (as the im2col packer does).

/** Largest kh·kw·c the direct kernels take (3×3 with c ≤ 4, 5×5 with c = 1: the measured shapes). */
export const DIRECT_MAX_TAPS = 36;

/** Pooling fused after the convolution (fuse.ts; not in train_step): max over tiling ph×pw windows of act(conv). */
export interface FusedPool { ph: number; pw: number; poh: number; pow: number }

export interface DirectConvSpec extends Conv2dSpec {
  /** Pixels per block and vectors per chunk (tuning; defaults from directBlocking). */
  pixels?: number; vectors?: number;
  pool?: FusedPool;
}

/** Can the direct kernel compute this convolution? */
export function directConvApplies(s: Conv2dSpec): boolean {
  return s.c <= 4 && s.kh * s.kw * s.c <= DIRECT_MAX_TAPS;
}

/**
 * P pixels × V vectors per block: by default 2 × 4 for f ≥ 16 (8 accumulators + 4 w vectors + a
 * splat and a product in V8's 16 xmm registers; measured best of 1…6 × 2…8 on conv1), more pixels
 * when f is small. Fused pooling uses one window row (pw pixels) per block.
 */
export function directBlocking(s: Conv2dSpec, pixels?: number): { p: number; v: number } {
  const v = Math.min(Math.ceil(s.f / 4), 4);
  if (pixels !== undefined) return { p: pixels, v: Math.max(1, Math.min(v, Math.floor(8 / pixels))) };
  return { p: v >= 4 ? 2 : v === 3 ? 3 : 4, v };
}

/** Output rows/columns whose whole window lies inside the image: [lo, hi). */
function interior(n: number, k: number, d: number, st: number, pad: number, out: number): [number, number] {
  const lo = Math.min(out, Math.ceil(pad / st));
  const hi = Math.max(lo, Math.min(out, Math.floor((n - 1 - (k - 1) * d + pad) / st) + 1));
  return [lo, hi];
}

interface DirectCtx {
  s: DirectConvSpec; fp: number; taps: { ky: number; kx: number; ci: number }[];
  act: ActivationName; relaxed: boolean;
  /** Vectors per chunk for this block size. */
  v: number;
}

/** Pixel i of a block: its output row/column (oy{i}_, ox{i}_) from the image-relative pixel index expression. */
function blockPixel(c: DirectCtx, i: number, q: string): string[] {
  const s = c.s;
  return [
    `const q${i}_: i32 = ${q};`,
    `const oy${i}_: i32 = q${i}_ / ${intlit(s.ow)};`,
    `const ox${i}_: i32 = q${i}_ - oy${i}_ * ${intlit(s.ow)};`,
    `const iy${i}_: i32 = oy${i}_ * ${intlit(s.sh)} - ${intlit(s.padTop)};`,
    `const ix${i}_: i32 = ox${i}_ * ${intlit(s.sw)} - ${intlit(s.padLeft)};`,
  ];
}

/**
 * Splat of x at the loop's current tap for pixel i: interior pixels read at xq{i}_ (already moved
 * by the tap's delta); border pixels test the tap's position (row dy_, column dx_, channel byte co_) and read 0 outside.
 */
function tapSplat(c: DirectCtx, i: number, border: boolean): string {
  const s = c.s;
  if (!border) return `v128.load32_splat(xq${i}_)`;
  const iy = `iy${i}_ + dy_`, ix = `ix${i}_ + dx_`;
  return `f32x4.splat(<u32>(${iy}) < ${intlit(s.h)} && <u32>(${ix}) < ${intlit(s.w)} ? load<f32>(xb_ + (<usize>((${iy}) * ${intlit(s.w)} + ${ix}) * ${intlit(s.c * 4)}) + co_) : <f32>0)`;
}

/**
 * One chunk: V vectors of filters starting at byte `fo` of a packed w row (`fo` is an immediate
 * or the loop's fc_), for the block's P pixels; then `store` turns accumulators into outputs.
 * NOTE: one tap per loop iteration on purpose (as in the GEMM micro-kernel): with the taps
 * unrolled, V8 hoisted every tap's loads to the top and spilled most accumulators (~2× slower).
 * The tap table (x byte delta, row, column, channel byte) sits at tab_ in scratch.
 */
function directChunk(c: DirectCtx, P: number, V: number, fo: string, immBase: number, border: boolean, store: string): string {
  const lines: string[] = [`let wk_: usize = wp_ + <usize>(${fo});`];
  for (let i = 0; i < P; i++) for (let v = 0; v < V; v++) lines.push(`let a${i}${v}_ = f32x4.splat(0);`);
  // Interior pixels walk x by the table's per-tap deltas: loop-carried pointers stay in registers
  // (with absolute offsets V8 recomputed each pixel's base, divisions included, in every iteration).
  if (!border) for (let i = 0; i < P; i++) lines.push(`let xq${i}_ = xp${i}_;`);
  lines.push(`for (let t_: usize = tab_; t_ < tab_ + ${intlit(c.taps.length * 16)}; t_ += 16) {`);
  if (border) lines.push(`  const dy_: i32 = load<i32>(t_, 4);`, `  const dx_: i32 = load<i32>(t_, 8);`, `  const co_: usize = <usize>load<i32>(t_, 12);`);
  else lines.push(`  const d_: usize = <usize>load<i32>(t_);`, ...Array.from({ length: P }, (_, i) => `  xq${i}_ += d_;`));
  for (let v = 0; v < V; v++) lines.push(`  const w${v}_ = v128.load(wk_, ${intlit(immBase + v * 16)});`);
  for (let i = 0; i < P; i++) {
    lines.push(`  const s${i}_ = ${tapSplat(c, i, border)};`);
    for (let v = 0; v < V; v++) {
      const acc = `a${i}${v}_`;
      lines.push(c.relaxed ? `  ${acc} = f32x4.relaxed_madd(s${i}_, w${v}_, ${acc});` : `  ${acc} = f32x4.add(${acc}, f32x4.mul(s${i}_, w${v}_));`);
    }
  }
  lines.push(`  wk_ += ${intlit(c.fp * 4)};`, `}`);
  lines.push(store);
  return lines.join("\n");
}

/**
 * act(acc + bias) for accumulator a{i}{v}; the bias vector is at bq_ + `bo`. relu is written as
 * pmax(x + 0, 0): the same values as max(x, 0) (x + 0 turns −0 into +0, pmax keeps a NaN x) in 2
 * instructions instead of the ~8 that V8 emits for f32x4.max's NaN and ±0 rules.
 */
function epilogue(c: DirectCtx, i: number, v: number, bo: number): string {
  let e = `a${i}${v}_`;
  if (c.s.bias) e = `f32x4.add(${e}, v128.load(bq_, ${intlit(bo)}))`;
  if (c.act === "relu") return `f32x4.pmax(f32x4.add(${e}, f32x4.splat(0)), f32x4.splat(0))`;
  return activationSimd(c.act, `(${e})`);
}

/**
 * The pool fold max(m, e). After relu every value is +0…+Inf or NaN, and for those unsigned
 * integer order is float order with every NaN above (1 instruction); otherwise f32x4.max.
 */
function poolMax(c: DirectCtx, m: string, e: string): string {
  return c.act === "relu" ? `i32x4.max_u(${m}, ${e})` : `f32x4.max(${m}, ${e})`;
}

/** Stores lanes [0, lanes) of v128 expression `e` at ptr + imm (whole vector when lanes = 4). */
function storeLanes(ptr: string, imm: number, e: string, lanes: number): string {
  if (lanes === 4) return `v128.store(${ptr}, ${e}, ${intlit(imm)});`;
  const out = [`{`, `  const e_ = ${e};`];
  for (let l = 0; l < lanes; l++) out.push(`  store<f32>(${ptr}, f32x4.extract_lane(e_, ${l}), ${intlit(imm + l * 4)});`);
  out.push(`}`);
  return out.join("\n");
}

/** Plain store: each pixel's V vectors to its y row (yp{i}_) at the chunk's byte offset. */
function storePixels(c: DirectCtx, P: number, V: number, fo: string, immBase: number, lanes: number[]): string {
  const lines = [`const bq_: usize = bp_ + <usize>(${fo});`];
  for (let i = 0; i < P; i++) {
    lines.push(`{`, `  const yq_: usize = yp${i}_ + <usize>(${fo});`);
    for (let v = 0; v < V; v++) {
      lines.push(storeLanes("yq_", immBase + v * 16, epilogue(c, i, v, immBase + v * 16), lanes[v]!).replace(/^/gm, "  "));
    }
    lines.push(`}`);
  }
  return lines.join("\n");
}

/** Loads lanes [0, lanes) at ptr + imm as a v128 (other lanes 0), without reading past them. */
function loadLanes(ptr: string, imm: number, lanes: number): string {
  if (lanes === 4) return `v128.load(${ptr}, ${intlit(imm)})`;
  let e = "f32x4.splat(0)";
  for (let l = 0; l < lanes; l++) e = `f32x4.replace_lane(${e}, ${l}, load<f32>(${ptr}, ${intlit(imm + l * 4)}))`;
  return e;
}

/**
 * Pooled store for one window row (the block's pixels, left to right): folds max(m, act(p_i)) —
 * the pool kernel's order, so the fused result equals conv then pool bit for bit. Row r_ = 0
 * starts the fold; later rows continue from the partial max stored at yp_ (the pooled pixel).
 */
function storePooled(c: DirectCtx, P: number, V: number, fo: string, immBase: number, lanes: number[]): string {
  const lines = [`const bq_: usize = bp_ + <usize>(${fo});`, `const yq_: usize = yp_ + <usize>(${fo});`];
  for (let v = 0; v < V; v++) {
    const bo = immBase + v * 16;
    lines.push(`{`, `  let m_ = ${epilogue(c, 0, v, bo)};`, `  if (r_ > 0) m_ = ${poolMax(c, loadLanes("yq_", bo, lanes[v]!), "m_")};`);
    for (let i = 1; i < P; i++) lines.push(`  m_ = ${poolMax(c, "m_", epilogue(c, i, v, bo))};`);
    lines.push(storeLanes("yq_", bo, "m_", lanes[v]!).replace(/^/gm, "  "), `}`);
  }
  return lines.join("\n");
}

/**
 * All filter chunks of one block: a loop over the full V-vector chunks (whole vectors only), then
 * one tail chunk holding the remaining vectors (including a partial last vector when f % 4 ≠ 0).
 */
function blockChunks(c: DirectCtx, P: number, V: number, border: boolean, pooled: boolean): string {
  const f = c.s.f, full = Math.floor(Math.floor(f / 4) / V), tailVecs = Math.ceil(f / 4) - full * V;
  const store = pooled ? storePooled : storePixels;
  const out: string[] = [];
  if (full > 0) {
    const lanes = new Array<number>(V).fill(4);
    const body = directChunk(c, P, V, "fc_", 0, border, store(c, P, V, "fc_", 0, lanes));
    out.push(full === 1 ? `{\nconst fc_: i32 = 0;\n${body}\n}` : `for (let fc_: i32 = 0; fc_ < ${intlit(full * V * 16)}; fc_ += ${intlit(V * 16)}) {\n${body.replace(/^/gm, "  ")}\n}`);
  }
  if (tailVecs > 0) {
    const base = full * V * 16;
    const lanes = Array.from({ length: tailVecs }, (_, v) => Math.min(4, f - (full * V + v) * 4));
    out.push(`{\n${directChunk(c, P, tailVecs, "0", base, border, store(c, P, tailVecs, "0", base, lanes))}\n}`);
  }
  return out.join("\n");
}

/** Pointers of the block's pixels: xp{i}_ (window origin in x, interior blocks) and, unpooled, yp{i}_. */
function pixelPointers(c: DirectCtx, P: number, border: boolean, pooled: boolean): string[] {
  const s = c.s, lines: string[] = [];
  for (let i = 0; i < P; i++) {
    if (!border) lines.push(`const xp${i}_: usize = xb_ + (<usize>((iy${i}_ * ${intlit(s.w)} + ix${i}_) * ${intlit(s.c)}) << 2);`);
    if (!pooled) lines.push(`const yp${i}_: usize = yb_ + (<usize>(q${i}_ * ${intlit(s.f)}) << 2);`);
  }
  return lines;
}

/** `if (all pixels interior) {fast} else {border}`, or just the fast code when no window touches padding. */
function interiorSplit(c: DirectCtx, P: number, pooled: boolean): string {
  const s = c.s;
  const [y0, y1] = interior(s.h, s.kh, s.dh, s.sh, s.padTop, s.oh);
  const [x0, x1] = interior(s.w, s.kw, s.dw, s.sw, s.padLeft, s.ow);
  const fast = [...pixelPointers(c, P, false, pooled), blockChunks(c, P, c.v, false, pooled)].join("\n");
  if (y0 === 0 && y1 === s.oh && x0 === 0 && x1 === s.ow) return fast;
  const conds = Array.from({ length: P }, (_, i) =>
    `oy${i}_ >= ${intlit(y0)} && oy${i}_ < ${intlit(y1)} && ox${i}_ >= ${intlit(x0)} && ox${i}_ < ${intlit(x1)}`);
  const border = [...pixelPointers(c, P, true, pooled), blockChunks(c, P, c.v, true, pooled)].join("\n");
  return `if (${conds.join(" && ")}) {\n${indent(fast)}\n} else {\n${indent(border)}\n}`;
}

/** Byte offset of a tap's x element from the window origin. */
const xOffset = (s: Conv2dSpec, t: DirectCtx["taps"][number]): number => ((t.ky * s.dh * s.w + t.kx * s.dw) * s.c + t.ci) * 4;

/**
 * Scratch: the tap table at tab_ (per tap, (ky, kx, ci) order: x byte offset from the previous
 * tap's, row offset, column offset, channel byte), then — when f % 4 ≠ 0 — w and bias rows
 * padded to fp floats (so every vector load stays in bounds).
 */
function directScratch(s: DirectConvSpec, taps: DirectCtx["taps"], fp: number): { code: string; bytes: number } {
  const K = taps.length, tabBytes = roundUp(K * 16, 64);
  const table = taps.flatMap((t, k) => {
    const dy = t.ky * s.dh, dx = t.kx * s.dw;
    const prev = k === 0 ? 0 : xOffset(s, taps[k - 1]!);
    return [xOffset(s, t) - prev, dy, dx, t.ci * 4].map((v, j) => `store<i32>(tab_, ${intlit(v)}, ${intlit(k * 16 + j * 4)});`);
  });
  const lines = [`const tab_: usize = scratch;`, ...table];
  if (fp === s.f) {
    lines.push(`const wp_: usize = w;`, `const bp_: usize = ${s.bias ? "bias" : "0"};`);
    return { code: lines.join("\n"), bytes: tabBytes };
  }
  const wBytes = roundUp(K * fp * 4, 64);
  const row = (dst: string, src: string) => [
    ...Array.from({ length: s.f }, (_, j) => `store<f32>(${dst}, load<f32>(${src}, ${intlit(j * 4)}), ${intlit(j * 4)});`),
    ...Array.from({ length: fp - s.f }, (_, j) => `store<f32>(${dst}, 0, ${intlit((s.f + j) * 4)});`),
  ].join("\n");
  lines.push(
    `const wp_: usize = scratch + ${intlit(tabBytes)};`,
    `const bp_: usize = scratch + ${intlit(tabBytes + wBytes)};`,
    `for (let k_: i32 = 0; k_ < ${intlit(K)}; k_++) {`,
    `  const d_: usize = wp_ + <usize>(k_ * ${intlit(fp * 4)});`,
    `  const s_: usize = w + <usize>(k_ * ${intlit(s.f * 4)});`,
    row("d_", "s_").replace(/^/gm, "  "),
    `}`,
    ...(s.bias ? [row("bp_", "bias")] : []),
  );
  return { code: lines.join("\n"), bytes: tabBytes + wBytes + roundUp(fp * 4, 64) };
}

/**
 * Direct forward convolution for c ≤ 4 (see the section comment): y[n,oh,ow,f] = act(conv + bias),
 * or with `pool` the max-pooled y[n,poh,pow,f]. Params x, w, y, [bias], scratch, n.
 */
export function emitConv2dDirect(spec: DirectConvSpec): KernelDef {
  checkConv2dSpec(spec, "emitConv2dDirect");
  if (!directConvApplies(spec) || spec.accumulate) throw new Error("internal: emitConv2dDirect: needs c ≤ 4, kh·kw·c ≤ 36 and no accumulate");
  const act = spec.activation ?? "linear", pool = spec.pool;
  const fp = roundUp(spec.f, 4);
  const taps: DirectCtx["taps"] = [];
  for (let ky = 0; ky < spec.kh; ky++) for (let kx = 0; kx < spec.kw; kx++) for (let ci = 0; ci < spec.c; ci++) taps.push({ ky, kx, ci });
  const ctx = (v: number): DirectCtx => ({ s: spec, fp, taps, act, relaxed: !!spec.relaxed, v });
  const weights = directScratch(spec, taps, fp);
  const xImg = spec.h * spec.w * spec.c * 4;
  let loops: string;
  if (pool) {
    if (pool.poh * pool.ph > spec.oh || pool.pow * pool.pw > spec.ow) throw new Error("internal: emitConv2dDirect: pooling windows past the conv output");
    const P = pool.pw, c = ctx(spec.vectors ?? directBlocking(spec, P).v);
    loops = [
      `for (let py_: i32 = 0; py_ < ${intlit(pool.poh)}; py_++) {`,
      `  for (let px_: i32 = 0; px_ < ${intlit(pool.pow)}; px_++) {`,
      `    const yp_: usize = yb_ + (<usize>((py_ * ${intlit(pool.pow)} + px_) * ${intlit(spec.f)}) << 2);`,
      ...Array.from({ length: pool.ph }, (_, r) => [
        `    {`,
        `      const r_: i32 = ${intlit(r)};`,
        ...Array.from({ length: P }, (_, i) => blockPixel(c, i, `(py_ * ${intlit(pool.ph)} + r_) * ${intlit(spec.ow)} + px_ * ${intlit(pool.pw)} + ${intlit(i)}`)).flat().map((l) => "      " + l),
        indent(interiorSplit(c, P, true), 3),
        `    }`]).flat(),
      `  }`,
      `}`,
    ].join("\n");
  } else {
    const { p: P0, v } = directBlocking(spec, spec.pixels);
    const ohw = spec.oh * spec.ow, P = Math.min(P0, ohw), R = ohw % P, c = ctx(spec.vectors ?? v);
    // The last R pixels (fewer than a block) form one smaller block with the same chunks.
    const block = (Pb: number, from: string) =>
      [...Array.from({ length: Pb }, (_, i) => blockPixel(c, i, `${from} + ${intlit(i)}`)).flat(), interiorSplit(c, Pb, false)].join("\n");
    loops = [
      `for (let p_: i32 = 0; p_ < ${intlit(ohw - R)}; p_ += ${intlit(P)}) {`,
      indent(block(P, "p_")),
      `}`,
      ...(R > 0 ? [`{`, indent(block(R, intlit(ohw - R))), `}`] : []),
    ].join("\n");
  }
  const yImg = (pool ? pool.poh * pool.pow : spec.oh * spec.ow) * spec.f * 4;
  const body = [
    weights.code,
    `for (let b_: i32 = 0; b_ < n; b_++) {`,
    `  const xb_: usize = x + <usize>b_ * ${intlit(xImg)};`,
    `  const yb_: usize = y + <usize>b_ * ${intlit(yImg)};`,
    indent(loops),
    `}`,
  ].join("\n");
  const { pixels, vectors, ...keySpec } = spec;
  const tag = pool ? ` maxpool ${pool.ph}x${pool.pw}` : "";
  return {
    key: `conv2d_direct:${JSON.stringify({ ...keySpec, activation: act, pixels, vectors })}`,
    label: `conv2d direct ${spec.kh}x${spec.kw} ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f}${act !== "linear" ? " " + act : ""}${tag}`,
    params: kernelParams(CONV_LOCALS, ["x", "w", "y", ...(spec.bias ? ["bias"] : []), "scratch"], "n"),
    body,
    needs: activationNeeds(act),
    scratchBytes: weights.bytes,
  };
}

// ──────────────────────── Direct filter gradient for few input channels ────────────────────────
//
// dW[tap·c + ci, f] = Σ over examples and output pixels of x(pixel + tap, ci) · dy(pixel, f).
// K = kh·kw·c ≤ 36 rows, so the im2col GEMM spends its time packing. Here one output row of one
// image is a tile: for each group of 3 taps × 3 filter vectors (9 accumulators), walk the row's
// pixels (x by stride, dy by a row), then add the tile's sums into dW. Every dW element is
// 0 (or its old value) + tile sums in (image, row) order, each a left-to-right sum over the row:
// the order depends on shapes only.
// Padded convolutions first copy each image into a zero-bordered buffer in scratch.

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
    return `{\n${indent(lines.join("\n"))}\n}`;
  };

  const groups: (typeof taps)[] = [];
  for (let i = 0; i < taps.length; i += GF_TAPS) groups.push(taps.slice(i, i + GF_TAPS));
  const perRow: string[] = [];
  if (fullChunks > 0) {
    const body = groups.map((g) => pass(g, GF_VECS, "fc_", 0, new Array(GF_VECS).fill(4))).join("\n");
    perRow.push(`for (let fc_: i32 = 0; fc_ < ${intlit(fullChunks * GF_VECS * 16)}; fc_ += ${intlit(GF_VECS * 16)}) {\n${indent(body)}\n}`);
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
    indent(perRow.join("\n"), 2),
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
