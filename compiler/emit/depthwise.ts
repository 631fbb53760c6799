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
import type { ActivationName } from "../frontend/graph-types.js";
import { activationNeeds, activationScalar, activationSimd } from "./activation.js";
import { block, indent, intlit, kernelParams, lines, locals, type Src } from "./code.js";
import type { KernelDef } from "./kernel.js";
import { SCALAR, SIMD, type Ops } from "./ops.js";

export interface DepthwiseSpec {
  h: number; w: number; c: number;
  /** depth_multiplier: filters per input channel (c·m output channels). */
  m: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
  padTop: number; padLeft: number; oh: number; ow: number;
  accumulate?: boolean;
  /** Forward epilogue (fused by passes/fuse.ts): a per-output-channel bias, the `bias` parameter. */
  bias?: boolean;
  /** act(sum·scale + bias) with a per-output-channel scale (a folded batch normalization); needs `bias`. */
  scale?: boolean;
  activation?: ActivationName;
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
  if (s.scale && !s.bias) throw new Error(`internal: ${who}: a scale needs a bias`);
  if (s.accumulate && hasEpilogue(s)) throw new Error(`internal: ${who}: an epilogue cannot accumulate`);
}

const hasEpilogue = (s: DepthwiseSpec): boolean => !!s.bias || !!s.scale || (s.activation ?? "linear") !== "linear";

/**
 * The forward's value to store for accumulator `a` of output channels at byte offset `at` from
 * bias/scale; `preloaded`: the scale and bias are in locals sv_ and bv_ (epilogueVectors).
 */
function epilogue(s: DepthwiseSpec, o: Ops, a: string, at: string, preloaded = false): string {
  let e = a;
  if (s.scale) e = o.mul(e, preloaded ? "sv_" : o.load(`scale + ${at}`));
  if (s.bias) e = o.add(e, preloaded ? "bv_" : o.load(`bias + ${at}`));
  const act = s.activation ?? "linear";
  return act === "linear" ? e : o === SIMD ? activationSimd(act, `(${e})`) : activationScalar(act, `(${e})`);
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
    ...acc.map((a, v) => o.store("yp_ + ob_", accumulate ? o.add(o.load("yp_ + ob_", lane(v) || undefined), a) : epilogue(s, o, a, `ob_ + ${lane(v)}`), lane(v) || undefined)),
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
  if (!quadApplies(s)) return eachOutputPixel(s, pixelChannels(s));
  const from = perPixelFromBatch(s);
  if (from === undefined) return forwardRows(s);
  return lines(`if (n >= ${intlit(from)}) {`, indent(eachOutputPixel(s, pixelChannels(s))), `} else {`, indent(forwardRows(s)), `}`);
}

/**
 * Input bytes (n·h·w·c·4) from which the stride-1 forward goes one pixel at a time (16 channels
 * per block) instead of QUAD pixels per channel vector: 2 MB, twice this machine's 1 MB L2.
 */
const PER_PIXEL_FROM_BYTES = 2 << 20;
/** Channel counts (inclusive) for which the input size decides (perPixelFromBatch). */
const PER_PIXEL_CHANNELS = [64, 384] as const;

/**
 * The smallest batch from which the stride-1 forward goes one pixel at a time, or undefined for
 * always QUAD pixels per channel vector. Where the input no longer fits in L2, QUAD pixels per
 * channel vector (18 input columns read side by side, 4 output pixels written) run slower than
 * one pixel's 16 channels at a time for 144–384 channels. Kernel A/B (CPU time, load 10–13,
 * bench/depthwise-kernels.mjs forward-fused, row walk → one pixel): 56×56×144 b1 0.75×, b2 1.24×,
 * b4 1.33–1.61×, b16 1.78×; 28×28×192 b4 0.88–1.59×, b8 1.65×, b16 1.47×; 14×14×384 b32 1.38×;
 * but 14×14×576 b8/b32 0.76×/0.88×, 7×7×960 b8/b32 0.78×, 112×112×32 b4/b16 0.68×/0.72× (whose
 * 128-byte pixels keep the quad's columns contiguous): those keep the quad.
 */
