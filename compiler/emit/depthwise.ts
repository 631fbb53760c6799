/**
 * Emitters: depthwise 2-D convolution (NHWC; filters [kh, kw, c, m], output channel o = c·m + j)
 * forward, input gradient and filter gradient. Each input channel meets only its own m filters,
 * so there is no reduction over channels to block for a GEMM: the kernels walk the output pixels
 * and, per in-bounds tap, run one SIMD sweep over the channels (the innermost, contiguous axis):
 *
 *   forward      y[p][o]   += x[tap(p)][o / m] · w[tap][o]       (y zeroed per pixel)
 *   grad-filter  dw[tap][o] += x[tap(p)][o / m] · dy[p][o]       (dw zeroed once; pixels in order)
 *   grad-input   dx[tap(p)][c] += Σ_j dy[p][c·m + j] · w[tap][c·m + j]   (gathered per dx pixel)
 *
 * With m = 1 the forward keeps its sums in registers instead (forwardInRegisters: 16 channels at a
 * time over the pixel's in-bounds tap range; measured 1.74 → 1.16 ms on 32×32×64 3×3 same at batch
 * 16, asc -O3, on the loaded shared machine), the same sums in the same order; the input
 * gradient gathers per dx pixel in the order the scatter above would add (1.89 → 1.37 ms there).
 * Every output element is one chain of f32 additions in a fixed order (taps in ky, kx order; the
 * pixels of the batch in order for dw), the same in the vector lanes and the scalar tail, so a
 * result never depends on which lane or which thread's share computed it. Padding is explicit
 * (padTop/padLeft; bottom/right implied by oh/ow); taps outside the image are skipped.
 */
import { block, intlit, kernelParams, lines, locals, type Src } from "./code.js";
import type { KernelDef } from "./kernel.js";
import { SCALAR, SIMD, type Ops } from "./ops.js";

export interface DepthwiseSpec {
  h: number; w: number; c: number;
  /** depth_multiplier: filters per input channel (c·m output channels). */
  m: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
  padTop: number; padLeft: number; oh: number; ow: number;
  accumulate?: boolean;
}

/** Locals end with "_" (the convolution emitters' convention). */
export const DEPTHWISE_LOCALS = locals("emitDepthwise", "suffixed");

export function checkDepthwiseSpec(s: DepthwiseSpec, who: string): void {
  for (const key of ["h", "w", "c", "m", "kh", "kw", "sh", "sw", "dh", "dw", "oh", "ow"] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 1) throw new Error(`internal: ${who}: ${key} must be a positive integer, got ${s[key]}`);
  }
  for (const key of ["padTop", "padLeft"] as const) {
    if (!Number.isInteger(s[key]) || s[key] < 0) throw new Error(`internal: ${who}: ${key} must be a non-negative integer, got ${s[key]}`);
  }
}

const outChannels = (s: DepthwiseSpec): number => s.c * s.m;

/** Zeroes `floats` floats from byte address `dst` (an expression). */
function zero(dst: string, floats: string): string {
  return `memory.fill(${dst}, 0, <usize>(${floats}) << 2);`;
}

/**
 * dst[o] += a[o / m] · b[o] for o < c·m (dst, a, b: byte addresses of usize locals). With m = 1
 * every operand is contiguous: vectors of 4 channels, then a scalar tail. Otherwise per input
 * channel: its value splat across the m outputs, vectors of 4 of them, then a scalar tail.
 */
