/**
 * Softmax / log-softmax kernels and their gradients against float64 loops: rows (inner = 1) and
 * strided (inner > 1) layouts, odd and runtime sizes, large logits (stability), causal masks
 * with T ≠ S, and accumulate.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitSoftmax, emitSoftmaxGrad, type SoftmaxGradSpec } from "../../compiler/emit/softmax.js";
import { buildModule, relErr, rng, type TestModule } from "./ew-harness.js";

interface Case { name: string; spec: SoftmaxGradSpec; outer: number; offset?: number }
const cases: Case[] = [];
const add = (name: string, spec: SoftmaxGradSpec, outer?: number, offset?: number): void => {
  cases.push({ name, spec, outer: outer ?? (spec.outer as number), offset });
};
for (const log of [false, true]) {
  const tag = log ? "log-softmax" : "softmax";
  for (const mid of [1, 3, 5, 7, 10, 33]) add(`${tag} rows 3x${mid}`, { outer: 3, mid, inner: 1, log });
  add(`${tag} runtime rows x12`, { outer: "rows", mid: 12, inner: 1, log }, 4);
  for (const [mid, inner] of [[5, 7], [4, 8], [3, 3], [6, 1]]) add(`${tag} runtime outer x${mid}x${inner}`, { outer: "rows", mid, inner, log }, 3);
  add(`${tag} large logits (stable)`, { outer: 2, mid: 9, inner: 1, log }, undefined, 1000);
  add(`${tag} causal T=5 S=7, 2 groups`, { outer: "rows", mid: 7, inner: 1, causal: { t: 5, s: 7 }, log }, 10);
  add(`${tag} causal T=7 S=5, 3 groups`, { outer: 21, mid: 5, inner: 1, causal: { t: 7, s: 5 }, log });
  add(`${tag} causal T=S=6 accumulate`, { outer: 12, mid: 6, inner: 1, causal: { t: 6, s: 6 }, log, accumulate: true });
  add(`${tag} strided accumulate`, { outer: 2, mid: 5, inner: 6, log, accumulate: true });
}

/** float64 softmax of one row over the first `len` entries (the rest masked). */
function softmaxRow(x: number[], len: number, log: boolean): number[] {
  const m = Math.max(...x.slice(0, len));
  const s = x.slice(0, len).reduce((a, v) => a + Math.exp(v - m), 0);
  return x.map((v, k) => (k < len ? (log ? v - m - Math.log(s) : Math.exp(v - m) / s) : log ? -Infinity : 0));
}

/** Calls f(index list, unmasked length) for every softmax row of the [outer, mid, inner] view. */
function forRows(c: Case, f: (idx: number[], len: number) => void): void {
  const { mid, inner, causal } = c.spec;
  for (let o = 0; o < c.outer; o++) {
    for (let i = 0; i < inner; i++) {
      const idx = Array.from({ length: mid }, (_, k) => (o * mid + k) * inner + i);
      f(idx, causal ? Math.min((o % causal.t) + 1, mid) : mid);
    }
  }
}

/** Compares finite entries by relative L2 error and requires non-finite entries to match exactly. */
function expectClose(out: Float32Array, ref: number[]): void {
  const fin = ref.map((v, i) => [v, out[i]]).filter(([v]) => Number.isFinite(v));
  expect(relErr(fin.map((p) => p[1]), fin.map((p) => p[0]))).toBeLessThan(1e-5);
  ref.forEach((v, i) => { if (!Number.isFinite(v)) expect(out[i]).toBe(v); });
}

let mod: TestModule;
beforeAll(async () => {
  const kernels: Record<string, ReturnType<typeof emitSoftmax>> = {};
  cases.forEach((c, i) => {
    kernels[`f${i}`] = emitSoftmax(c.spec);
    kernels[`g${i}`] = emitSoftmaxGrad(c.spec);
  });
  mod = await buildModule(kernels);
});

describe("emitSoftmax / emitSoftmaxGrad match float64", () => {
  cases.forEach((c, ci) => {
    const n = c.outer * c.spec.mid * c.spec.inner;
    const dims = typeof c.spec.outer === "string" ? [c.outer] : [];
    const r = rng(31 + ci);
    const x = Float32Array.from({ length: n }, () => r(-4, 4) + (c.offset ?? 0));
    const yRef: number[] = new Array(n).fill(0);
    forRows(c, (idx, len) => softmaxRow(idx.map((i) => x[i]), len, !!c.spec.log).forEach((v, k) => (yRef[idx[k]] = v)));

    it(`${c.name}: forward`, () => {
      mod.reset();
      const xp = mod.put(x), yp = mod.put(new Float32Array(n).fill(7));
      mod.fns[`f${ci}`](xp, yp, ...dims);
      expectClose(mod.f32(yp, n), yRef);
    });

    it(`${c.name}: gradient`, () => {
      mod.reset();
      const y = Float32Array.from(yRef);
      const dy = Float32Array.from({ length: n }, () => r(-1, 1));
      const prior = Float32Array.from({ length: n }, () => (c.spec.accumulate ? r(-1, 1) : 5));
      const yp = mod.put(y), dyp = mod.put(dy), dxp = mod.put(prior);
      mod.fns[`g${ci}`](yp, dyp, dxp, ...dims);
      const ref: number[] = new Array(n).fill(0);
      forRows(c, (idx, len) => {
        const live = idx.slice(0, len);
        const s = live.reduce((a, i) => a + (c.spec.log ? dy[i] : dy[i] * y[i]), 0);
        idx.forEach((i, k) => {
          const g = k >= len ? 0 : c.spec.log ? dy[i] - Math.exp(y[i]) * s : y[i] * (dy[i] - s);
          ref[i] = g + (c.spec.accumulate ? prior[i] : 0);
        });
      });
      expectClose(mod.f32(dxp, n), ref);
    });
  });
});

describe("softmax spec checks", () => {
  it("causal needs inner = 1 and s = mid; dims must be identifiers", () => {
    expect(() => emitSoftmax({ outer: 4, mid: 5, inner: 2, causal: { t: 2, s: 5 } })).toThrow(/causal/);
    expect(() => emitSoftmax({ outer: 4, mid: 5, inner: 1, causal: { t: 2, s: 6 } })).toThrow(/causal/);
    expect(() => emitSoftmaxGrad({ outer: "a b", mid: 5, inner: 1 })).toThrow(/identifier/);
    expect(emitSoftmax({ outer: 2, mid: 3, inner: 1 }).key).not.toBe(emitSoftmax({ outer: 2, mid: 3, inner: 1, log: true }).key);
  });
});
