/**
 * Depthwise convolution kernels (compiler/emit/depthwise.ts): forward, input gradient and filter
 * gradient, bit-exact against naive loops that round like f32 in the kernels' documented order
 * (taps ky, kx; the batch's output pixels in order; for dx the sum over j first), and within 1e-5
 * of the same sums in float64. Covers depth multipliers 1 (the register-blocked forward: blocks
 * of 16 channels, single vectors, scalar tail; the SIMD sweeps of the gradients), 2 to 8 (groups
 * of channels shuffled into output vectors, a scalar tail), valid/same padding, strides, dilation,
 * accumulation; and the forward's fused epilogue (bias, folded scale, relu6 / tanh).
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  emitDepthwiseConv2d, emitDepthwiseConv2dGradFilter, emitDepthwiseConv2dGradInput, perPixelFromBatch, type DepthwiseSpec,
} from "../../compiler/emit/depthwise.js";
import { buildKernels, relErr, rng, uniform, type TestModule } from "./trk-harness.js";

interface Case { h: number; w: number; c: number; m: number; k: [number, number]; s: [number, number]; d: [number, number]; same: boolean; n: number }

/** Output size and padding before, per spec §2 (TensorFlow's rule). */
function pads(size: number, k: number, s: number, d: number, same: boolean): [number, number] {
  const span = d * (k - 1) + 1;
  if (!same) return [Math.floor((size - span) / s) + 1, 0];
  const out = Math.ceil(size / s);
  return [out, Math.floor(Math.max((out - 1) * s + span - size, 0) / 2)];
}

function specOf(c: Case): DepthwiseSpec {
  const [oh, padTop] = pads(c.h, c.k[0], c.s[0], c.d[0], c.same);
  const [ow, padLeft] = pads(c.w, c.k[1], c.s[1], c.d[1], c.same);
  return { h: c.h, w: c.w, c: c.c, m: c.m, kh: c.k[0], kw: c.k[1], sh: c.s[0], sw: c.s[1], dh: c.d[0], dw: c.d[1], padTop, padLeft, oh, ow };
}

const CASES: Case[] = [
  { h: 6, w: 7, c: 8, m: 1, k: [3, 3], s: [1, 1], d: [1, 1], same: true, n: 2 },
  { h: 7, w: 6, c: 13, m: 1, k: [3, 3], s: [2, 2], d: [1, 1], same: true, n: 3 },
  { h: 8, w: 8, c: 3, m: 1, k: [3, 2], s: [1, 1], d: [2, 2], same: false, n: 2 },
  { h: 5, w: 9, c: 1, m: 1, k: [1, 1], s: [2, 3], d: [1, 1], same: false, n: 1 },
  // m = 1 with c ≥ 16: blocks of 4 vectors, a single vector and a scalar tail; dilated same padding clamps tap ranges
  { h: 7, w: 6, c: 37, m: 1, k: [3, 3], s: [1, 1], d: [2, 2], same: true, n: 2 },
  { h: 9, w: 8, c: 32, m: 1, k: [5, 3], s: [2, 2], d: [1, 1], same: true, n: 3 },
  { h: 6, w: 6, c: 5, m: 2, k: [3, 3], s: [1, 1], d: [1, 1], same: true, n: 2 },
  { h: 7, w: 5, c: 3, m: 3, k: [2, 3], s: [2, 1], d: [1, 1], same: false, n: 2 },
  { h: 6, w: 6, c: 2, m: 4, k: [3, 3], s: [1, 1], d: [2, 1], same: true, n: 3 },
  { h: 5, w: 6, c: 4, m: 5, k: [5, 5], s: [1, 1], d: [1, 1], same: true, n: 1 },
  // register-blocked multipliers (multiplierGroups): 2 channels → 3 vectors (m = 6), 1 → 2 (m = 8),
  // 4 → 7 in chunks of 4 and 3 (m = 7); channels past the last whole group in scalar code
  { h: 5, w: 5, c: 5, m: 6, k: [3, 3], s: [2, 2], d: [1, 1], same: true, n: 2 },
  { h: 4, w: 5, c: 3, m: 8, k: [3, 3], s: [1, 1], d: [1, 1], same: true, n: 2 },
  { h: 5, w: 4, c: 6, m: 7, k: [3, 3], s: [1, 1], d: [1, 1], same: false, n: 2 },
  { h: 6, w: 6, c: 9, m: 2, k: [3, 3], s: [2, 2], d: [1, 1], same: true, n: 2 },
  { h: 6, w: 6, c: 11, m: 3, k: [3, 3], s: [1, 1], d: [1, 1], same: true, n: 2 },
];

