/**
 * Conv2d forward, input-gradient and filter-gradient emitters against float64 loops written here:
 * same/valid padding, stride 2, dilation 2, c = 1, f = 10, asymmetric padding, multi-block K,
 * bias + relu, accumulate, and the relaxed-SIMD build when this Node accepts it. Then the direct
 * kernels for c ≤ 4 (forward plain and max-pool-fused, and the filter gradient)
 * on c = 1…4, f = 1…64, odd sizes, batch 1/2/3.
 */
import { beforeAll, describe, expect, it } from "vitest";
import {
  directConvApplies, emitConv2d, emitConv2dDirect, emitConv2dGradFilter, emitConv2dGradFilterDirect, emitConv2dGradInput,
  type Conv2dSpec, type DirectConvSpec,
} from "../../compiler/emit/conv.js";
import { emitPool2d } from "../../compiler/emit/pool.js";
import { pointwiseInPlace } from "../../compiler/select/rules.js";
import { preludeFor } from "../../compiler/assemble/prelude.js";
import {
  emitConv2dGradFilterWinograd, emitConv2dGradInputWinograd, emitConv2dWinograd, winogradApplies, winogradGradFilterPays, winogradGradFilterTile,
  winogradGradInputApplies, winogradGradInputPays, winogradGradInputTile, winogradPays, winogradTile, type WinogradTile,
} from "../../compiler/emit/winograd.js";
import { gelu } from "../reference/special.js";
import type { KernelDef } from "../../compiler/emit/kernel.js";
import { buildKernels, relaxedSimdSupported, relErr, rng } from "./harness.js";

interface Case { name: string; spec: Conv2dSpec; n: number }
const base = { sh: 1, sw: 1, dh: 1, dw: 1, padTop: 0, padLeft: 0 };
const cases: Case[] = [
  { name: "same 3x3, bias + relu", n: 2, spec: { ...base, h: 7, w: 7, c: 3, f: 5, kh: 3, kw: 3, padTop: 1, padLeft: 1, oh: 7, ow: 7, bias: true, activation: "relu" } },
  { name: "valid 3x3 non-square", n: 3, spec: { ...base, h: 6, w: 5, c: 4, f: 8, kh: 3, kw: 3, oh: 4, ow: 3 } },
  { name: "stride 2 same, f = 10", n: 2, spec: { ...base, h: 9, w: 9, c: 5, f: 10, kh: 3, kw: 3, sh: 2, sw: 2, padTop: 1, padLeft: 1, oh: 5, ow: 5, bias: true } },
  { name: "dilation 2 valid", n: 2, spec: { ...base, h: 8, w: 9, c: 2, f: 6, kh: 3, kw: 3, dh: 2, dw: 2, oh: 4, ow: 5 } },
  { name: "c = 1, f = 10 (first layer)", n: 3, spec: { ...base, h: 6, w: 6, c: 1, f: 10, kh: 3, kw: 3, padTop: 1, padLeft: 1, oh: 6, ow: 6, bias: true, activation: "relu" } },
  { name: "asymmetric padding, 2x3 kernel", n: 2, spec: { ...base, h: 5, w: 4, c: 3, f: 7, kh: 2, kw: 3, padTop: 0, padLeft: 2, oh: 5, ow: 5 } },
  { name: "multi-block K (c = 48), f = 17", n: 2, spec: { ...base, h: 5, w: 5, c: 48, f: 17, kh: 3, kw: 3, padTop: 1, padLeft: 1, oh: 5, ow: 5, bias: true } },
  { name: "1x1, stride (2,1), f = 1", n: 3, spec: { ...base, h: 5, w: 4, c: 6, f: 1, kh: 1, kw: 1, sh: 2, sw: 1, oh: 3, ow: 4 } },
  { name: "odd everything, c = 33", n: 1, spec: { ...base, h: 7, w: 5, c: 33, f: 3, kh: 3, kw: 2, sh: 2, sw: 1, padTop: 1, padLeft: 0, oh: 4, ow: 4 } },
  { name: "grad-filter tiles of whole taps (c = 200 > 512/3)", n: 1, spec: { ...base, h: 4, w: 4, c: 200, f: 5, kh: 2, kw: 2, padTop: 1, padLeft: 0, oh: 4, ow: 3 } },
  // conv2d_transpose's geometries: x larger than any output pixel reaches (output_padding), rows
  // that no tap writes stay zero; the transposed conv of a 4x4 stride-2 same conv.
  { name: "transposed-conv geometry: output_padding [1, 2] (uncovered bottom/right rows)", n: 2, spec: { ...base, h: 7, w: 14, c: 3, f: 2, kh: 2, kw: 3, sh: 2, sw: 3, oh: 3, ow: 4 } },
  { name: "transposed-conv geometry: 4x4 stride 2 same, output_padding 1", n: 2, spec: { ...base, h: 7, w: 8, c: 4, f: 3, kh: 4, kw: 4, sh: 2, sw: 2, padTop: 1, padLeft: 1, oh: 4, ow: 4 } },
  // 1×1 stride 1 unpadded: A read in place from x (pointwiseInPlace); 75 and 49 rows leave a last
  // micro-tile of fewer than MR rows (staged), 3 rows are fewer than one micro-tile; c not a multiple of 4
  { name: "1x1 in place, c = 7, f = 10, 75 rows, bias + relu6", n: 3, spec: { ...base, h: 5, w: 5, c: 7, f: 10, kh: 1, kw: 1, oh: 5, ow: 5, bias: true, activation: "relu6" } },
  { name: "1x1 in place, c = 16, f = 24, 49 rows, accumulate", n: 1, spec: { ...base, h: 7, w: 7, c: 16, f: 24, kh: 1, kw: 1, oh: 7, ow: 7, accumulate: true } },
  { name: "1x1 in place, c = 5, f = 9, 3 rows", n: 1, spec: { ...base, h: 1, w: 3, c: 5, f: 9, kh: 1, kw: 1, oh: 1, ow: 3, bias: true } },
  // a folded batch normalization's per-filter scale (applied to the packed filters: scaleInB)
  { name: "1x1 in place, c = 24, f = 20, scale + bias + relu6", n: 2, spec: { ...base, h: 6, w: 5, c: 24, f: 20, kh: 1, kw: 1, oh: 6, ow: 5, bias: true, scale: true, activation: "relu6" } },
  { name: "3x3 same, c = 6, f = 11, scale + bias", n: 2, spec: { ...base, h: 6, w: 6, c: 6, f: 11, kh: 3, kw: 3, padTop: 1, padLeft: 1, oh: 6, ow: 6, bias: true, scale: true } },
  { name: "1x1 in place, c = 40, f = 17, 2 x 64 rows, relu", n: 2, spec: { ...base, h: 8, w: 8, c: 40, f: 17, kh: 1, kw: 1, oh: 8, ow: 8, bias: true, activation: "relu" } },
  { name: "accumulate", n: 2, spec: { ...base, h: 6, w: 6, c: 4, f: 9, kh: 3, kw: 3, padTop: 1, padLeft: 1, oh: 6, ow: 6, accumulate: true } },
  { name: "accumulate, many pixels (multi-block grad-filter)", n: 4, spec: { ...base, h: 12, w: 12, c: 8, f: 8, kh: 3, kw: 3, oh: 10, ow: 10, accumulate: true } },
];