export function perPixelFromBatch(s: DepthwiseSpec): number | undefined {
  if (s.sw !== 1 || s.c < PER_PIXEL_CHANNELS[0] || s.c > PER_PIXEL_CHANNELS[1]) return undefined;
  return Math.max(1, Math.ceil(PER_PIXEL_FROM_BYTES / (s.h * s.w * s.c * 4)));
}

/** The channel blocks of one output pixel (m = 1): 16 channels, single vectors, a scalar tail. */
function pixelChannels(s: DepthwiseSpec): Src {
  const c16 = Math.floor(s.c / 16) * 16, c4 = Math.floor(s.c / 4) * 4, acc = !!s.accumulate;
  return [
    block(`for (let o_ = 0; o_ < ${intlit(c16)}; o_ += 16) {`, registerBlock(s, SIMD, 4, "o_", acc)),
    block(`for (let o_ = ${intlit(c16)}; o_ < ${intlit(c4)}; o_ += 4) {`, registerBlock(s, SIMD, 1, "o_", acc)),
    block(`for (let o_ = ${intlit(c4)}; o_ < ${intlit(s.c)}; o_++) {`, registerBlock(s, SCALAR, 1, "o_", acc)),
  ];
}

/** Output pixels side by side in the forward's interior (stride 1): 4 accumulators over one channel vector. */
const QUAD = 4;

/**
 * m = 1 with at least one channel vector, a kernel row of at most 5 taps, stride 1. At stride 2
 * (kernel A/B as below) it won 1.09–1.19× on 56×56×144, 28×28×192 and 14×14×576 at b1 but lost
 * 0.57–0.69× on 112×112×96 at b2, the input too large to stay in cache between calls.
 */
function quadApplies(s: DepthwiseSpec): boolean {
  return s.m === 1 && s.kw <= 5 && s.c >= 4 && s.sw === 1;
}

/** Most x columns of a quad's tap row held in registers at once (4 accumulators beside them). */
const QUAD_MAX_COLUMNS = 6;

/**
 * Forward, m = 1, stride 1: per output row, the columns whose taps are all inside the image go
 * QUAD at a time — per channel vector, 4 accumulators; per tap row the QUAD + span x columns are
 * loaded once and each tap's weights once, so a tap costs 4 multiply-adds for about 2 loads, where
 * one pixel at a time costs 2 loads per multiply-add. Border columns go one pixel at a time as
 * before. Each output is the same sum in the same order (taps in ky, kx order from 0).
 * Kernel A/B (CPU time, load ~24, bench/depthwise-kernels.mjs), one pixel at a time → this:
 * 112×112×32 b1 1.93×, 56×56×128 b1 1.44×, 56×56×144 b1 1.17×, 28×28×192 b4 1.18×, 14×14×576 b8
 * 1.30–1.48×, 7×7×960 b8 1.30×; but 56×56×144 at b4 0.56–0.69× (not explained; the same shape at
 * b1 wins, so the buffers' placement is suspected). 2 pixels instead of 4: 0.80× and 0.96×.
 */