function mulAddChannels(s: DepthwiseSpec, dst: string, a: string, b: string): Src {
  const step = (o: Ops, at: string, av: string) => o.store(`${dst} + ${at}`, o.add(o.load(`${dst} + ${at}`), o.mul(av, o.load(`${b} + ${at}`))));
  if (s.m === 1) {
    const c4 = Math.floor(s.c / 4) * 4;
    return [
      block(`for (let o_ = 0; o_ < ${intlit(c4)}; o_ += 4) {`, [`const at_ = <usize>o_ << 2;`, step(SIMD, "at_", SIMD.load(`${a} + at_`))]),
      block(`for (let o_ = ${intlit(c4)}; o_ < ${intlit(s.c)}; o_++) {`, [`const at_ = <usize>o_ << 2;`, step(SCALAR, "at_", SCALAR.load(`${a} + at_`))]),
    ];
  }
  const m4 = Math.floor(s.m / 4) * 4;
  return block(`for (let c_ = 0; c_ < ${intlit(s.c)}; c_++) {`, [
    `const xs_ = load<f32>(${a} + (<usize>c_ << 2));`,
    `const xv_ = f32x4.splat(xs_);`,
    `const ob_ = c_ * ${intlit(s.m)};`,
    block(`for (let j_ = 0; j_ < ${intlit(m4)}; j_ += 4) {`, [`const at_ = <usize>(ob_ + j_) << 2;`, step(SIMD, "at_", "xv_")]),
    block(`for (let j_ = ${intlit(m4)}; j_ < ${intlit(s.m)}; j_++) {`, [`const at_ = <usize>(ob_ + j_) << 2;`, step(SCALAR, "at_", "xs_")]),
  ]);
}

/**
 * Every output pixel p of the batch (n images) in order, with its window origin and, per
 * in-bounds tap, `xp_` (x or dx at the tap's input pixel, base `xBase`) and `wp_` (the tap's
 * filters in `wBase`) declared before `tap`; `pre` runs per pixel.
 */
function pixelsAndTaps(s: DepthwiseSpec, xBase: string, wBase: string, pre: Src, tap: Src): string {
  const ohw = s.oh * s.ow, o4 = outChannels(s) * 4;
  return block(`for (let p_ = 0; p_ < n * ${intlit(ohw)}; p_++) {`, [
    `const img_ = p_ / ${intlit(ohw)};`,
    `const rem_ = p_ - img_ * ${intlit(ohw)};`,
    `const oy_ = rem_ / ${intlit(s.ow)};`,
    `const iy0_ = oy_ * ${intlit(s.sh)} - ${intlit(s.padTop)};`,
    `const ix0_ = (rem_ - oy_ * ${intlit(s.ow)}) * ${intlit(s.sw)} - ${intlit(s.padLeft)};`,
    `const xb_ = ${xBase} + <usize>(img_ * ${intlit(s.h * s.w * s.c * 4)});`,
    `const pix_ = <usize>p_ * ${intlit(o4)};`,
    pre,
    block(`for (let ky_ = 0; ky_ < ${intlit(s.kh)}; ky_++) {`, [
      `const iy_ = iy0_ + ky_ * ${intlit(s.dh)};`,
      `if (<u32>iy_ >= ${intlit(s.h)}) continue;`,
      block(`for (let kx_ = 0; kx_ < ${intlit(s.kw)}; kx_++) {`, [
        `const ix_ = ix0_ + kx_ * ${intlit(s.dw)};`,
        `if (<u32>ix_ >= ${intlit(s.w)}) continue;`,
        `const xp_ = xb_ + <usize>((iy_ * ${intlit(s.w)} + ix_) * ${intlit(s.c * 4)});`,
        `const wp_ = ${wBase} + <usize>((ky_ * ${intlit(s.kw)} + kx_) * ${intlit(o4)});`,
        tap,
      ]),
    ]),
  ]);
}

const geometry = (s: DepthwiseSpec) => `${s.kh}x${s.kw} ${s.h}x${s.w}x${s.c}->${s.oh}x${s.ow}x${outChannels(s)}`;

/**
 * One block of `vectors` channel groups (of `o.width` lanes) at channel `ch` (an i32 expression):
 * accumulators from 0, the in-bounds taps added in ky, kx order, then stored (or added to y).
 */