const sizes = (c: Case) => {
  const s = c.spec;
  return { x: c.n * s.h * s.w * s.c, w: s.kh * s.kw * s.c * s.f, y: c.n * s.oh * s.ow * s.f };
};

/** Visits every (input, weight, output) index triple that a product x·w contributes to y. */
function forEachTap(c: Case, fn: (xi: number, wi: number, yi: number) => void): void {
  const s = c.spec;
  for (let b = 0; b < c.n; b++) for (let oy = 0; oy < s.oh; oy++) for (let ox = 0; ox < s.ow; ox++)
    for (let ky = 0; ky < s.kh; ky++) for (let kx = 0; kx < s.kw; kx++) {
      const iy = oy * s.sh - s.padTop + ky * s.dh, ix = ox * s.sw - s.padLeft + kx * s.dw;
      if (iy < 0 || iy >= s.h || ix < 0 || ix >= s.w) continue;
      for (let ci = 0; ci < s.c; ci++) for (let fo = 0; fo < s.f; fo++)
        fn(((b * s.h + iy) * s.w + ix) * s.c + ci, ((ky * s.kw + kx) * s.c + ci) * s.f + fo, ((b * s.oh + oy) * s.ow + ox) * s.f + fo);
    }
}

function refForward(c: Case, x: Float32Array, w: Float32Array, y0: Float32Array, bias: Float32Array, scale?: Float32Array): Float64Array {
  const s = c.spec, y = new Float64Array(y0.length);
  forEachTap(c, (xi, wi, yi) => { y[yi] += x[xi] * w[wi]; });
  for (let i = 0; i < y.length; i++) {
    let v = y[i] * (s.scale ? scale![i % s.f] : 1) + (s.bias ? bias[i % s.f] : 0) + (s.accumulate ? y0[i] : 0);
    if (s.activation === "relu") v = Math.max(v, 0);
    if (s.activation === "relu6") v = Math.min(Math.max(v, 0), 6);
    y[i] = v;
  }
  return y;
}
function refGradInput(c: Case, dy: Float32Array, w: Float32Array, dx0: Float32Array): Float64Array {
  const dx = c.spec.accumulate ? Float64Array.from(dx0) : new Float64Array(dx0.length);
  forEachTap(c, (xi, wi, yi) => { dx[xi] += dy[yi] * w[wi]; });
  return dx;
}
function refGradFilter(c: Case, x: Float32Array, dy: Float32Array, dw0: Float32Array): Float64Array {
  const dw = c.spec.accumulate ? Float64Array.from(dw0) : new Float64Array(dw0.length);
  forEachTap(c, (xi, wi, yi) => { dw[wi] += x[xi] * dy[yi]; });
  return dw;
}

type Errors = Map<string, { fwd: number; gin: number; gfil: number }>;

async function runAll(relaxed: boolean): Promise<Errors> {
  const defs: KernelDef[] = cases.flatMap((c) => {
    const s = { ...c.spec, relaxed };
    const grad = { ...s, bias: undefined, scale: undefined, activation: undefined };
    return [emitConv2d(s), emitConv2dGradInput(grad), emitConv2dGradFilter(grad)];
  });
  const mod = await buildKernels(defs, { relaxed });
  const errs: Errors = new Map();
  cases.forEach((c, i) => {
    const r = rng(99 + i), z = sizes(c), s = c.spec;
    const x = r.uniform(z.x), w = r.uniform(z.w), dy = r.uniform(z.y), y0 = r.uniform(z.y), dx0 = r.uniform(z.x), dw0 = r.uniform(z.w), bias = r.uniform(s.f);
    const scale = r.uniform(s.f).map((v) => 0.5 + v);
    const px = mod.alloc(z.x, x), pw = mod.alloc(z.w, w), py = mod.alloc(z.y, y0), pb = mod.alloc(s.f, bias), ps = mod.alloc(s.f, scale);
    const pdy = mod.alloc(z.y, dy), pdx = mod.alloc(z.x, dx0), pdw = mod.alloc(z.w, dw0);
    mod.call(3 * i, px, pw, py, ...(s.bias ? [pb] : []), ...(s.scale ? [ps] : []), mod.scratch, c.n);
    mod.call(3 * i + 1, pdy, pw, pdx, mod.scratch, c.n);
    mod.call(3 * i + 2, px, pdy, pdw, mod.scratch, c.n);
    errs.set(c.name, {
      fwd: relErr(mod.f32(py, z.y), refForward(c, x, w, y0, bias, scale)),
      gin: relErr(mod.f32(pdx, z.x), refGradInput(c, dy, w, dx0)),
      gfil: relErr(mod.f32(pdw, z.w), refGradFilter(c, x, dy, dw0)),
    });
    mod.reset();
  });
  return errs;
}