/** Walks every in-bounds tap of every output pixel in the kernels' order. */
function eachTap(sp: DepthwiseSpec, n: number, f: (p: number, tap: number, xpix: number) => void): void {
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < sp.oh; oy++)
      for (let ox = 0; ox < sp.ow; ox++)
        for (let ky = 0; ky < sp.kh; ky++) {
          const iy = oy * sp.sh - sp.padTop + ky * sp.dh;
          if (iy < 0 || iy >= sp.h) continue;
          for (let kx = 0; kx < sp.kw; kx++) {
            const ix = ox * sp.sw - sp.padLeft + kx * sp.dw;
            if (ix < 0 || ix >= sp.w) continue;
            f((b * sp.oh + oy) * sp.ow + ox, ky * sp.kw + kx, (b * sp.h + iy) * sp.w + ix);
          }
        }
}

/** The three sums, rounding each step to f32 (`round` = Math.fround) or not (float64). */
function reference(sp: DepthwiseSpec, n: number, x: number[], w: number[], dy: number[], round: (v: number) => number) {
  const O = sp.c * sp.m;
  const y = new Float64Array(n * sp.oh * sp.ow * O), dx = new Float64Array(n * sp.h * sp.w * sp.c), dw = new Float64Array(sp.kh * sp.kw * O);
  eachTap(sp, n, (p, tap, xp) => {
    for (let o = 0; o < O; o++) {
      const c = Math.floor(o / sp.m);
      y[p * O + o] = round(y[p * O + o]! + round(x[xp * sp.c + c]! * w[tap * O + o]!));
      dw[tap * O + o] = round(dw[tap * O + o]! + round(x[xp * sp.c + c]! * dy[p * O + o]!));
    }
    for (let c = 0; c < sp.c; c++) {
      let s = 0;
      for (let j = 0; j < sp.m; j++) s = round(s + round(dy[p * O + c * sp.m + j]! * w[tap * O + c * sp.m + j]!));
      dx[xp * sp.c + c] = round(dx[xp * sp.c + c]! + s);
    }
  });
  return { y, dx, dw };
}

