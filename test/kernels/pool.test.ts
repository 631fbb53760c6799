/**
 * Pooling kernels (compiler/emit/pool.ts) against float64 loops: forward within 1e-6, gradients
 * bit-exact against a naive loop that rounds like f32 in the same accumulation order.
 * Covers valid/same padding, strides 1/2/3, c = 1…8, 32, 64, 70, odd sizes, batch 1/2/3, and ties;
 * tiling windows (pool = stride, direct stores) full and clamped, more than 16 taps, gaps, NaN.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitPool2d, emitPool2dGrad, type Pool2dSpec } from "../../compiler/emit/pool.js";
import { buildKernels, rng, uniform, type TestModule } from "./trk-harness.js";

type Mode = "valid" | "same";
interface Case { name: string; kind: "max" | "avg"; h: number; w: number; c: number; k: [number, number]; s: [number, number]; pad: Mode; ties?: boolean; n?: number }

/** Output size and padding before, per spec §2. */
function pads(n: number, k: number, s: number, mode: Mode): [number, number] {
  if (mode === "valid") return [Math.floor((n - k) / s) + 1, 0];
  const out = Math.ceil(n / s);
  return [out, Math.floor(Math.max((out - 1) * s + k - n, 0) / 2)];
}

function specOf(c: Case): Pool2dSpec {
  const [oh, padTop] = pads(c.h, c.k[0], c.s[0], c.pad);
  const [ow, padLeft] = pads(c.w, c.k[1], c.s[1], c.pad);
  return { kind: c.kind, h: c.h, w: c.w, c: c.c, ph: c.k[0], pw: c.k[1], sh: c.s[0], sw: c.s[1], padTop, padLeft, oh, ow };
}

const GEOMS: Omit<Case, "kind" | "name">[] = [
  { h: 7, w: 7, c: 5, k: [2, 2], s: [2, 2], pad: "valid" },
  { h: 5, w: 6, c: 1, k: [3, 3], s: [1, 1], pad: "same" },
  { h: 7, w: 8, c: 5, k: [3, 3], s: [2, 2], pad: "same" },
  { h: 9, w: 10, c: 8, k: [3, 3], s: [3, 3], pad: "valid" },
  { h: 8, w: 7, c: 3, k: [2, 3], s: [3, 2], pad: "same" },
  { h: 6, w: 6, c: 4, k: [3, 2], s: [1, 2], pad: "valid" },
  { h: 5, w: 5, c: 5, k: [3, 3], s: [1, 1], pad: "same", ties: true },
  { h: 6, w: 7, c: 1, k: [2, 2], s: [1, 1], pad: "valid", ties: true },
  // Tiling windows (pool = stride): the direct-store gradient and the unrolled full-window paths.
  { h: 26, w: 26, c: 32, k: [2, 2], s: [2, 2], pad: "valid", n: 3 },
  { h: 11, w: 11, c: 64, k: [2, 2], s: [2, 2], pad: "valid", n: 1 },
  { h: 9, w: 7, c: 3, k: [2, 2], s: [2, 2], pad: "valid", ties: true, n: 3 },
  { h: 7, w: 9, c: 6, k: [2, 2], s: [2, 2], pad: "same", ties: true },
  { h: 5, w: 7, c: 70, k: [2, 2], s: [2, 2], pad: "same", n: 1 },
  { h: 10, w: 8, c: 2, k: [3, 3], s: [3, 3], pad: "valid", ties: true, n: 3 },
  { h: 8, w: 10, c: 5, k: [3, 2], s: [3, 2], pad: "same", ties: true },
  { h: 11, w: 9, c: 4, k: [5, 4], s: [5, 4], pad: "same" },
  { h: 7, w: 7, c: 1, k: [1, 1], s: [1, 1], pad: "valid", n: 1 },
  // Gaps between windows (stride > pool): the zero-then-scatter path.
  { h: 9, w: 8, c: 5, k: [2, 2], s: [3, 3], pad: "valid" },
];
const CASES: Case[] = GEOMS.flatMap((g, i) => (["max", "avg"] as const).map((kind) => ({ ...g, kind, name: `${kind}${i}` })));

const reluGradCase = (c: Case): boolean => c.kind === "max" && c.k[0] === c.s[0] && c.k[1] === c.s[1];