describe("conv2d emitters", () => {
  let plain: Errors;
  beforeAll(async () => { plain = await runAll(false); });
  for (const c of cases) {
    it(`forward matches the float64 reference: ${c.name}`, () => { expect(plain.get(c.name)!.fwd).toBeLessThan(1e-5); });
    it(`grad-input matches the float64 reference: ${c.name}`, () => { expect(plain.get(c.name)!.gin).toBeLessThan(1e-5); });
    it(`grad-filter matches the float64 reference: ${c.name}`, () => { expect(plain.get(c.name)!.gfil).toBeLessThan(1e-5); });
  }

  it("declares the documented params", () => {
    const s: Conv2dSpec = { ...base, h: 4, w: 4, c: 2, f: 3, kh: 3, kw: 3, oh: 2, ow: 2, bias: true };
    expect(emitConv2d(s).params.map((p) => p.name)).toEqual(["x", "w", "y", "bias", "scratch", "n"]);
    expect(emitConv2dGradInput(s).params.map((p) => p.name)).toEqual(["dy", "w", "dx", "scratch", "n"]);
    expect(emitConv2dGradFilter(s).params.map((p) => p.name)).toEqual(["x", "dy", "dw", "scratch", "n"]);
    expect(emitConv2d(s).params.at(-1)).toEqual({ name: "n", type: "i32" });
  });

  it("reads a 1x1 stride-1 unpadded conv's x in place (no im2col), other 1x1 convs through im2col", () => {
    const pw: Conv2dSpec = { ...base, h: 7, w: 7, c: 16, f: 24, kh: 1, kw: 1, oh: 7, ow: 7 };
    expect(pointwiseInPlace(pw)).toBe(true);
    expect(emitConv2d(pw).body).not.toContain("img_");
    for (const other of [{ ...pw, sh: 2, oh: 4 }, { ...pw, padTop: 1, oh: 8 }, { ...pw, kh: 3, oh: 5 }]) {
      expect(pointwiseInPlace(other)).toBe(false);
      expect(emitConv2d(other).body).toContain("img_");
    }
  });

  it("splits K into whole-tap blocks when kh·kw·c exceeds one block", () => {
    const big: Conv2dSpec = { ...base, h: 5, w: 5, c: 48, f: 17, kh: 3, kw: 3, oh: 3, ow: 3 };
    expect(emitConv2d(big).body).toContain("pc_ += ");
    expect(emitConv2d({ ...big, c: 32 }).body).not.toContain("pc_ += ");
  });

  it("rejects malformed specs", () => {
    expect(() => emitConv2d({ ...base, h: 4, w: 4, c: 0, f: 3, kh: 3, kw: 3, oh: 2, ow: 2 })).toThrow(/c must be/);
    expect(() => emitConv2dGradInput({ ...base, h: 4, w: 4, c: 2, f: 3, kh: 3, kw: 3, oh: 2, ow: 2, padTop: -1 })).toThrow(/padTop/);
  });

  it.runIf(relaxedSimdSupported())("relaxed-SIMD build matches the reference", async () => {
    const relaxed = await runAll(true);
    for (const c of cases) {
      const e = relaxed.get(c.name)!;
      expect(Math.max(e.fwd, e.gin, e.gfil), c.name).toBeLessThan(1e-5);
    }
  });
});

/** Winograd F(2×2,3×3) forward: 3×3 stride 1 only; odd sizes, partial tiles, channel/filter remainders. */
const wcases: Case[] = (() => {
  const w3 = { ...base, kh: 3, kw: 3 };
  const valid = (n: number, h: number, w: number, c: number, f: number, extra: Partial<Conv2dSpec> = {}) =>
    ({ n, spec: { ...w3, h, w, c, f, oh: h - 2, ow: w - 2, ...extra } });
  const same = (n: number, h: number, w: number, c: number, f: number, extra: Partial<Conv2dSpec> = {}) =>
    ({ n, spec: { ...w3, h, w, c, f, padTop: 1, padLeft: 1, oh: h, ow: w, ...extra } });
  const list: Array<{ n: number; spec: Conv2dSpec }> = [
    valid(3, 13, 13, 32, 64, { bias: true, activation: "relu" }), // the seed CNN's conv2 shape
    valid(1, 5, 5, 64, 64, { bias: true, activation: "relu" }), // conv3: output 3×3
    same(3, 7, 7, 8, 8, { bias: true, activation: "relu" }),
    valid(1, 3, 3, 13, 5), // output 1×1
    valid(3, 4, 4, 5, 13, { bias: true }), // output 2×2
    valid(1, 7, 9, 3, 1, { activation: "tanh" }), // output 5×7
    same(3, 5, 7, 1, 3, { activation: "sigmoid" }),
    same(1, 6, 5, 13, 17, { bias: true, activation: "relu" }),
    valid(3, 12, 11, 16, 24, { accumulate: true, bias: true }),
    same(2, 9, 8, 8, 40, { activation: "gelu" }), // 40 filters: full panels + a tail panel in both builds
    same(1, 2, 3, 4, 4), // image smaller than one 4×4 patch: every tile is a border tile
    { n: 2, spec: { ...w3, h: 6, w: 7, c: 6, f: 9, padTop: 2, padLeft: 0, oh: 6, ow: 5 } }, // asymmetric padding
    { n: 2, spec: { ...w3, h: 5, w: 6, c: 7, f: 4, padTop: 0, padLeft: 1, oh: 4, ow: 5, accumulate: true } }, // bottom pad 1, right pad 0
  ];
  return list.map(({ n, spec }) => ({
    n, spec,
    name: `winograd ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f} pad ${spec.padTop},${spec.padLeft} n=${n}` +
      `${spec.bias ? " bias" : ""}${spec.activation ? " " + spec.activation : ""}${spec.accumulate ? " accumulate" : ""}`,
  }));
})();

function refActivation(act: string | undefined, v: number): number {
  switch (act ?? "linear") {
    case "linear": return v;
    case "relu": return Math.max(v, 0);
    case "tanh": return Math.tanh(v);
    case "sigmoid": return 1 / (1 + Math.exp(-v));
    case "gelu": return gelu(v);
    default: throw new Error(`no reference for ${act}`);
  }
}
async function runWinograd(relaxed: boolean, m: WinogradTile = 2, list: readonly Case[] = wcases): Promise<Map<string, number>> {
  const defs = list.map((c) => emitConv2dWinograd({ ...c.spec, relaxed }, m));
  const mod = await buildKernels(defs, { relaxed, prelude: preludeFor(defs.flatMap((d) => d.needs ?? [])) });
  const errs = new Map<string, number>();
  list.forEach((c, i) => {
    const r = rng(500 + i), z = sizes(c), s = c.spec;
    const x = r.uniform(z.x), w = r.uniform(z.w), y0 = r.uniform(z.y), bias = r.uniform(s.f);
    const px = mod.alloc(z.x, x), pw = mod.alloc(z.w, w), py = mod.alloc(z.y, y0), pb = mod.alloc(s.f, bias);
    const guard = mod.alloc(16, new Float32Array(16).fill(7)); // right after y: must stay untouched
    mod.call(i, px, pw, py, ...(s.bias ? [pb] : []), mod.scratch, c.n);
    const lin = refForward({ ...c, spec: { ...s, activation: undefined } }, x, w, y0, bias);
    const ref = Float64Array.from(lin, (v) => refActivation(s.activation, v));
    errs.set(c.name, mod.f32(guard, 16).every((v) => v === 7) ? relErr(mod.f32(py, z.y), ref) : Infinity);
    mod.reset();
  });
  return errs;
}

