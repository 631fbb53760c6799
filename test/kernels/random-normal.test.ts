/**
 * Normal noise kernel (compiler/emit/dropout.ts: emitRandomNormal): the values equal the
 * Box–Muller function documented in the header, re-implemented here in JS (AssemblyScript's f64
 * log/cos and V8's may differ in the last bits, so within 1e-6 relative); the sample mean and
 * standard deviation are those asked for; steps and streams give different noise, the same step
 * the same noise.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { emitRandomNormal } from "../../compiler/emit/dropout.js";
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
export function refNormal(seed: number, step: number, stream: number, mean: number, stddev: number, n: number): Float64Array {
  const S = fmix((Math.imul(stream, 0x632be5ab) + 0x27d4eb2f) >>> 0);
  const key = fmix((fmix((fmix((seed ^ 0x9e3779b9) >>> 0) ^ step) >>> 0) ^ S) >>> 0);
  const hash = (i: number) => fmix((fmix((i ^ key) >>> 0) + key) >>> 0);
  const out = new Float64Array(n);
  for (let e = 0; e < n; e++) {
    const u1 = ((hash((2 * e) >>> 0) >>> 8) + 1) / 16777216;
    const u2 = (hash((2 * e + 1) >>> 0) >>> 8) / 16777216;
    out[e] = mean + stddev * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }
  return out;
}

describe("normal noise kernel", () => {
  let mod: TestModule;
  beforeAll(async () => {
    mod = await buildKernels({
      unit: emitRandomNormal({ n: "count", mean: 0, stddev: 1, stream: 0 }),
      drop: emitRandomNormal({ n: 1001, mean: 1, stddev: Math.sqrt(0.3 / 0.7), stream: 5 }),
      drop6: emitRandomNormal({ n: 1001, mean: 1, stddev: Math.sqrt(0.3 / 0.7), stream: 6 }),
    }, 8);
  });

  function run(name: string, seed: number, step: number, n: number, dyn: boolean): Float32Array {
    mod.reset();
    const rngp = mod.alloc(8);
    mod.u32(rngp, 2).set([seed >>> 0, step >>> 0]);
    const out = mod.alloc(n * 4);
    if (dyn) mod.fn[name]!(out, rngp, n);
    else mod.fn[name]!(out, rngp);
    return mod.f32(out, n).slice();
  }

  const close = (got: Float32Array, want: Float64Array) => {
    expect(got.length).toBe(want.length);
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i]! - want[i]!), `element ${i}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want[i]!)));
  };

  it("matches the documented Box–Muller hash (runtime and constant sizes, several seeds and steps)", () => {
    for (const [seed, step, n] of [[0, 0, 1], [42, 1, 7], [0xdeadbeef, 123456, 640]] as const) close(run("unit", seed, step, n, true), refNormal(seed, step, 0, 0, 1, n));
    close(run("drop", 9, 3, 1001, false), refNormal(9, 3, 5, 1, Math.sqrt(0.3 / 0.7), 1001));
  });

  it("has the mean and standard deviation asked for, and finite values", () => {
    const n = 40000, z = run("unit", 1234, 5, n, true);
    expect(z.every(Number.isFinite)).toBe(true);
    const mean = z.reduce((s, v) => s + v, 0) / n;
    const sd = Math.sqrt(z.reduce((s, v) => s + (v - mean) ** 2, 0) / n);
    expect(Math.abs(mean)).toBeLessThan(5 / Math.sqrt(n));
    expect(Math.abs(sd - 1)).toBeLessThan(0.02);
    const d = run("drop", 77, 2, 1001, false);
    expect(Math.abs(d.reduce((s, v) => s + v, 0) / 1001 - 1)).toBeLessThan(5 * Math.sqrt(0.3 / 0.7) / Math.sqrt(1001));
  });

  it("differs between steps and streams, repeats for the same step", () => {
    const a = run("drop", 42, 1, 1001, false), a2 = run("drop", 42, 1, 1001, false);
    const b = run("drop", 42, 2, 1001, false), c = run("drop6", 42, 1, 1001, false);
    expect(Array.from(a2)).toEqual(Array.from(a));
    expect(a.filter((v, i) => v !== b[i]).length).toBeGreaterThan(990);
    expect(a.filter((v, i) => v !== c[i]).length).toBeGreaterThan(990);
  });

  it("rejects a negative or non-finite stddev and unsafe size names", () => {
    expect(() => emitRandomNormal({ n: 4, mean: 0, stddev: -1, stream: 0 })).toThrow(/stddev/);
    expect(() => emitRandomNormal({ n: 4, mean: 0, stddev: Infinity, stream: 0 })).toThrow(/stddev/);
    expect(() => emitRandomNormal({ n: "n; abort()", mean: 0, stddev: 1, stream: 0 })).toThrow(/identifier/);
    expect(() => emitRandomNormal({ n: "key", mean: 0, stddev: 1, stream: 0 })).toThrow(/collides/);
  });
});