function forwardRows(s: DepthwiseSpec): string {
  const c4 = s.c * 4, span = (s.kw - 1) * s.dw;
  // interior: ix0 = ox·sw − padLeft ≥ 0 and ix0 + span ≤ w − 1
  const first = Math.ceil(s.padLeft / s.sw), end = Math.min(s.ow, Math.floor((s.w - 1 - span + s.padLeft) / s.sw) + 1);
  const acc = Array.from({ length: QUAD }, (_, q) => `a${q}_`);
  // x column (from ix0) of output q at tap kx; all of a tap row's columns loaded once when few enough,
  // else each tap's QUAD columns just before its multiply-adds
  const col = (q: number, kx: number) => q * s.sw + kx * s.dw;
  const cols = [...new Set(Array.from({ length: s.kw }, (_, kx) => acc.map((_, q) => col(q, kx))).flat())].sort((a, b) => a - b);
  const preload = cols.length <= QUAD_MAX_COLUMNS;
  const xAt = (j: number) => SIMD.load("xr_", j * c4 || undefined);
  const quadVector = [
    `const ob_ = <usize>o_ << 2;`,
    ...acc.map((a) => `let ${a} = f32x4.splat(0);`),
    block(`for (let ky_ = kyLo_; ky_ < kyHi_; ky_++) {`, [
      `const xr_ = xb_ + <usize>((iy0_ + ky_ * ${intlit(s.dh)}) * ${intlit(s.w * c4)}) + <usize>(ix0_ * ${intlit(c4)}) + ob_;`,
      `const wr_ = w + <usize>(ky_ * ${intlit(s.kw * c4)}) + ob_;`,
      ...(preload ? cols.map((j) => `const x${j}_ = ${xAt(j)};`) : []),
      ...Array.from({ length: s.kw }, (_, kx) => [
        `const w${kx}_ = ${SIMD.load("wr_", kx * c4 || undefined)};`,
        ...acc.map((a, q) => `${a} = ${SIMD.add(a, SIMD.mul(preload ? `x${col(q, kx)}_` : xAt(col(q, kx)), `w${kx}_`))};`),
      ]).flat(),
    ]),
    // the QUAD outputs share one channel vector's scale and bias: loaded once (V8 does not reuse a
    // load across the stores between them; with relu6 the epilogue was ~40% of a quad's time)
    ...(s.accumulate ? [] : [...(s.scale ? [`const sv_ = ${SIMD.load("scale + ob_")};`] : []), ...(s.bias ? [`const bv_ = ${SIMD.load("bias + ob_")};`] : [])]),
    ...acc.map((a, q) => SIMD.store(`yp_ + ob_ + ${intlit(q * c4)}`, s.accumulate ? SIMD.add(SIMD.load(`yp_ + ob_ + ${intlit(q * c4)}`), a) : epilogue(s, SIMD, a, "ob_", true))),
  ];
  const c4v = Math.floor(s.c / 4) * 4;
  const quad = [
    `const ix0_ = ox_ * ${intlit(s.sw)} - ${intlit(s.padLeft)};`,
    `const yp_ = yr_ + <usize>ox_ * ${intlit(c4)};`,
    block(`for (let o_ = 0; o_ < ${intlit(c4v)}; o_ += 4) {`, quadVector),
    // channels past the last vector: one pixel at a time, all taps of the row inside the image
    ...(c4v < s.c ? [block(`for (let q_ = 0; q_ < ${intlit(QUAD)}; q_++) {`, [
      `const ix0_ = (ox_ + q_) * ${intlit(s.sw)} - ${intlit(s.padLeft)};`,
      `const yp_ = yr_ + <usize>(ox_ + q_) * ${intlit(c4)};`,
      `const kxLo_ = 0;`, `const kxHi_ = ${intlit(s.kw)};`,
      block(`for (let o_ = ${intlit(c4v)}; o_ < ${intlit(s.c)}; o_++) {`, registerBlock(s, SCALAR, 1, "o_", !!s.accumulate)),
    ])] : []),
  ];
  const single = [
    `const ix0_ = ox_ * ${intlit(s.sw)} - ${intlit(s.padLeft)};`,
    `const yp_ = yr_ + <usize>ox_ * ${intlit(c4)};`,
    ...tapRange("ix0_", s.kw, s.dw, s.w, "kxLo_", "kxHi_"),
    pixelChannels(s),
  ];
  return block(`for (let r_ = 0; r_ < n * ${intlit(s.oh)}; r_++) {`, [
    `const img_ = r_ / ${intlit(s.oh)};`,
    `const iy0_ = (r_ - img_ * ${intlit(s.oh)}) * ${intlit(s.sh)} - ${intlit(s.padTop)};`,
    `const xb_ = x + <usize>(img_ * ${intlit(s.h * s.w * s.c * 4)});`,
    `const yr_ = y + <usize>r_ * ${intlit(s.ow * c4)};`,
    ...tapRange("iy0_", s.kh, s.dh, s.h, "kyLo_", "kyHi_"),
    `let ox_ = 0;`,
    block(`while (ox_ < ${intlit(s.ow)}) {`, [
      block(`if (ox_ >= ${intlit(first)} && ox_ + ${intlit(QUAD)} <= ${intlit(end)}) {`, [...quad, `ox_ += ${intlit(QUAD)};`, `continue;`]),
      ...single,
      `ox_++;`,
    ]),
  ]);
}

/**
 * Every output pixel p_ of the batch in order: its image's x (`xb_`), its y (`yp_`), the window
 * origin (iy0_, ix0_) and the in-bounds tap ranges [kyLo_, kyHi_) × [kxLo_, kxHi_), then `body`.
 */