/** Input gradient through the same machinery (the transposed conv of dy), plain or relaxed. */
async function runWinogradGradInput(relaxed: boolean, m: WinogradTile = 2, list: readonly Case[] = wcases): Promise<Map<string, number>> {
  const grads = list.map((c) => ({ ...c, spec: { ...c.spec, bias: undefined, activation: undefined } }));
  const mod = await buildKernels(grads.map((c) => emitConv2dGradInputWinograd({ ...c.spec, relaxed }, m)), { relaxed });
  const errs = new Map<string, number>();
  grads.forEach((c, i) => {
    const r = rng(900 + i), z = sizes(c);
    const dy = r.uniform(z.y), w = r.uniform(z.w), dx0 = r.uniform(z.x);
    const pdy = mod.alloc(z.y, dy), pw = mod.alloc(z.w, w), pdx = mod.alloc(z.x, dx0);
    const guard = mod.alloc(16, new Float32Array(16).fill(7));
    mod.call(i, pdy, pw, pdx, mod.scratch, c.n);
    const ok = mod.f32(guard, 16).every((v) => v === 7);
    errs.set(c.name, ok ? relErr(mod.f32(pdx, z.x), refGradInput(c, dy, w, dx0)) : Infinity);
    mod.reset();
  });
  return errs;
}

/**
 * One test per case that the plain build is within `tol` (default 1e-5) of the float64 reference
 * (errors from `run`, keyed by case name), and one that the relaxed-SIMD build is, where this Node
 * has it.
 */
function referenceTests(what: string, cases: readonly { name: string }[], run: (relaxed: boolean) => Promise<Map<string, number>>,
  label = (name: string) => name, tol = 1e-5): void {
  let plain: Map<string, number>;
  beforeAll(async () => { plain = await run(false); });
  for (const c of cases) {
    it(`${what}matches the float64 reference: ${label(c.name)}`, () => { expect(plain.get(c.name)!).toBeLessThan(tol); });
  }
  it.runIf(relaxedSimdSupported())(`relaxed-SIMD build: ${what}matches the reference`, async () => {
    const relaxed = await run(true);
    for (const c of cases) expect(relaxed.get(c.name)!, c.name).toBeLessThan(tol);
  });
}

describe("conv2d Winograd F(2x2,3x3) emitter", () => {
  referenceTests("grad-input ", wcases, runWinogradGradInput, (name) => name.replace(/ bias| relu| tanh| sigmoid| gelu/g, ""));
  referenceTests("", wcases, runWinograd);

  it("is selected where it has enough whole 2x2 tiles (the measured rule)", () => {
    const conv2: Conv2dSpec = { ...base, h: 13, w: 13, c: 32, f: 64, kh: 3, kw: 3, oh: 11, ow: 11 };
    const conv3: Conv2dSpec = { ...conv2, h: 5, w: 5, c: 64, oh: 3, ow: 3 };
    expect([winogradPays(conv2), winogradGradInputPays(conv2)]).toEqual([true, true]);
    expect([winogradPays(conv3), winogradGradInputPays(conv3)]).toEqual([true, false]); // dx 5×5 from 3×3: 9 tiles
    expect(winogradPays({ ...conv2, h: 3, w: 3, oh: 1, ow: 1 })).toBe(false); // 16 products for 9
    expect(winogradPays({ ...conv2, sh: 2, oh: 6, ow: 6 })).toBe(false);
    expect(winogradGradInputPays({ ...conv2, c: 3 })).toBe(false);
    expect(winogradPays({ ...conv2, c: 512, f: 512 })).toBe(false); // scratch cap
  });

  it("grad-input applies to paddings up to 2 and takes emitConv2dGradInput's params", () => {
    const s: Conv2dSpec = { ...base, h: 6, w: 6, c: 8, f: 8, kh: 3, kw: 3, padTop: 2, padLeft: 2, oh: 8, ow: 8 };
    expect(winogradGradInputApplies(s)).toBe(true);
    expect(winogradGradInputApplies({ ...s, padTop: 3, oh: 9 })).toBe(false);
    expect(emitConv2dGradInputWinograd(s).params).toEqual(emitConv2dGradInput(s).params);
  });

  it("takes the same params as emitConv2d and applies to 3x3 stride-1 undilated convs only", () => {
    const s: Conv2dSpec = { ...base, h: 6, w: 6, c: 8, f: 8, kh: 3, kw: 3, oh: 4, ow: 4, bias: true };
    expect(emitConv2dWinograd(s).params).toEqual(emitConv2d(s).params);
    expect(winogradApplies(s)).toBe(true);
    expect(winogradApplies({ ...s, sh: 2, oh: 2 })).toBe(false);
    expect(winogradApplies({ ...s, dw: 2, ow: 2 })).toBe(false);
    expect(winogradApplies({ ...s, kh: 2, oh: 5 })).toBe(false);
    expect(() => emitConv2dWinograd({ ...s, kw: 5, ow: 2 })).toThrow(/3x3/);
  });

  it("is deterministic: two runs give the same bits", async () => {
    const c = wcases[0], mod = await buildKernels([emitConv2dWinograd(c.spec)]);
    const r = rng(3), z = sizes(c);
    const px = mod.alloc(z.x, r.uniform(z.x)), pw = mod.alloc(z.w, r.uniform(z.w)), pb = mod.alloc(c.spec.f, r.uniform(c.spec.f));
    const py = mod.alloc(z.y), py2 = mod.alloc(z.y);
    mod.call(0, px, pw, py, pb, mod.scratch, c.n);
    mod.call(0, px, pw, py2, pb, mod.scratch, c.n);
    expect(Buffer.from(mod.f32(py, z.y).buffer.slice(py, py + 4 * z.y)).equals(Buffer.from(mod.f32(py2, z.y).buffer.slice(py2, py2 + 4 * z.y)))).toBe(true);
  });
});

/**
 * Winograd F(4×4,3×3), forward and input gradient: every F(2×2) case (outputs 1×1, 2×2, 3×3, 5×7,
 * 11×11, c and f of 1, 3, 5, 13, 17, 40, bias, relu/tanh/sigmoid/gelu, accumulate, batch 1–3,
 * borders) plus shapes the 4×4 tiles meet differently: whole tiles only (output 4×4 and 8×8),
 * 13×13 same (3 of 16 tile rows/columns cut off), 8×5. Relative errors measured, plain and relaxed:
 * forward 2e-7…1.4e-6, input gradient 2.4e-7…1.7e-6 (F(2×2): ≤ 3.2e-7), checked against the
 * suites' 1e-5 (10× below the 1e-4 kiln allows).
 */