function registerBlock(s: DepthwiseSpec, o: Ops, vectors: number, ch: string, accumulate: boolean): Src {
  const acc = Array.from({ length: vectors }, (_, v) => `a${v}_`);
  const lane = (v: number) => v * o.width * 4;
  const c4 = s.c * 4;
  return [
    `const ob_ = <usize>(${ch}) << 2;`,
    ...acc.map((a) => `let ${a}${o === SIMD ? "" : ": f32"} = ${o === SIMD ? "f32x4.splat(0)" : "0"};`),
    block(`for (let ky_ = kyLo_; ky_ < kyHi_; ky_++) {`, [
      `const xr_ = xb_ + <usize>((iy0_ + ky_ * ${intlit(s.dh)}) * ${intlit(s.w * c4)}) + ob_;`,
      `const wr_ = w + <usize>(ky_ * ${intlit(s.kw * c4)}) + ob_;`,
      block(`for (let kx_ = kxLo_; kx_ < kxHi_; kx_++) {`, [
        `const xp_ = xr_ + <usize>((ix0_ + kx_ * ${intlit(s.dw)}) * ${intlit(c4)});`,
        `const wp_ = wr_ + <usize>(kx_ * ${intlit(c4)});`,
        ...acc.map((a, v) => `${a} = ${o.add(a, o.mul(o.load("xp_", lane(v) || undefined), o.load("wp_", lane(v) || undefined)))};`),
      ]),
    ]),
    ...acc.map((a, v) => o.store("yp_ + ob_", accumulate ? o.add(o.load("yp_ + ob_", lane(v) || undefined), a) : a, lane(v) || undefined)),
  ];
}

/** First and end tap along one axis whose input row lies inside [0, size): declares `lo`/`hi`. */
function tapRange(origin: string, k: number, d: number, size: number, lo: string, hi: string): string[] {
  return [
    `const ${lo} = ${origin} < 0 ? (${intlit(d - 1)} - ${origin}) / ${intlit(d)} : 0;`,
    `const ${hi} = min<i32>(${intlit(k)}, (${intlit(size - 1)} - ${origin}) / ${intlit(d)} + 1);`,
  ];
}

/**
 * Forward with m = 1, accumulators in registers: per output pixel the in-bounds taps are a range
 * in ky and one in kx, worked out once; then per block of 4 channel vectors (16 channels) the taps
 * are summed from 0 in ky, kx order and stored once; then single vectors, then a scalar tail.
 * Every output is the same sum, in the same order, as the per-tap sweep of other multipliers.
 */
function forwardInRegisters(s: DepthwiseSpec): string {
  const ohw = s.oh * s.ow, c16 = Math.floor(s.c / 16) * 16, c4 = Math.floor(s.c / 4) * 4, acc = !!s.accumulate;
  return block(`for (let p_ = 0; p_ < n * ${intlit(ohw)}; p_++) {`, [
    `const img_ = p_ / ${intlit(ohw)};`,
    `const rem_ = p_ - img_ * ${intlit(ohw)};`,
    `const oy_ = rem_ / ${intlit(s.ow)};`,
    `const iy0_ = oy_ * ${intlit(s.sh)} - ${intlit(s.padTop)};`,
    `const ix0_ = (rem_ - oy_ * ${intlit(s.ow)}) * ${intlit(s.sw)} - ${intlit(s.padLeft)};`,
    `const xb_ = x + <usize>(img_ * ${intlit(s.h * s.w * s.c * 4)});`,
    `const yp_ = y + <usize>p_ * ${intlit(s.c * 4)};`,
    ...tapRange("iy0_", s.kh, s.dh, s.h, "kyLo_", "kyHi_"),
    ...tapRange("ix0_", s.kw, s.dw, s.w, "kxLo_", "kxHi_"),
    block(`for (let o_ = 0; o_ < ${intlit(c16)}; o_ += 16) {`, registerBlock(s, SIMD, 4, "o_", acc)),
    block(`for (let o_ = ${intlit(c16)}; o_ < ${intlit(c4)}; o_ += 4) {`, registerBlock(s, SIMD, 1, "o_", acc)),
    block(`for (let o_ = ${intlit(c4)}; o_ < ${intlit(s.c)}; o_++) {`, registerBlock(s, SCALAR, 1, "o_", acc)),
  ]);
}