/** Walks every output element with its clamped window; f(b, oy, ox, ch, cells) where cells are flat x indices in row-major order. */
function eachWindow(sp: Pool2dSpec, n: number, f: (o: number, cells: number[]) => void): void {
  for (let b = 0; b < n; b++)
    for (let oy = 0; oy < sp.oh; oy++)
      for (let ox = 0; ox < sp.ow; ox++)
        for (let ch = 0; ch < sp.c; ch++) {
          const cells: number[] = [];
          for (let iy = Math.max(oy * sp.sh - sp.padTop, 0); iy < Math.min(oy * sp.sh - sp.padTop + sp.ph, sp.h); iy++)
            for (let ix = Math.max(ox * sp.sw - sp.padLeft, 0); ix < Math.min(ox * sp.sw - sp.padLeft + sp.pw, sp.w); ix++)
              cells.push(((b * sp.h + iy) * sp.w + ix) * sp.c + ch);
          f(((b * sp.oh + oy) * sp.ow + ox) * sp.c + ch, cells);
        }
}

function refForward(sp: Pool2dSpec, n: number, x: number[]): number[] {
  const y = new Array<number>(n * sp.oh * sp.ow * sp.c).fill(NaN);
  eachWindow(sp, n, (o, cells) => {
    y[o] = sp.kind === "max" ? Math.max(...cells.map((i) => x[i]!)) : cells.reduce((a, i) => a + x[i]!, 0) / cells.length;
  });
  return y;
}

/** Naive gradient with f32 rounding in the kernel's order (output pixels row-major). */
function refGrad(sp: Pool2dSpec, n: number, x: number[], dy: number[]): Float32Array {
  const dx = new Float32Array(n * sp.h * sp.w * sp.c);
  eachWindow(sp, n, (o, cells) => {
    if (sp.kind === "max") {
      let best = cells[0]!;
      for (const i of cells) if (x[i]! > x[best]!) best = i;
      dx[best] = Math.fround(dx[best]! + dy[o]!);
    } else {
      const g = Math.fround(dy[o]! / cells.length);
      for (const i of cells) dx[i] = Math.fround(dx[i]! + g);
    }
  });
  return dx;
}