const wcases4: Case[] = [
  ...wcases,
  ...(() => {
    const w3 = { ...base, kh: 3, kw: 3 };
    const list: Array<{ n: number; spec: Conv2dSpec }> = [
      { n: 3, spec: { ...w3, h: 6, w: 6, c: 8, f: 8, oh: 4, ow: 4, bias: true, activation: "relu" } }, // one whole tile
      { n: 1, spec: { ...w3, h: 10, w: 10, c: 16, f: 16, oh: 8, ow: 8 } }, // whole tiles, no flags
      { n: 2, spec: { ...w3, h: 13, w: 13, c: 5, f: 3, padTop: 1, padLeft: 1, oh: 13, ow: 13, activation: "relu" } },
      { n: 2, spec: { ...w3, h: 10, w: 7, c: 13, f: 1, oh: 8, ow: 5, bias: true } },
    ];
    return list.map(({ n, spec }) => ({
      n, spec,
      name: `winograd ${spec.h}x${spec.w}x${spec.c}->${spec.oh}x${spec.ow}x${spec.f} pad ${spec.padTop},${spec.padLeft} n=${n}` +
        `${spec.bias ? " bias" : ""}${spec.activation ? " " + spec.activation : ""}`,
    }));
  })(),
];

describe("conv2d Winograd F(4x4,3x3) emitter", () => {
  const noEpilogue = (name: string) => name.replace(/ bias| relu| tanh| sigmoid| gelu/g, "");
  referenceTests("F4 grad-input ", wcases4, (relaxed) => runWinogradGradInput(relaxed, 4, wcases4), noEpilogue);
  referenceTests("F4 ", wcases4, (relaxed) => runWinograd(relaxed, 4, wcases4));

  it("is deterministic and thread-split safe: a batch in one call equals the same examples in two calls", async () => {
    const c = wcases[0], s = c.spec, mod = await buildKernels([emitConv2dWinograd(s, 4), emitConv2dGradInputWinograd(s, 4)]);
    const r = rng(4), z = sizes(c), perX = s.h * s.w * s.c, perY = s.oh * s.ow * s.f;
    const px = mod.alloc(z.x, r.uniform(z.x)), pw = mod.alloc(z.w, r.uniform(z.w)), pb = mod.alloc(s.f, r.uniform(s.f));
    const pdy = mod.alloc(z.y, r.uniform(z.y));
    const py = mod.alloc(z.y), py2 = mod.alloc(z.y), pdx = mod.alloc(z.x), pdx2 = mod.alloc(z.x);
    mod.call(0, px, pw, py, pb, mod.scratch, c.n);
    mod.call(0, px, pw, py2, pb, mod.scratch, 1); // example 0, then examples 1..n-1 (a thread's share)
    mod.call(0, px + 4 * perX, pw, py2 + 4 * perY, pb, mod.scratch, c.n - 1);
    mod.call(1, pdy, pw, pdx, mod.scratch, c.n);
    mod.call(1, pdy, pw, pdx2, mod.scratch, 1);
    mod.call(1, pdy + 4 * perY, pw, pdx2 + 4 * perX, mod.scratch, c.n - 1);
    const bits = (p: number, k: number) => Array.from(new Uint32Array(mod.memory.buffer, p, k));
    expect(bits(py2, z.y)).toEqual(bits(py, z.y));
    expect(bits(pdx2, z.x)).toEqual(bits(pdx, z.x));
  });

  it("rejects tile sizes other than 2 and 4", () => {
    const s = wcases[0].spec;
    expect(() => emitConv2dWinograd(s, 3 as WinogradTile)).toThrow(/tile size/);
    expect(() => emitConv2dGradInputWinograd(s, 6 as WinogradTile)).toThrow(/tile size/);
  });

  it("is selected by the measured rule: the seed CNN's conv2 both ways, not conv3, few tiles or little saving", () => {
    const conv2: Conv2dSpec = { ...base, h: 13, w: 13, c: 32, f: 64, kh: 3, kw: 3, oh: 11, ow: 11 };
    expect([winogradTile(conv2), winogradGradInputTile(conv2)]).toEqual([4, 4]);
    expect(winogradTile({ ...conv2, h: 5, w: 5, c: 64, oh: 3, ow: 3 })).toBe(2); // conv3: one 4×4 tile per image
    expect(winogradTile({ ...conv2, h: 32, w: 32, c: 32, f: 32, padTop: 1, padLeft: 1, oh: 32, ow: 32 })).toBe(4);
    expect(winogradTile({ ...conv2, h: 10, w: 10, oh: 8, ow: 8 })).toBe(4); // 4 tiles per image
    expect(winogradGradInputTile({ ...conv2, h: 10, w: 10, oh: 8, ow: 8 })).toBe(2); // dx 10×10: 1.24× fewer products
    expect([winogradTile({ ...conv2, c: 8, f: 8 }), winogradGradInputTile({ ...conv2, c: 4, f: 32 })]).toEqual([4, 4]);
    expect(winogradTile({ ...conv2, h: 7, w: 7, oh: 5, ow: 5 })).toBe(2); // 5×5: F(4×4) saves no products
    expect(winogradTile({ ...conv2, c: 256, f: 256 })).toBe(2); // scratch cap
  });
});

/**
 * The direct small-channel forward kernel (emitConv2dDirect) and its max-pool-fused form, against
 * float64 loops, and bit for bit against the GEMM kernel (same k order and epilogue) and against
 * the GEMM kernel followed by the pool kernel.
 */