/** Forward: y[n,oh,ow,c·m] (=|+=) depthwise(x, w). Params x, w, y, n. */
export function emitDepthwiseConv2d(spec: DepthwiseSpec): KernelDef {
  checkDepthwiseSpec(spec, "emitDepthwiseConv2d");
  const O = outChannels(spec);
  const pre = [`const yp_ = y + pix_;`, ...(spec.accumulate ? [] : [zero("yp_", intlit(O))])];
  return {
    key: `depthwise_conv2d:${JSON.stringify(spec)}`,
    label: `depthwise_conv2d ${geometry(spec)}`,
    params: kernelParams(DEPTHWISE_LOCALS, ["x", "w", "y"], "n"),
    body: spec.m === 1 ? forwardInRegisters(spec) : pixelsAndTaps(spec, "x", "w", pre, mulAddChannels(spec, "yp_", "xp_", "wp_")),
    needs: [],
  };
}

/**
 * The gradient sum of one block at channel `ch` of dx pixel (iy_, ix_): from 0, the output pixels
 * that read it in increasing order (ky, kx descending), each adding dy·w (m = 1: `vectors` groups
 * of `o.width` channels) or, for m > 1, its Σ_j dy[c·m + j]·w[c·m + j] taken from 0 in j order.
 */
function gatherBlock(s: DepthwiseSpec, o: Ops, vectors: number, ch: string, accumulate: boolean): Src {
  const O4 = s.c * s.m * 4;
  const acc = Array.from({ length: vectors }, (_, v) => `a${v}_`);
  const lane = (v: number) => (v * o.width * 4) || undefined;
  const axis = (t: string, k: number, d: number, stride: number, out: number, kName: string, oName: string): string[] => [
    `const s${t}_ = ${t}0_ - ${kName} * ${intlit(d)};`,
    `if (s${t}_ < 0) continue;`,
    ...(stride > 1 ? [`if (s${t}_ % ${intlit(stride)} != 0) continue;`] : []),
    `const ${oName} = s${t}_${stride > 1 ? ` / ${intlit(stride)}` : ""};`,
    `if (${oName} >= ${intlit(out)}) break;`, // later taps (smaller k) reach later outputs only
  ];
  const add = s.m === 1
    ? acc.map((a, v) => `${a} = ${o.add(a, o.mul(o.load("dp_", lane(v)), o.load("wp_", lane(v))))};`)
    : [
      `let sum_: f32 = 0;`,
      block(`for (let j_ = 0; j_ < ${intlit(s.m)}; j_++) {`, [
        `const at_ = <usize>j_ << 2;`,
        `sum_ += load<f32>(dp_ + at_) * load<f32>(wp_ + at_);`,
      ]),
      `a0_ += sum_;`,
    ];
  return [
    `const ob_ = <usize>(${ch} * ${intlit(s.m)}) << 2;`,
    ...acc.map((a) => `let ${a}${o === SIMD ? "" : ": f32"} = ${o === SIMD ? "f32x4.splat(0)" : "0"};`),
    block(`for (let ky_ = ${intlit(s.kh - 1)}; ky_ >= 0; ky_--) {`, [
      ...axis("y", s.kh, s.dh, s.sh, s.oh, "ky_", "oy_"),
      `const dr_ = dyb_ + <usize>(oy_ * ${intlit(s.ow * O4)}) + ob_;`,
      `const wr_ = w + <usize>(ky_ * ${intlit(s.kw * O4)}) + ob_;`,
      block(`for (let kx_ = ${intlit(s.kw - 1)}; kx_ >= 0; kx_--) {`, [
        ...axis("x", s.kw, s.dw, s.sw, s.ow, "kx_", "ox_"),
        `const dp_ = dr_ + <usize>(ox_ * ${intlit(O4)});`,
        `const wp_ = wr_ + <usize>(kx_ * ${intlit(O4)});`,
        ...add,
      ]),
    ]),
    ...acc.map((a, v) => {
      const at = `dxp_ + (<usize>(${ch}) << 2)`;
      return o.store(at, accumulate ? o.add(o.load(at, lane(v)), a) : a, lane(v));
    }),
  ];
}