describe("depthwise_conv2d kernels", () => {
  let mod: TestModule;
  beforeAll(async () => {
    const kernels: Record<string, ReturnType<typeof emitDepthwiseConv2d>> = {};
    CASES.forEach((c, i) => {
      const sp = specOf(c);
      kernels[`f${i}`] = emitDepthwiseConv2d(sp);
      kernels[`gi${i}`] = emitDepthwiseConv2dGradInput(sp);
      kernels[`gf${i}`] = emitDepthwiseConv2dGradFilter(sp);
      kernels[`fa${i}`] = emitDepthwiseConv2d({ ...sp, accumulate: true });
      kernels[`gia${i}`] = emitDepthwiseConv2dGradInput({ ...sp, accumulate: true });
      kernels[`gfa${i}`] = emitDepthwiseConv2dGradFilter({ ...sp, accumulate: true });
    });
    mod = await buildKernels(kernels, 128);
  });

  CASES.forEach((c, i) => {
    const sp = specOf(c);
    const label = `${c.h}x${c.w}x${c.c} m=${c.m} kernel ${c.k} stride ${c.s} dilation ${c.d} ${c.same ? "same" : "valid"}, batch ${c.n}`;
    it(`${label}: forward, grad-input, grad-filter bit-exact to f32 loops, 1e-5 of float64; accumulate adds`, () => {
      mod.reset();
      const r = rng(i * 977 + 5), O = c.c * c.m;
      const nx = c.n * c.h * c.w * c.c, ny = c.n * sp.oh * sp.ow * O, nw = c.k[0] * c.k[1] * O;
      const x = uniform(r, nx), w = uniform(r, nw), dy = uniform(r, ny);
      const px = mod.putF32(x), pw = mod.putF32(w), pdy = mod.putF32(dy);
      // garbage in the outputs: the kernels must zero what they overwrite
      const py = mod.putF32(uniform(r, ny, 5, 9)), pdx = mod.putF32(uniform(r, nx, 5, 9)), pdw = mod.putF32(uniform(r, nw, 5, 9));
      mod.fn[`f${i}`]!(px, pw, py, c.n);
      mod.fn[`gi${i}`]!(pdy, pw, pdx, c.n);
      mod.fn[`gf${i}`]!(px, pdy, pdw, 0, c.n);
      const f32 = reference(sp, c.n, x, w, dy, Math.fround), f64 = reference(sp, c.n, x, w, dy, (v) => v);
      const got = { y: Array.from(mod.f32(py, ny)), dx: Array.from(mod.f32(pdx, nx)), dw: Array.from(mod.f32(pdw, nw)) };
      expect(got.y).toEqual(Array.from(f32.y));
      expect(got.dx).toEqual(Array.from(f32.dx));
      expect(got.dw).toEqual(Array.from(f32.dw));
      expect(relErr(got.y, f64.y)).toBeLessThan(1e-5);
      expect(relErr(got.dx, f64.dx)).toBeLessThan(1e-5);
      expect(relErr(got.dw, f64.dw)).toBeLessThan(1e-5);
      // accumulate: a second call adds the same sums on top
      mod.fn[`fa${i}`]!(px, pw, py, c.n);
      mod.fn[`gia${i}`]!(pdy, pw, pdx, c.n);
      mod.fn[`gfa${i}`]!(px, pdy, pdw, 0, c.n);
      expect(relErr(mod.f32(py, ny), f64.y.map((v) => 2 * v))).toBeLessThan(1e-5);
      expect(relErr(mod.f32(pdx, nx), f64.dx.map((v) => 2 * v))).toBeLessThan(1e-5);
      expect(relErr(mod.f32(pdw, nw), f64.dw.map((v) => 2 * v))).toBeLessThan(1e-5);
    });
  });

  // The forward's fused epilogue: act(sum·scale + bias) per output channel, on the f32 sums above.
  const EPILOGUES: { c: number; m: number; scale: boolean; act: "relu6" | "tanh" | "linear" }[] = [
    { c: 37, m: 1, scale: true, act: "relu6" },
    { c: 7, m: 3, scale: true, act: "relu6" },
    { c: 6, m: 2, scale: false, act: "tanh" },
    { c: 5, m: 1, scale: false, act: "linear" },
  ];
  EPILOGUES.forEach((e, i) => {
    it(`epilogue c=${e.c} m=${e.m}${e.scale ? " scale" : ""} + bias ${e.act}: act(sum·scale + bias) of the same f32 sums`, async () => {
      const sp = specOf({ h: 6, w: 5, c: e.c, m: e.m, k: [3, 3], s: [1, 1], d: [1, 1], same: true, n: 2 });
      const def = emitDepthwiseConv2d({ ...sp, bias: true, scale: e.scale, activation: e.act });
      const em = await buildKernels({ e: def }, 16);
      const r = rng(4100 + i), O = e.c * e.m, n = 2;
      const nx = n * sp.h * sp.w * e.c, ny = n * sp.oh * sp.ow * O, nw = 9 * O;
      // relu6's clamps both reached: sums of 9 products of values up to ±3
      const x = uniform(r, nx, -3, 3), w = uniform(r, nw, -1, 1), bias = uniform(r, O, -1, 1), scale = uniform(r, O, 0.5, 2);
      const px = em.putF32(x), pw = em.putF32(w), pb = em.putF32(bias), ps = em.putF32(scale), py = em.putF32(uniform(r, ny, 5, 9));
      if (e.scale) em.fn.e!(px, pw, py, pb, ps, n);
      else em.fn.e!(px, pw, py, pb, n);
      const sums = reference(sp, n, x, w, new Array(ny).fill(0), Math.fround).y;
      const f = Math.fround;
      const want = Array.from(sums, (v, k) => {
        const o = k % O, z = f(f(e.scale ? f(v * scale[o]!) : v) + bias[o]!);
        return e.act === "relu6" ? Math.min(Math.max(z, 0), 6) : e.act === "tanh" ? Math.tanh(z) : z;
      });
      const got = Array.from(em.f32(py, ny));
      if (e.act === "tanh") expect(relErr(got, want)).toBeLessThan(1e-5);
      else expect(got).toEqual(want);
      if (e.act === "relu6") expect(got.some((v) => v === 6) && got.some((v) => v === 0)).toBe(true);
    });
  });

  // Stride 1 with 64–384 channels: quad pixels per channel vector below the batch whose input
  // passes L2, one pixel at a time from it; both branches the same f32 sums and epilogue.
  it("stride 1, 70 channels: the row walk below the per-pixel batch and one pixel at a time from it give the same f32 sums", async () => {
    const sp = specOf({ h: 4, w: 5, c: 70, m: 1, k: [3, 3], s: [1, 1], d: [1, 1], same: true, n: 1 });
    const from = perPixelFromBatch(sp)!;
    expect(from).toBeGreaterThan(1);
    const def = emitDepthwiseConv2d({ ...sp, bias: true, scale: true, activation: "relu6" });
    expect(def.body).toContain(`if (n >= ${from})`);
    const O = sp.c, n = from, per = sp.h * sp.w * sp.c;
    const em = await buildKernels({ e: def }, Math.ceil((2 * n * per * 4 + 65536 * 2) / 65536));
    const r = rng(4200);
    const x = uniform(r, n * per, -3, 3), w = uniform(r, 9 * O, -1, 1), bias = uniform(r, O, -1, 1), scale = uniform(r, O, 0.5, 2);
    const px = em.putF32(x), pw = em.putF32(w), pb = em.putF32(bias), ps = em.putF32(scale), py = em.putF32(uniform(r, n * per, 5, 9));
    const f = Math.fround;
    const sums = reference(sp, n, x, w, new Array(n * per).fill(0), f).y;
    const want = Array.from(sums, (v, k) => Math.min(Math.max(f(f(v * scale[k % O]!) + bias[k % O]!), 0), 6));
    em.fn.e!(px, pw, py, pb, ps, n); // one pixel at a time
    expect(Array.from(em.f32(py, n * per))).toEqual(want);
    // the row walk (batch n − 1) on garbage-filled outputs: the same values, the last image untouched
    new Float32Array(em.memory.buffer, py, n * per).fill(7);
    em.fn.e!(px, pw, py, pb, ps, n - 1);
    expect(Array.from(em.f32(py, (n - 1) * per))).toEqual(want.slice(0, (n - 1) * per));
    expect(em.f32(py + (n - 1) * per * 4, per).every((v) => v === 7)).toBe(true);
  });

  it("a batch of 0 writes nothing but the zeroed filter gradient", () => {
    mod.reset();
    const sp = specOf(CASES[0]!), nw = sp.kh * sp.kw * sp.c * sp.m;
    const py = mod.putF32([7, 7, 7, 7]), pdw = mod.putF32(new Array(nw).fill(3));
    mod.fn.f0!(mod.alloc(64), mod.alloc(nw * 4), py, 0);
    expect(Array.from(mod.f32(py, 4))).toEqual([7, 7, 7, 7]);
    mod.fn.gf0!(mod.alloc(64), mod.alloc(64), pdw, 0, 0);
    expect(Array.from(mod.f32(pdw, nw)).every((v) => v === 0)).toBe(true);
  });
});