describe("conv2d direct kernel (c ≤ 4)", () => {
  interface DCase { name: string; n: number; spec: DirectConvSpec }
  const dcases: DCase[] = [
    { name: "seed conv1: 28x28x1 -> 26x26x32, bias + relu", n: 3, spec: { ...base, h: 28, w: 28, c: 1, f: 32, kh: 3, kw: 3, oh: 26, ow: 26, bias: true, activation: "relu" } },
    { name: "c = 1, f = 10, same, batch 1", n: 1, spec: { ...base, h: 7, w: 9, c: 1, f: 10, kh: 3, kw: 3, padTop: 1, padLeft: 1, oh: 7, ow: 9, bias: true, activation: "relu" } },
    { name: "c = 2, f = 5, same, no bias", n: 3, spec: { ...base, h: 5, w: 6, c: 2, f: 5, kh: 3, kw: 3, padTop: 1, padLeft: 1, oh: 5, ow: 6 } },
    { name: "c = 3, f = 17, stride 2 same, sigmoid", n: 2, spec: { ...base, h: 9, w: 8, c: 3, f: 17, kh: 3, kw: 3, sh: 2, sw: 2, padTop: 1, padLeft: 0, oh: 5, ow: 4, bias: true, activation: "sigmoid" } },
    { name: "c = 4, f = 3, valid odd sizes", n: 3, spec: { ...base, h: 7, w: 5, c: 4, f: 3, kh: 3, kw: 3, oh: 5, ow: 3, bias: true } },
    { name: "c = 1, f = 1, 5x5 same", n: 2, spec: { ...base, h: 6, w: 7, c: 1, f: 1, kh: 5, kw: 5, padTop: 2, padLeft: 2, oh: 6, ow: 7, bias: true, activation: "relu" } },
    { name: "c = 2, f = 64, dilation 2, stride (2,1)", n: 2, spec: { ...base, h: 9, w: 8, c: 2, f: 64, kh: 3, kw: 2, dh: 2, dw: 2, sh: 2, sw: 1, oh: 3, ow: 6, bias: true, activation: "relu" } },
    { name: "c = 3, f = 8, 1x1, 3 pixels (fewer than a block)", n: 3, spec: { ...base, h: 1, w: 3, c: 3, f: 8, kh: 1, kw: 1, oh: 1, ow: 3, bias: true } },
    { name: "c = 1, f = 36, asymmetric padding, 2x3", n: 2, spec: { ...base, h: 5, w: 4, c: 1, f: 36, kh: 2, kw: 3, padTop: 0, padLeft: 2, oh: 5, ow: 5, activation: "relu" } },
    { name: "c = 1, f = 32, pixels 3 x vectors 4 (tuning override)", n: 2, spec: { ...base, h: 8, w: 7, c: 1, f: 32, kh: 3, kw: 3, oh: 6, ow: 5, bias: true, activation: "relu", pixels: 3, vectors: 4 } },
    // Fused 2x2 max-pool (valid, stride 2): odd conv outputs drop their last row/column.
    { name: "pooled: seed conv1 + pool1", n: 3, spec: { ...base, h: 28, w: 28, c: 1, f: 32, kh: 3, kw: 3, oh: 26, ow: 26, bias: true, activation: "relu", pool: { ph: 2, pw: 2, poh: 13, pow: 13 } } },
    { name: "pooled: c = 3, f = 10, same, odd output 7x5, batch 1", n: 1, spec: { ...base, h: 7, w: 5, c: 3, f: 10, kh: 3, kw: 3, padTop: 1, padLeft: 1, oh: 7, ow: 5, bias: true, activation: "relu", pool: { ph: 2, pw: 2, poh: 3, pow: 2 } } },
    { name: "pooled: c = 2, f = 5, stride 2, linear, no bias", n: 2, spec: { ...base, h: 11, w: 10, c: 2, f: 5, kh: 3, kw: 3, sh: 2, sw: 2, oh: 5, ow: 4, pool: { ph: 2, pw: 2, poh: 2, pow: 2 } } },
    { name: "pooled: c = 4, f = 17, sigmoid", n: 2, spec: { ...base, h: 8, w: 8, c: 4, f: 17, kh: 3, kw: 3, oh: 6, ow: 6, bias: true, activation: "sigmoid", pool: { ph: 2, pw: 2, poh: 3, pow: 3 } } },
  ];
  const act = (a: string | undefined, v: number) => (a === "relu" ? Math.max(v, 0) : a === "sigmoid" ? 1 / (1 + Math.exp(-v)) : v);
  const poolSpec = (s: DirectConvSpec) => ({ kind: "max" as const, h: s.oh, w: s.ow, c: s.f, ph: 2, pw: 2, sh: 2, sw: 2, padTop: 0, padLeft: 0, oh: s.pool!.poh, ow: s.pool!.pow });

  function refDirect(c: DCase, x: Float32Array, w: Float32Array, bias: Float32Array): Float64Array {
    const s = c.spec, y = new Float64Array(c.n * s.oh * s.ow * s.f);
    forEachTap({ name: c.name, n: c.n, spec: s }, (xi, wi, yi) => { y[yi] += x[xi] * w[wi]; });
    for (let i = 0; i < y.length; i++) y[i] = act(s.activation, y[i] + (s.bias ? bias[i % s.f] : 0));
    if (!s.pool) return y;
    const p = s.pool, out = new Float64Array(c.n * p.poh * p.pow * s.f).fill(-Infinity);
    for (let b = 0; b < c.n; b++) for (let py = 0; py < p.poh; py++) for (let px = 0; px < p.pow; px++) for (let a = 0; a < 4; a++) for (let fo = 0; fo < s.f; fo++) {
      const o = ((b * p.poh + py) * p.pow + px) * s.f + fo;
      out[o] = Math.max(out[o], y[((b * s.oh + 2 * py + (a >> 1)) * s.ow + 2 * px + (a & 1)) * s.f + fo]);
    }
    return out;
  }

  async function runDirect(relaxed: boolean, nan = false) {
    // Per case: the direct kernel, the GEMM kernel, and (pooled cases) the pool kernel.
    const defs: KernelDef[] = dcases.flatMap((c) => {
      const { pool, pixels, vectors, ...plain } = c.spec;
      return [emitConv2dDirect({ ...c.spec, relaxed }), emitConv2d({ ...plain, relaxed }), emitPool2d(pool ? poolSpec(c.spec) : { kind: "max", h: 1, w: 1, c: 1, ph: 1, pw: 1, sh: 1, sw: 1, padTop: 0, padLeft: 0, oh: 1, ow: 1 })];
    });
    const needs = [...new Set(defs.flatMap((d) => d.needs ?? []))];
    const mod = await buildKernels(defs, { relaxed, prelude: preludeFor(needs), pages: 512 });
    return dcases.map((c, i) => {
      const s = c.spec, r = rng(500 + i);
      const nx = c.n * s.h * s.w * s.c, ny = c.n * s.oh * s.ow * s.f;
      const ny2 = s.pool ? c.n * s.pool.poh * s.pool.pow * s.f : ny;
      const x = r.uniform(nx), w = r.uniform(s.kh * s.kw * s.c * s.f), bias = r.uniform(s.f);
      if (nan) for (let k = 0; k < nx; k += 37) x[k] = NaN;
      const px = mod.alloc(nx, x), pw = mod.alloc(w.length, w), pb = mod.alloc(s.f, bias);
      const py = mod.alloc(ny2), pg = mod.alloc(ny), pp = mod.alloc(ny2);
      const bargs = s.bias ? [pb] : [];
      mod.call(3 * i, px, pw, py, ...bargs, mod.scratch, c.n);
      mod.call(3 * i + 1, px, pw, pg, ...bargs, mod.scratch, c.n);
      if (s.pool) mod.call(3 * i + 2, pg, pp, c.n);
      const direct = Array.from(mod.f32(py, ny2)), gemm = Array.from(mod.f32(s.pool ? pp : pg, ny2));
      mod.reset();
      return { err: relErr(direct, refDirect(c, x, w, bias)), sameBits: direct.every((v, k) => Object.is(v, gemm[k])) };
    });
  }

  let plainRes: { err: number; sameBits: boolean }[];
  beforeAll(async () => { plainRes = await runDirect(false); });
  dcases.forEach((c, i) => {
    it(`matches the float64 reference and the GEMM kernel${c.spec.pool ? " + pool kernel" : ""} bit for bit: ${c.name}, batch ${c.n}`, () => {
      expect(plainRes[i]!.err).toBeLessThan(1e-5);
      expect(plainRes[i]!.sameBits).toBe(true);
    });
  });

  it("NaN inputs: still bit for bit the GEMM kernel (+ pool kernel) — relu and pool fold keep NaN", async () => {
    const res = await runDirect(false, true);
    dcases.forEach((c, i) => expect(res[i]!.sameBits, c.name).toBe(true));
  });

  it.runIf(relaxedSimdSupported())("relaxed-SIMD build matches the reference", async () => {
    const res = await runDirect(true);
    dcases.forEach((c, i) => expect(res[i]!.err, c.name).toBeLessThan(1e-5));
  });

  describe("filter gradient (emitConv2dGradFilterDirect)", () => {
    // Every unpooled forward case plus accumulate and stride-2 same cases, against the float64 loop.
    const gcases: Case[] = [
      ...dcases.filter((c) => !c.spec.pool).map((c) => {
        const { pixels, vectors, bias, activation, ...plain } = c.spec;
        return { name: c.name, n: c.n, spec: plain };
      }),
      { name: "accumulate, c = 4, same", n: 2, spec: { ...base, h: 6, w: 6, c: 4, f: 9, kh: 3, kw: 3, padTop: 1, padLeft: 1, oh: 6, ow: 6, accumulate: true } },
      { name: "c = 2, f = 7, stride 2 same (bottom/right padding)", n: 3, spec: { ...base, h: 8, w: 7, c: 2, f: 7, kh: 3, kw: 3, sh: 2, sw: 2, padTop: 0, padLeft: 1, oh: 4, ow: 4 } },
    ];
    let errs: number[];
    beforeAll(async () => {
      const mod = await buildKernels(gcases.map((c) => emitConv2dGradFilterDirect(c.spec)), { pages: 512 });
      errs = gcases.map((c, i) => {
        const r = rng(900 + i), z = sizes(c);
        const x = r.uniform(z.x), dy = r.uniform(z.y), dw0 = r.uniform(z.w);
        const px = mod.alloc(z.x, x), pdy = mod.alloc(z.y, dy), pdw = mod.alloc(z.w, dw0);
        mod.call(i, px, pdy, pdw, mod.scratch, c.n);
        const err = relErr(mod.f32(pdw, z.w), refGradFilter(c, x, dy, dw0));
        mod.reset();
        return err;
      });
    });
    it.runIf(relaxedSimdSupported())("relaxed-SIMD build matches the reference", async () => {
      const mod = await buildKernels(gcases.map((c) => emitConv2dGradFilterDirect({ ...c.spec, relaxed: true })), { pages: 512, relaxed: true });
      gcases.forEach((c, i) => {
        const r = rng(900 + i), z = sizes(c);
        const x = r.uniform(z.x), dy = r.uniform(z.y), dw0 = r.uniform(z.w);
        const px = mod.alloc(z.x, x), pdy = mod.alloc(z.y, dy), pdw = mod.alloc(z.w, dw0);
        mod.call(i, px, pdy, pdw, mod.scratch, c.n);
        expect(relErr(mod.f32(pdw, z.w), refGradFilter(c, x, dy, dw0)), c.name).toBeLessThan(1e-5);
        mod.reset();
      });
    });
    gcases.forEach((c, i) => {
      it(`matches the float64 reference: ${c.name}, batch ${c.n}`, () => {
        expect(errs[i]!).toBeLessThan(1e-5);
      });
    });
  });

  it("applies to c ≤ 4 with at most 36 taps·channels only, and refuses the rest", () => {
    const s = { ...base, h: 8, w: 8, c: 4, f: 8, kh: 3, kw: 3, oh: 6, ow: 6 };
    expect(directConvApplies(s)).toBe(true);
    expect(directConvApplies({ ...s, c: 5 })).toBe(false);
    expect(directConvApplies({ ...s, c: 2, kh: 5, kw: 5, oh: 4, ow: 4 })).toBe(false);
    expect(() => emitConv2dDirect({ ...s, c: 5 })).toThrow(/c ≤ 4/);
    expect(() => emitConv2dDirect({ ...s, accumulate: true })).toThrow(/accumulate/);
    expect(emitConv2dDirect({ ...s, bias: true }).params.map((p) => p.name)).toEqual(["x", "w", "y", "bias", "scratch", "n"]);
  });
});

