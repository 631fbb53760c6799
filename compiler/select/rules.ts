/**
 * Kernel selection rules: which emitter computes a node, decided from its shapes alone. Kept
 * outside the emitters so that both the middle end (passes/fuse.ts: fuse a max-pool only into a
 * conv the direct kernel takes), kernel selection (passes/select.ts) and the emitters (each checks
 * that it was asked for a spec it handles) import one definition. Each rule states the
 * measurements behind it. The emitter modules re-export the rules they used to define.
 */
import type { Conv2dSpec } from "../emit/conv/spec.js";
import type { MatmulSpec } from "../emit/matmul.js";

// ---------------------------------------------------------------- matmul

/** The few-row path (emit/gemv.ts) covers runtime m with constant K and a row-major B, unbatched. */
export function smallMApplies(spec: MatmulSpec): boolean {
  return typeof spec.m === "string" && typeof spec.k === "number" && !spec.batch?.length && !spec.transA && !spec.transB;
}

// ---------------------------------------------------------------- direct convolution (c ≤ 4)

/** Largest kh·kw·c the direct kernels take (3×3 with c ≤ 4, 5×5 with c = 1: the measured shapes). */
export const DIRECT_MAX_TAPS = 36;

/** Can the direct kernel compute this convolution? */
export function directConvApplies(s: Conv2dSpec): boolean {
  return s.c <= 4 && s.kh * s.kw * s.c <= DIRECT_MAX_TAPS;
}

// ---------------------------------------------------------------- 1×1 convolution

/**
 * Whether the im2col GEMM reads x in place as its A (emit/conv/im2col.ts): a 1×1 kernel at stride 1
 * without padding, whose im2col is x itself ([pixels, c] row-major). Measurements: emitConv2d.
 */
export function pointwiseInPlace(s: Conv2dSpec): boolean {
  return s.kh === 1 && s.kw === 1 && s.sh === 1 && s.sw === 1 && s.padTop === 0 && s.padLeft === 0 && s.oh === s.h && s.ow === s.w;
}

// ---------------------------------------------------------------- Winograd F(m×m, 3×3)

/** Output tile size m of F(m×m, 3×3); input patches are α = m + 2 wide. */
export type WinogradTile = 2 | 4;

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
 * Tile size for the filter gradient (where winogradGradFilterPays): 4 where f4Pays on the forward
 * conv (it runs over the forward's output tiles), else 2. Kernel A/B at asc -O0, plain, CPU-time
 * medians of 7 alternating runs (load 3–4), per 32 examples in calls of 4 (the filter-gradient
 * chunks): conv2 13×13×32→11×11×64 F(2×2) 2.16 ms, F(4×4) 1.35 ms (1.60×; blocks of 16/32/36/40
 * tiles 1.46/1.42/1.35/1.37 ms); in the train step (bench/cnn-profile.mjs, 3 instances × 9 rounds)
 * 2.21 → 1.39 ms b32, 4.48 → 2.85 ms b64, relaxed 1.69 → 1.15 ms. f4Pays' tiles-per-image
 * condition keeps conv3 (5×5×64→3×3×64, one tile per image) at F(2×2): its F(4×4) gained only
 * 0.61 → 0.53 ms at b32 (step-level effect below the noise) and lost at batch 1 (bench/README.md).
 */
export function winogradGradFilterTile(s: Conv2dSpec): WinogradTile {
  return f4Pays(s, s) ? 4 : 2;
}

// ---------------------------------------------------------------- inverted-residual block

/** Bytes of one band's depthwise output (the fused kernel's D; E is the band's input rows). */
const INVERTED_RESIDUAL_BAND_BYTES = 96 * 1024;

/**
 * Output rows per band of the fused inverted-residual kernel (emit/inverted-residual.ts): as many
 * as keep the band's depthwise output within INVERTED_RESIDUAL_BAND_BYTES, at least 1.
 */
export function invertedResidualBandRows(d: { oh: number; ow: number; c: number; m: number }): number {
  const row = d.ow * d.c * d.m * 4;
  return Math.max(1, Math.min(d.oh, Math.floor(INVERTED_RESIDUAL_BAND_BYTES / row)));
}

/** Widest expanded tensor (channels) the fused inverted-residual kernel is used for. */
const INVERTED_RESIDUAL_MAX_EXPANDED = 384;

/**
 * Whether the fused inverted-residual kernel (emit/inverted-residual.ts) replaces the three
 * separate ones: where the expanded width is at most 384 channels. MobileNetV2 224 per block,
 * base/new (bench/mobilenet-profile.mjs, CPU time, load 4–7, 2026-12-07), b16 | b1: 112→56 (×96)
 * 1.25 | 1.06, 56×56×144 1.33 | 1.12, 56→28 1.31 | 1.00, 28×28×192 1.27–1.33 | 1.02–1.03, 28→14
 * 1.02 | 0.99, 14×14×384 1.09–1.13 | 0.97–0.99; wider (blocks 11–16: 14×14×576, 7×7×960) 0.90–1.08
 * | 0.89–0.96, and with one band per image 0.93–1.09 | 0.93–1.00: not fused. (Presumably their
 * two packed B matrices, 221–614 KB each, no longer stay in L2 beside a band's rows; not verified.)
 */
export function invertedResidualPays(a: { expand: Conv2dSpec }): boolean {
  return a.expand.f <= INVERTED_RESIDUAL_MAX_EXPANDED;
}