function eachOutputPixel(s: DepthwiseSpec, body: Src): string {
  const ohw = s.oh * s.ow;
  return block(`for (let p_ = 0; p_ < n * ${intlit(ohw)}; p_++) {`, [
    `const img_ = p_ / ${intlit(ohw)};`,
    `const rem_ = p_ - img_ * ${intlit(ohw)};`,
    `const oy_ = rem_ / ${intlit(s.ow)};`,
    `const iy0_ = oy_ * ${intlit(s.sh)} - ${intlit(s.padTop)};`,
    `const ix0_ = (rem_ - oy_ * ${intlit(s.ow)}) * ${intlit(s.sw)} - ${intlit(s.padLeft)};`,
    `const xb_ = x + <usize>(img_ * ${intlit(s.h * s.w * s.c * 4)});`,
    `const yp_ = y + <usize>p_ * ${intlit(outChannels(s) * 4)};`,
    ...tapRange("iy0_", s.kh, s.dh, s.h, "kyLo_", "kyHi_"),
    ...tapRange("ix0_", s.kw, s.dw, s.w, "kxLo_", "kxHi_"),
    body,
  ]);
}

/**
 * Depth multiplier m > 1: output channel o = c·m + j reads input channel ⌊o/m⌋. A group of
 * G input channels (loaded as one vector once per tap) feeds V whole output vectors, each lane's x
 * a shuffle of the group: the smallest group with whole vectors, G = lcm(4, m)/m, doubled while
 * it stays within 4 channels and 4 accumulators (independent sums to overlap): m = 2: 4 channels →
 * 2 vectors, m = 3: 4 → 3, m = 4: 4 → 4, m = 6: 2 → 3, m = 8: 2 → 4. So every output is summed in
 * a register from 0 over the in-bounds taps in ky, kx order — the order of the scalar loops — and
 * stored once. (m = 2 with 2 channels → 1 vector ran at 6.4 GFLOP/s where m = 3 ran at 11.5.)
 */
export function multiplierGroups(m: number): { G: number; V: number } {
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  const l = (4 * m) / gcd(4, m);
  let G = l / m, V = l / 4;
  while (G * 2 <= 4 && V * 2 <= 4) { G *= 2; V *= 2; }
  return { G, V };
}

/** The x of output vector v of a channel group `xg_` (G channels, loaded as one vector, or splat when G = 1). */
function groupLanes(m: number, G: number, v: number): string {
  if (G === 1) return "xg_";
  const lanes = [0, 1, 2, 3].map((l) => Math.floor((4 * v + l) / m));
  return lanes.every((l, i) => l === i) ? "xg_" : `f32x4.shuffle(xg_, xg_, ${lanes.join(", ")})`;
}

/** Loads G consecutive channels at `p` as a vector (the lanes past G are never used). */
function loadGroup(G: number, p: string): string {
  return G === 1 ? `v128.load32_splat(${p})` : G === 2 ? `v128.load64_zero(${p})` : `v128.load(${p})`;
}

/** Vectors [v0, v1) of the group at input channel `ch_` (outputs from ch_·m): sums in registers, then stored. */
function multiplierBlock(s: DepthwiseSpec, G: number, v0: number, v1: number): Src {
  const c4 = s.c * 4, O4 = outChannels(s) * 4;
  const vs = Array.from({ length: v1 - v0 }, (_, i) => v0 + i);
  return [
    `const xo_ = <usize>ch_ << 2;`,
    `const oo_ = <usize>(ch_ * ${intlit(s.m)}) << 2;`,
    ...vs.map((v) => `let a${v}_ = f32x4.splat(0);`),
    block(`for (let ky_ = kyLo_; ky_ < kyHi_; ky_++) {`, [
      `const xr_ = xb_ + <usize>((iy0_ + ky_ * ${intlit(s.dh)}) * ${intlit(s.w * c4)}) + xo_;`,
      `const wr_ = w + <usize>(ky_ * ${intlit(s.kw * O4)}) + oo_;`,
      block(`for (let kx_ = kxLo_; kx_ < kxHi_; kx_++) {`, [
        `const xg_ = ${loadGroup(G, `xr_ + <usize>((ix0_ + kx_ * ${intlit(s.dw)}) * ${intlit(c4)})`)};`,
        `const wp_ = wr_ + <usize>(kx_ * ${intlit(O4)});`,
        ...vs.map((v) => `a${v}_ = ${SIMD.add(`a${v}_`, SIMD.mul(groupLanes(s.m, G, v), SIMD.load("wp_", v * 16 || undefined)))};`),
      ]),
    ]),
    ...vs.map((v) => SIMD.store("yp_ + oo_", s.accumulate ? SIMD.add(SIMD.load("yp_ + oo_", v * 16 || undefined), `a${v}_`) : epilogue(s, SIMD, `a${v}_`, `oo_ + ${v * 16}`), v * 16 || undefined)),
  ];
}