/**
 * Winograd filter gradient: every forward Winograd shape plus outputs 1×1…5×7, c and f of 1, 3, 5,
 * 13, 17, asymmetric padding and accumulate.
 * `tiles` shrinks the tile block so M accumulates over many blocks (and over a partial last one).
 */
interface GfCase extends Case { tiles?: number }
const gfcases: GfCase[] = (() => {
  const w3 = { ...base, kh: 3, kw: 3 };
  const list: GfCase[] = wcases.map((c) => ({ ...c, spec: { ...c.spec, bias: undefined, activation: undefined } }));
  const add = (n: number, spec: Conv2dSpec, extra: Partial<GfCase> = {}) => list.push({ n, spec, name: "", ...extra });
  add(1, { ...w3, h: 3, w: 3, c: 1, f: 1, oh: 1, ow: 1 }); // one partial tile, c = f = 1
  add(2, { ...w3, h: 4, w: 5, c: 3, f: 5, oh: 2, ow: 3 });
  add(2, { ...w3, h: 8, w: 7, c: 2, f: 12, padTop: 1, padLeft: 1, oh: 8, ow: 7 }); // c = 2: a 2-row micro-kernel
  add(3, { ...w3, h: 7, w: 9, c: 5, f: 3, oh: 5, ow: 7 }); // output 5×7
  add(1, { ...w3, h: 9, w: 7, c: 17, f: 13, padTop: 1, padLeft: 1, oh: 9, ow: 7 });
  add(2, { ...w3, h: 6, w: 7, c: 13, f: 17, padTop: 2, padLeft: 0, oh: 6, ow: 5, accumulate: true }); // asymmetric padding
  add(3, { ...w3, h: 28, w: 28, c: 1, f: 32, oh: 26, ow: 26 }); // the seed CNN's conv1
  add(2, { ...w3, h: 13, w: 13, c: 32, f: 64, oh: 11, ow: 11 }, { tiles: 8 }); // conv2, many blocks
  add(3, { ...w3, h: 5, w: 6, c: 7, f: 9, padTop: 1, padLeft: 2, oh: 4, ow: 5 }, { tiles: 4 }); // 3 of 7 tiles in the last block
  add(2, { ...w3, h: 13, w: 13, c: 32, f: 64, oh: 11, ow: 11, accumulate: true }); // conv2, accumulating
  add(1, { ...w3, h: 8, w: 8, c: 4, f: 40, padTop: 1, padLeft: 1, oh: 8, ow: 8 }); // a tail panel
  return list.map((c) => {
    const s = c.spec;
    const name = `winograd grad-filter ${s.h}x${s.w}x${s.c}->${s.oh}x${s.ow}x${s.f} pad ${s.padTop},${s.padLeft} n=${c.n}` +
      `${s.accumulate ? " accumulate" : ""}${c.tiles ? ` tiles=${c.tiles}` : ""}`;
    return { ...c, name };
  });
})();