describe("pool2d kernels", () => {
  let mod: TestModule;
  beforeAll(async () => {
    const kernels: Record<string, ReturnType<typeof emitPool2d>> = {};
    for (const c of CASES) {
      kernels[`${c.name}_fwd`] = emitPool2d(specOf(c));
      kernels[`${c.name}_grad`] = emitPool2dGrad(specOf(c));
      if (reluGradCase(c)) kernels[`${c.name}_grelu`] = emitPool2dGrad({ ...specOf(c), reluGrad: true });
    }
    mod = await buildKernels(kernels, 256);
  });

  for (const c of CASES) {
    const sp = specOf(c);
    const label = `${c.kind} ${c.h}x${c.w}x${c.c} pool ${c.k} stride ${c.s} ${c.pad}${c.ties ? " (ties)" : ""}`;
    const N = c.n ?? 2;
    it(`${label}, batch ${N}: forward and gradient`, () => {
      mod.reset();
      const r = rng(c.h * 131 + c.w * 17 + c.c);
      const nx = N * c.h * c.w * c.c, ny = N * sp.oh * sp.ow * c.c;
      // Ties: a handful of distinct values, so most windows hold several maxima.
      const x = c.ties ? uniform(r, nx).map((v) => Math.round(v * 1.5)) : uniform(r, nx);
      const dy = uniform(r, ny);
      const px = mod.putF32(x), py = mod.alloc(ny * 4), pdy = mod.putF32(dy);
      const pdx = mod.putF32(uniform(r, nx, 5, 9)); // garbage: the kernel must zero dx
      mod.fn[`${c.name}_fwd`]!(px, py, N);
      const y = mod.f32(py, ny), want = refForward(sp, N, x);
      for (let i = 0; i < ny; i++) expect(Math.abs(y[i]! - want[i]!)).toBeLessThanOrEqual(1e-6);
      mod.fn[`${c.name}_grad`]!(px, pdy, pdx, N);
      expect(Array.from(mod.f32(pdx, nx))).toEqual(Array.from(refGrad(sp, N, x, dy)));
    });
  }

  it("NaN: forward propagates it, the gradient goes where the scatter path's strict > sends it", () => {
    for (const c of CASES.filter((k) => k.kind === "max" && k.ties)) {
      mod.reset();
      const sp = specOf(c), N = c.n ?? 2;
      const r = rng(c.h * 7 + c.c);
      const nx = N * c.h * c.w * c.c, ny = N * sp.oh * sp.ow * c.c;
      const x = uniform(r, nx).map((v, i) => (i % 5 === 0 ? NaN : Math.round(v * 1.5)));
      const dy = uniform(r, ny).map((v, i) => (i % 7 === 0 ? -0 : v));
      const px = mod.putF32(x), py = mod.alloc(ny * 4), pdy = mod.putF32(dy), pdx = mod.putF32(uniform(r, nx, 5, 9));
      mod.fn[`${c.name}_fwd`]!(px, py, N);
      const y = mod.f32(py, ny), want = refForward(sp, N, x);
      for (let i = 0; i < ny; i++) expect(Number.isNaN(y[i]!), `${c.name} y[${i}]`).toBe(Number.isNaN(want[i]!));
      mod.fn[`${c.name}_grad`]!(px, pdy, pdx, N);
      // toEqual tells -0 from +0: dx holds 0 + dy, so a -0 dy lands as +0 on both paths.
      expect(Array.from(mod.f32(pdx, nx)), c.name).toEqual(Array.from(refGrad(sp, N, x, dy)));
    }
  });

  // Max pooling with tiling windows can fold the relu derivative of x (fuse.ts): dx · (x > 0 ? 1 : 0).
  for (const c of CASES.filter(reluGradCase)) {
    const sp = specOf(c), N = c.n ?? 2;
    it(`max ${c.h}x${c.w}x${c.c} pool ${c.k} ${c.pad}, batch ${N}: gradient times relu'(x), bit-exact`, () => {
      mod.reset();
      const r = rng(c.h * 31 + c.c);
      const nx = N * c.h * c.w * c.c, ny = N * sp.oh * sp.ow * c.c;
      // Relu'd inputs (many exact zeros, ties among them) and some negative dy (0 · negative = -0).
      const x = uniform(r, nx).map((v) => Math.max(c.ties ? Math.round(v * 1.5) : v, 0));
      const dy = uniform(r, ny);
      const px = mod.putF32(x), pdy = mod.putF32(dy), pdx = mod.putF32(uniform(r, nx, 5, 9));
      mod.fn[`${c.name}_grelu`]!(px, pdy, pdx, N);
      const want = refGrad(sp, N, x, dy).map((g, i) => (x[i]! > 0 ? 1 : 0) * g);
      expect(Array.from(mod.f32(pdx, nx))).toEqual(Array.from(want));
    });
  }

  it("ties send the max gradient to the first maximal element only", () => {
    const N = 2;
    mod.reset();
    const c = CASES.find((k) => k.kind === "max" && k.ties && k.c === 1)!;
    const sp = specOf(c);
    const nx = N * c.h * c.w, ny = N * sp.oh * sp.ow;
    const px = mod.putF32(new Array(nx).fill(1)), pdy = mod.putF32(new Array(ny).fill(1)), pdx = mod.alloc(nx * 4);
    mod.fn[`${c.name}_grad`]!(px, pdy, pdx, N);
    const dx = mod.f32(pdx, nx);
    // All equal, 2x2 windows, stride 1, valid: each window's gradient lands on its top-left cell.
    for (let b = 0; b < N; b++)
      for (let iy = 0; iy < c.h; iy++)
        for (let ix = 0; ix < c.w; ix++)
          expect(dx[(b * c.h + iy) * c.w + ix]).toBe(iy < sp.oh && ix < sp.ow ? 1 : 0);
  });

  it("rejects a window that lies entirely in the padding", () => {
    expect(() => emitPool2d({ kind: "max", h: 4, w: 4, c: 1, ph: 2, pw: 2, sh: 1, sw: 1, padTop: 2, padLeft: 0, oh: 4, ow: 3 })).toThrow(/padding/);
  });
});
