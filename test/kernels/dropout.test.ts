/**
 * Dropout mask kernel (compiler/emit/dropout.ts): the mask equals the hash documented in the file
 * header, re-implemented here independently in JS; the kept fraction is ≈ 1 − rate; steps and
 * streams give different masks; the same (seed, step) gives the same mask.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitDropoutMask } from "../../compiler/emit/dropout.js";
import { buildKernels, type TestModule } from "./trk-harness.js";

function fmix(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The documented function, straight from the header. */
function refMask(seed: number, step: number, stream: number, rate: number, n: number): Float32Array {
  const S = fmix((Math.imul(stream, 0x632be5ab) + 0x27d4eb2f) >>> 0);
  const key = fmix((fmix((fmix((seed ^ 0x9e3779b9) >>> 0) ^ step) >>> 0) ^ S) >>> 0);
  const out = new Float32Array(n);
  for (let e = 0; e < n; e++) {
    const x = fmix((fmix((e ^ key) >>> 0) + key) >>> 0);
    const u = (x >>> 8) / 16777216;
    out[e] = u >= rate ? Math.fround(1 / (1 - rate)) : 0;
  }
  return out;
}

describe("dropout mask kernel", () => {
  let mod: TestModule;
  beforeAll(async () => {
    mod = await buildKernels({
      d_half: emitDropoutMask({ n: "count", rate: 0.5, stream: 0 }),
      d_tenth: emitDropoutMask({ n: 1003, rate: 0.1, stream: 7 }),
      d_tenth_s8: emitDropoutMask({ n: 1003, rate: 0.1, stream: 8 }),
      d_zero: emitDropoutMask({ n: "count", rate: 0, stream: 3 }),
      d_high: emitDropoutMask({ n: 4001, rate: 0.9, stream: 0xfffffff0 }),
    }, 8);
  });

  function run(name: string, seed: number, step: number, n: number, dyn: boolean): Float32Array {
    mod.reset();
    const rngp = mod.alloc(8);
    mod.u32(rngp, 2).set([seed >>> 0, step >>> 0]);
    const m = mod.alloc(n * 4);
    if (dyn) mod.fn[name]!(m, rngp, n);
    else mod.fn[name]!(m, rngp);
    return mod.f32(m, n).slice();
  }

  it("matches the documented hash exactly (runtime n with a scalar tail, several seeds and steps)", () => {
    for (const [seed, step, n] of [[0, 0, 1], [42, 1, 7], [42, 2, 1001], [0xdeadbeef, 123456, 64]] as const) {
      expect(Array.from(run("d_half", seed, step, n, true))).toEqual(Array.from(refMask(seed, step, 0, 0.5, n)));
    }
    expect(Array.from(run("d_tenth", 9, 3, 1003, false))).toEqual(Array.from(refMask(9, 3, 7, 0.1, 1003)));
    expect(Array.from(run("d_high", 5, 77, 4001, false))).toEqual(Array.from(refMask(5, 77, 0xfffffff0, 0.9, 4001)));
  });

  it("keeps about 1 − rate of the elements, scaled by 1/(1 − rate)", () => {
    for (const [name, rate, n, dyn] of [["d_half", 0.5, 20000, true], ["d_tenth", 0.1, 1003, false], ["d_high", 0.9, 4001, false]] as const) {
      const m = run(name, 1234, 5, n, dyn);
      const kept = m.filter((v) => v !== 0);
      expect(kept.every((v) => v === Math.fround(1 / (1 - rate)))).toBe(true);
      const frac = kept.length / n, sd = Math.sqrt(rate * (1 - rate) / n);
      expect(Math.abs(frac - (1 - rate))).toBeLessThan(5 * sd);
    }
  });

  it("rate 0 keeps everything", () => {
    expect(Array.from(run("d_zero", 1, 1, 37, true))).toEqual(new Array(37).fill(1));
  });

  it("differs between steps and between streams, repeats for the same step", () => {
    const a = run("d_tenth", 42, 1, 1003, false), b = run("d_tenth", 42, 2, 1003, false);
    const c = run("d_tenth_s8", 42, 1, 1003, false), a2 = run("d_tenth", 42, 1, 1003, false);
    const diff = (p: Float32Array, q: Float32Array) => p.reduce((s, v, i) => s + (v !== q[i] ? 1 : 0), 0);
    expect(diff(a, a2)).toBe(0);
    // Independent masks at rate 0.1 disagree on ~18% of the elements.
    expect(diff(a, b)).toBeGreaterThan(100);
    expect(diff(a, c)).toBeGreaterThan(100);
    const h1 = run("d_half", 42, 1, 4000, true), h2 = run("d_half", 43, 1, 4000, true);
    expect(diff(h1, h2)).toBeGreaterThan(1500);
  });

  it("rejects a rate outside [0, 1) and size names that are not safe identifiers", () => {
    expect(() => emitDropoutMask({ n: 4, rate: 1, stream: 0 })).toThrow(/rate/);
    expect(() => emitDropoutMask({ n: 4, rate: -0.1, stream: 0 })).toThrow(/rate/);
    expect(() => emitDropoutMask({ n: "n; abort()", rate: 0.5, stream: 0 })).toThrow(/identifier/);
    expect(() => emitDropoutMask({ n: "key", rate: 0.5, stream: 0 })).toThrow(/collides/);
  });
});