/** Errors per case with m×m tiles; Infinity when bytes past dw changed (the guard). */
async function runWinogradGradFilter(relaxed: boolean, m: 2 | 4 = 2): Promise<Map<string, number>> {
  const defs = gfcases.map((c) => {
    const s = { ...c.spec, relaxed };
    return emitConv2dGradFilterWinograd(s, m, c.tiles);
  });
  const mod = await buildKernels(defs, { relaxed });
  const errs = new Map<string, number>();
  gfcases.forEach((c, i) => {
    const r = rng(1300 + i), z = sizes(c);
    const x = r.uniform(z.x), dy = r.uniform(z.y), dw0 = r.uniform(z.w);
    const px = mod.alloc(z.x, x), pdy = mod.alloc(z.y, dy), pdw = mod.alloc(z.w, dw0);
    const guard = mod.alloc(16, new Float32Array(16).fill(7));
    mod.call(i, px, pdy, pdw, mod.scratch, c.n);
    const untouched = mod.f32(guard, 16).every((v) => v === 7);
    errs.set(c.name, untouched ? relErr(mod.f32(pdw, z.w), refGradFilter(c, x, dy, dw0)) : Infinity);
    mod.reset();
  });
  return errs;
}

describe("conv2d Winograd F(2x2,3x3) filter gradient", () => {
  referenceTests("", gfcases, runWinogradGradFilter);

  it("is selected by the measured rule: the seed CNN's convs, not outputs 1x1 or 1x11", () => {
    const conv2: Conv2dSpec = { ...base, h: 13, w: 13, c: 32, f: 64, kh: 3, kw: 3, oh: 11, ow: 11 };
    expect(winogradGradFilterPays(conv2)).toBe(true);
    expect(winogradGradFilterPays({ ...conv2, h: 5, w: 5, c: 64, oh: 3, ow: 3 })).toBe(true); // conv3
    expect(winogradGradFilterPays({ ...conv2, h: 28, w: 28, c: 1, f: 32, oh: 26, ow: 26 })).toBe(true); // conv1
    expect(winogradGradFilterPays({ ...conv2, h: 3, w: 3, oh: 1, ow: 1 })).toBe(false);
    expect(winogradGradFilterPays({ ...conv2, h: 3, oh: 1 })).toBe(false);
    expect(winogradGradFilterPays({ ...conv2, sh: 2, oh: 6, ow: 6 })).toBe(false);
    expect(winogradGradFilterPays({ ...conv2, c: 512, f: 512 })).toBe(false); // scratch cap
  });

  it("takes emitConv2dGradFilter's params and rejects what it cannot compute", () => {
    const s: Conv2dSpec = { ...base, h: 6, w: 6, c: 8, f: 8, kh: 3, kw: 3, oh: 4, ow: 4 };
    expect(emitConv2dGradFilterWinograd(s).params).toEqual(emitConv2dGradFilter(s).params);
    expect(() => emitConv2dGradFilterWinograd({ ...s, sh: 2, oh: 2, ow: 2 })).toThrow(/3x3/);
  });

  it("is deterministic: two runs give the same bits", async () => {
    const c = gfcases[0], mod = await buildKernels([emitConv2dGradFilterWinograd(c.spec)]);
    const r = rng(4), z = sizes(c);
    const px = mod.alloc(z.x, r.uniform(z.x)), pdy = mod.alloc(z.y, r.uniform(z.y));
    const pdw = mod.alloc(z.w), pdw2 = mod.alloc(z.w);
    mod.call(0, px, pdy, pdw, mod.scratch, c.n);
    mod.call(0, px, pdy, pdw2, mod.scratch, c.n);
    expect(Array.from(mod.f32(pdw, z.w))).toEqual(Array.from(mod.f32(pdw2, z.w)));
  });
});

describe("conv2d Winograd F(4x4,3x3) filter gradient", () => {
  // the same cases as F(2×2): partial 4×4 dy tiles (outputs 1×1 … 9×7, 11×11), blocks of 4 and 8 tiles, accumulate
  referenceTests("F(4x4) ", gfcases, (relaxed) => runWinogradGradFilter(relaxed, 4));

  it("is selected by the measured rule: the seed CNN's conv2 and conv1, not conv3 (one tile per image)", () => {
    const conv2: Conv2dSpec = { ...base, h: 13, w: 13, c: 32, f: 64, kh: 3, kw: 3, oh: 11, ow: 11 };
    expect(winogradGradFilterTile(conv2)).toBe(4);
    expect(winogradGradFilterTile({ ...conv2, h: 28, w: 28, c: 1, f: 32, oh: 26, ow: 26 })).toBe(4); // conv1 (the direct kernel takes it: prims/conv.ts)
    expect(winogradGradFilterTile({ ...conv2, h: 5, w: 5, c: 64, oh: 3, ow: 3 })).toBe(2); // conv3
    expect(winogradGradFilterTile({ ...conv2, h: 7, w: 7, oh: 5, ow: 5 })).toBe(2); // output 5×5: no saving
    expect(winogradGradFilterTile({ ...conv2, c: 256, f: 256 })).toBe(2); // F(4×4) scratch cap
  });

  it("is deterministic and rejects tile sizes other than 2 and 4", async () => {
    const c = gfcases.find((g) => g.spec.c === 32 && !g.spec.accumulate)!, mod = await buildKernels([emitConv2dGradFilterWinograd(c.spec, 4)]);
    const r = rng(5), z = sizes(c);
    const px = mod.alloc(z.x, r.uniform(z.x)), pdy = mod.alloc(z.y, r.uniform(z.y));
    const pdw = mod.alloc(z.w), pdw2 = mod.alloc(z.w);
    mod.call(0, px, pdy, pdw, mod.scratch, c.n);
    const first = Array.from(mod.f32(pdw, z.w));
    mod.f32(pdw, z.w).fill(0);
    mod.call(0, px, pdy, pdw, mod.scratch, c.n);
    mod.call(0, px, pdy, pdw2, mod.scratch, c.n);
    expect(Array.from(mod.f32(pdw, z.w))).toEqual(first);
    expect(Array.from(mod.f32(pdw2, z.w))).toEqual(first);
    expect(() => emitConv2dGradFilterWinograd(c.spec, 3 as 4)).toThrow(/tile size/);
  });
});