/** One output channel `o_` (input channel ch_) in scalar code: the channels past the last whole group. */
function multiplierScalar(s: DepthwiseSpec): Src {
  const c4 = s.c * 4, O4 = outChannels(s) * 4;
  return [
    `const xo_ = <usize>ch_ << 2;`,
    `const oo_ = <usize>o_ << 2;`,
    `let a_: f32 = 0;`,
    block(`for (let ky_ = kyLo_; ky_ < kyHi_; ky_++) {`, [
      `const xr_ = xb_ + <usize>((iy0_ + ky_ * ${intlit(s.dh)}) * ${intlit(s.w * c4)}) + xo_;`,
      `const wr_ = w + <usize>(ky_ * ${intlit(s.kw * O4)}) + oo_;`,
      block(`for (let kx_ = kxLo_; kx_ < kxHi_; kx_++) {`, [
        `a_ += load<f32>(xr_ + <usize>((ix0_ + kx_ * ${intlit(s.dw)}) * ${intlit(c4)})) * load<f32>(wr_ + <usize>(kx_ * ${intlit(O4)}));`,
      ]),
    ]),
    SCALAR.store("yp_ + oo_", s.accumulate ? SCALAR.add(SCALAR.load("yp_ + oo_"), "a_") : epilogue(s, SCALAR, "a_", "oo_")),
  ];
}

/** Forward with m > 1: groups of channels in registers (chunks of at most 4 vectors), then a scalar tail. */
function forwardMultiplier(s: DepthwiseSpec): string {
  const { G, V } = multiplierGroups(s.m);
  const whole = Math.floor(s.c / G) * G;
  const chunks: Src[] = [];
  for (let v0 = 0; v0 < V; v0 += 4) chunks.push(block("{", multiplierBlock(s, G, v0, Math.min(V, v0 + 4))));
  return eachOutputPixel(s, [
    block(`for (let ch_ = 0; ch_ < ${intlit(whole)}; ch_ += ${intlit(G)}) {`, chunks),
    block(`for (let o_ = ${intlit(whole * s.m)}; o_ < ${intlit(outChannels(s))}; o_++) {`, [`const ch_ = o_ / ${intlit(s.m)};`, multiplierScalar(s)]),
  ]);
}

/**
 * Forward: y[n,oh,ow,c·m] (=|+=) act(depthwise(x, w)·scale + bias) (the epilogue as fused; none
 * when accumulating). Params x, w, y, [bias], [scale], n.
 */