/**
 * Input gradient: dx[n,h,w,c] (=|+=) Σ over the output pixels whose taps read it. Params dy, w,
 * dx, n. Gathered per dx pixel (each written once, sums in registers): an output pixel reads
 * (iy, ix) with tap ky where oy·sh = iy + padTop − ky·dh, so ky descending visits the output
 * pixels in increasing order, the order in which a scatter over the output pixels would add them.
 * m = 1: 16 channels at a time, then single vectors, then a scalar tail; m > 1: per channel.
 */
export function emitDepthwiseConv2dGradInput(spec: DepthwiseSpec): KernelDef {
  checkDepthwiseSpec(spec, "emitDepthwiseConv2dGradInput");
  const s = spec, hw = s.h * s.w, acc = !!s.accumulate;
  const c16 = s.m === 1 ? Math.floor(s.c / 16) * 16 : 0, c4 = s.m === 1 ? Math.floor(s.c / 4) * 4 : 0;
  const body = block(`for (let q_ = 0; q_ < n * ${intlit(hw)}; q_++) {`, [
    `const img_ = q_ / ${intlit(hw)};`,
    `const rem_ = q_ - img_ * ${intlit(hw)};`,
    `const iy_ = rem_ / ${intlit(s.w)};`,
    `const y0_ = iy_ + ${intlit(s.padTop)};`,
    `const x0_ = rem_ - iy_ * ${intlit(s.w)} + ${intlit(s.padLeft)};`,
    `const dyb_ = dy + <usize>(img_ * ${intlit(s.oh * s.ow * s.c * s.m * 4)});`,
    `const dxp_ = dx + <usize>q_ * ${intlit(s.c * 4)};`,
    s.m === 1 ? block(`for (let c_ = 0; c_ < ${intlit(c16)}; c_ += 16) {`, gatherBlock(s, SIMD, 4, "c_", acc)) : [],
    s.m === 1 ? block(`for (let c_ = ${intlit(c16)}; c_ < ${intlit(c4)}; c_ += 4) {`, gatherBlock(s, SIMD, 1, "c_", acc)) : [],
    block(`for (let c_ = ${intlit(c4)}; c_ < ${intlit(s.c)}; c_++) {`, gatherBlock(s, SCALAR, 1, "c_", acc)),
  ]);
  return {
    key: `depthwise_conv2d_grad_input:${JSON.stringify(spec)}`,
    label: `depthwise_conv2d grad-input ${geometry(spec)}`,
    params: kernelParams(DEPTHWISE_LOCALS, ["dy", "w", "dx"], "n"),
    body,
    needs: [],
  };
}

/**
 * Filter gradient: dw[kh,kw,c,m] (=|+=) Σ over the batch's output pixels, in order. Params x, dy,
 * dw, scratch (unused: the parameters of every filter-gradient kernel, so the per-chunk wrapper of
 * emit/chunks.ts can call it), n.
 */
export function emitDepthwiseConv2dGradFilter(spec: DepthwiseSpec): KernelDef {
  checkDepthwiseSpec(spec, "emitDepthwiseConv2dGradFilter");
  const O = outChannels(spec);
  const body = lines(
    spec.accumulate ? [] : zero("dw", intlit(spec.kh * spec.kw * O)),
    pixelsAndTaps(spec, "x", "dw", `const dyp_ = dy + pix_;`, mulAddChannels(spec, "wp_", "xp_", "dyp_")),
  );
  return {
    key: `depthwise_conv2d_grad_filter:${JSON.stringify(spec)}`,
    label: `depthwise_conv2d grad-filter ${geometry(spec)}`,
    params: kernelParams(DEPTHWISE_LOCALS, ["x", "dy", "dw", "scratch"], "n"),
    body,
    needs: [],
  };
}