export function emitDepthwiseConv2d(spec: DepthwiseSpec): KernelDef {
  checkDepthwiseSpec(spec, "emitDepthwiseConv2d");
  const s = { ...spec, bias: !!spec.bias, scale: !!spec.scale, activation: spec.activation ?? "linear" };
  const act = s.activation;
  return {
    key: `depthwise_conv2d:${JSON.stringify(s)}`,
    label: `depthwise_conv2d ${geometry(s)}${s.scale ? " scaled" : ""}${s.bias ? " +bias" : ""}${act !== "linear" ? " " + act : ""}`,
    params: kernelParams(DEPTHWISE_LOCALS, ["x", "w", "y", ...(s.bias ? ["bias"] : []), ...(s.scale ? ["scale"] : [])], "n"),
    body: s.m === 1 ? forwardInRegisters(s) : forwardMultiplier(s),
    needs: activationNeeds(act),
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
    : o === SIMD ? multiplierGradAdd(s.m)
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
 * A vector whose lane l is element idx[l] of the vectors `src` laid end to end (element e is lane
 * e & 3 of src[e >> 2]): shuffles of two vectors at a time, one per further source vector.
 */
export function gatherLanes(src: string[], idx: number[]): string {
  const from = idx.map((e) => e >> 2);
  const order = [...new Set(from)];
  const first = order[0]!, second = order[1] ?? first;
  // lanes of the first two sources; the others take lane 0 of the first for now
  let expr = `f32x4.shuffle(${src[first]}, ${src[second]}, ${idx.map((e, l) => (from[l] === first ? e & 3 : from[l] === second ? 4 + (e & 3) : 0)).join(", ")})`;
  if (order.length === 1 && idx.every((e, l) => (e & 3) === l)) return src[first]!;
  for (const next of order.slice(2)) {
    expr = `f32x4.shuffle(${expr}, ${src[next]}, ${idx.map((e, l) => (from[l] === next ? 4 + (e & 3) : l)).join(", ")})`;
  }
  return expr;
}

/**
 * One tap of the input gradient for 4 channels with m > 1: the 4m products dy·w (m vectors), then
 * per channel lane the sum over j of its m products, taken in j order (vector j of lanes l·m + j
 * gathered by shuffles), added to a0_. The scalar code starts that sum from 0: it differs from the
 * sum started at the first product only in a zero's sign, which a0_ (from +0, never −0) absorbs.
 */
function multiplierGradAdd(m: number): string[] {
  const P = Array.from({ length: m }, (_, v) => `p${v}_`);
  const Q = Array.from({ length: m }, (_, j) => gatherLanes(P, [0, 1, 2, 3].map((l) => l * m + j)));
  return [
    ...P.map((p, v) => `const ${p} = ${SIMD.mul(SIMD.load("dp_", v * 16 || undefined), SIMD.load("wp_", v * 16 || undefined))};`),
    `let sum_ = ${Q[0]};`,
    ...Q.slice(1).map((q) => `sum_ = ${SIMD.add("sum_", q)};`),
    `a0_ = ${SIMD.add("a0_", "sum_")};`,
  ];
}

/** Largest depth multiplier whose input gradient gathers in SIMD (m product vectors live per tap). */
const SIMD_GRAD_MAX_M = 8;

/**
 * Input gradient: dx[n,h,w,c] (=|+=) Σ over the output pixels whose taps read it. Params dy, w,
 * dx, n. Gathered per dx pixel (each written once, sums in registers): an output pixel reads
 * (iy, ix) with tap ky where oy·sh = iy + padTop − ky·dh, so ky descending visits the output
 * pixels in increasing order, the order in which a scatter over the output pixels would add them.
 * m = 1: 16 channels at a time, then single vectors, then a scalar tail; 1 < m ≤ 8: 4 channels
 * at a time (multiplierGradAdd), then a scalar tail; larger m: per channel.
 */
export function emitDepthwiseConv2dGradInput(spec: DepthwiseSpec): KernelDef {
  checkDepthwiseSpec(spec, "emitDepthwiseConv2dGradInput");
  const s = spec, hw = s.h * s.w, acc = !!s.accumulate;
  const c16 = s.m === 1 ? Math.floor(s.c / 16) * 16 : 0, c4 = s.m <= SIMD_GRAD_MAX_M ? Math.floor(s.c / 4) * 4 : 0;
  const body = block(`for (let q_ = 0; q_ < n * ${intlit(hw)}; q_++) {`, [
    `const img_ = q_ / ${intlit(hw)};`,
    `const rem_ = q_ - img_ * ${intlit(hw)};`,
    `const iy_ = rem_ / ${intlit(s.w)};`,
    `const y0_ = iy_ + ${intlit(s.padTop)};`,
    `const x0_ = rem_ - iy_ * ${intlit(s.w)} + ${intlit(s.padLeft)};`,
    `const dyb_ = dy + <usize>(img_ * ${intlit(s.oh * s.ow * s.c * s.m * 4)});`,
    `const dxp_ = dx + <usize>q_ * ${intlit(s.c * 4)};`,
    s.m === 1 ? block(`for (let c_ = 0; c_ < ${intlit(c16)}; c_ += 16) {`, gatherBlock(s, SIMD, 4, "c_", acc)) : [],
    block(`for (let c_ = ${intlit(c16)}; c_ < ${intlit(c4)}; c_ += 4) {`, gatherBlock(s, SIMD, 1, "c_", acc)),
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
 * Output pixels of a row per run of the filter gradient. Kernel A/B (CPU time, load ~22), m = 1
 * stride 1 against the per-pixel sweep: runs of 4: 0.95× (56×56×144) and 1.11× (14×14×576); 8: 0.73×
 * and 1.23×; 32: 1.25× and 1.36×.
 */
const GRAD_FILTER_RUN = 32;

/**
 * Whether the filter gradient runs in registers (gradFilterByRuns): multipliers 2 to 8 (8–10× the
 * per-pixel sweep, which was scalar for m = 2, 3) and m = 1 at stride 1 (1.25–1.36×). m = 1 at
 * stride 2 measured 0.6× (runs of 4 and 32: 112×112×96) and keeps the per-pixel sweep; so do m > 8.
 */
function gradFilterInRegisters(s: DepthwiseSpec): boolean {
  return s.m > 1 ? s.m <= 8 : s.sw === 1;
}

/** Output columns [lo, hi) whose tap kx reads a column inside the image. */
function columnsInside(s: DepthwiseSpec, kx: number): [number, number] {
  const off = s.padLeft - kx * s.dw;
  const lo = Math.max(0, Math.ceil(off / s.sw)), hi = Math.min(s.ow, Math.floor((s.w - 1 + off) / s.sw) + 1);
  return [lo, Math.max(lo, hi)];
}

/**
 * One channel block's share of a run for tap (ky_, kx): `vectors` dw vectors (or one scalar) at
 * output byte offset oo_ loaded into registers, then x·dy of the run's columns [lo_, hi_) added
 * in column order, then stored. x per column: m = 1 the block's own channels; m > 1 the group's
 * G channels at input offset xo_, shuffled per output vector (as the forward).
 */
function gradFilterBlock(s: DepthwiseSpec, o: Ops, v0: number, v1: number, kx: number, G: number): Src {
  const c4 = s.c * 4, O4 = outChannels(s) * 4, vs = Array.from({ length: v1 - v0 }, (_, i) => v0 + i);
  const at = (v: number) => (o === SIMD ? v * 16 : 0) || undefined;
  const xOf = (v: number) => (o === SCALAR ? "load<f32>(xp_)" : s.m === 1 ? SIMD.load("xp_", at(v)) : groupLanes(s.m, G, v));
  return [
    `const wq_ = wp_ + oo_;`,
    ...vs.map((v) => `let a${v}_ = ${o.load("wq_", at(v))};`),
    block(`for (let ox_ = lo_; ox_ < hi_; ox_++) {`, [
      `const xp_ = xr_ + <usize>((ox_ * ${intlit(s.sw)} + ${intlit(kx * s.dw - s.padLeft)}) * ${intlit(c4)}) + xo_;`,
      `const dp_ = dyr_ + <usize>(ox_ * ${intlit(O4)}) + oo_;`,
      ...(o === SIMD && s.m > 1 ? [`const xg_ = ${loadGroup(G, "xp_")};`] : []),
      ...vs.map((v) => `a${v}_ = ${o.add(`a${v}_`, o.mul(xOf(v), o.load("dp_", at(v))))};`),
    ]),
    ...vs.map((v) => o.store("wq_", `a${v}_`, at(v))),
  ];
}

/** The channel blocks of one tap: m = 1 blocks of 16 channels, single vectors, a scalar tail; m > 1 channel groups, a scalar tail. */
function gradFilterChannels(s: DepthwiseSpec, kx: number): Src {
  if (s.m === 1) {
    const c16 = Math.floor(s.c / 16) * 16, c4 = Math.floor(s.c / 4) * 4;
    const chan = (body: Src) => [`const xo_ = <usize>ch_ << 2;`, `const oo_ = xo_;`, body];
    return [
      block(`for (let ch_ = 0; ch_ < ${intlit(c16)}; ch_ += 16) {`, chan(gradFilterBlock(s, SIMD, 0, 4, kx, 4))),
      block(`for (let ch_ = ${intlit(c16)}; ch_ < ${intlit(c4)}; ch_ += 4) {`, chan(gradFilterBlock(s, SIMD, 0, 1, kx, 4))),
      block(`for (let ch_ = ${intlit(c4)}; ch_ < ${intlit(s.c)}; ch_++) {`, chan(gradFilterBlock(s, SCALAR, 0, 1, kx, 1))),
    ];
  }
  const { G, V } = multiplierGroups(s.m);
  const whole = Math.floor(s.c / G) * G;
  const chunks: Src[] = [];
  for (let v0 = 0; v0 < V; v0 += 4) chunks.push(block("{", gradFilterBlock(s, SIMD, v0, Math.min(V, v0 + 4), kx, G)));
  return [
    block(`for (let ch_ = 0; ch_ < ${intlit(whole)}; ch_ += ${intlit(G)}) {`, [`const xo_ = <usize>ch_ << 2;`, `const oo_ = <usize>(ch_ * ${intlit(s.m)}) << 2;`, ...chunks]),
    block(`for (let o_ = ${intlit(whole * s.m)}; o_ < ${intlit(outChannels(s))}; o_++) {`, [
      `const xo_ = <usize>(o_ / ${intlit(s.m)}) << 2;`, `const oo_ = <usize>o_ << 2;`, gradFilterBlock(s, SCALAR, 0, 1, kx, 1),
    ]),
  ];
}

/**
 * Filter gradient in registers: per output row, per run of up to GRAD_FILTER_RUN columns, per
 * in-bounds tap and channel block, the block's dw is loaded once, the run's x·dy added column by
 * column, and stored once (the per-pixel sweep loaded and stored dw at every pixel and tap). Each
 * dw element still adds the batch's output pixels in order — rows in order, columns in order.
 */
function gradFilterByRuns(s: DepthwiseSpec): string {
  const O4 = outChannels(s) * 4;
  const taps: Src[] = [];
  for (let kx = 0; kx < s.kw; kx++) {
    const [lo, hi] = columnsInside(s, kx);
    if (lo >= hi) continue;
    taps.push(block("{", [
      `const lo_ = max<i32>(t0_, ${intlit(lo)});`,
      `const hi_ = min<i32>(t1_, ${intlit(hi)});`,
      block(`if (lo_ < hi_) {`, [`const wp_ = wr_ + ${intlit(kx * O4)};`, gradFilterChannels(s, kx)]),
    ]));
  }
  return block(`for (let r_ = 0; r_ < n * ${intlit(s.oh)}; r_++) {`, [
    `const img_ = r_ / ${intlit(s.oh)};`,
    `const iy0_ = (r_ - img_ * ${intlit(s.oh)}) * ${intlit(s.sh)} - ${intlit(s.padTop)};`,
    `const xb_ = x + <usize>(img_ * ${intlit(s.h * s.w * s.c * 4)});`,
    `const dyr_ = dy + <usize>r_ * ${intlit(s.ow * O4)};`,
    ...tapRange("iy0_", s.kh, s.dh, s.h, "kyLo_", "kyHi_"),
    block(`for (let t0_ = 0; t0_ < ${intlit(s.ow)}; t0_ += ${intlit(GRAD_FILTER_RUN)}) {`, [
      `const t1_ = min<i32>(t0_ + ${intlit(GRAD_FILTER_RUN)}, ${intlit(s.ow)});`,
      block(`for (let ky_ = kyLo_; ky_ < kyHi_; ky_++) {`, [
        `const xr_ = xb_ + <usize>((iy0_ + ky_ * ${intlit(s.dh)}) * ${intlit(s.w * s.c * 4)});`,
        `const wr_ = dw + <usize>(ky_ * ${intlit(s.kw * O4)});`,
        ...taps,
      ]),
    ]),
  ]);
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
    gradFilterInRegisters(spec) ? gradFilterByRuns(spec) : pixelsAndTaps(spec, "x", "dw", `const dyp_ = dy + pix_;`, mulAddChannels(spec, "wp_", "xp_", "dyp_")),
  );
  return {
    key: `depthwise_conv2d_grad_filter:${JSON.stringify(spec)}`,
    label: `depthwise_conv2d grad-filter ${geometry(spec)}`,
    params: kernelParams(DEPTHWISE_LOCALS, ["x", "dy", "dw", "scratch"], "n"),
    body,
    needs: [],
  };
}

