/**
 * Initial weights: each Keras distribution's mean, variance and bounds on large samples,
 * truncation at ±2σ, orthogonality, determinism per (seed, index), and onesRange.
 */
import { describe, expect, test } from "vitest";
import { KilnError } from "../../runtime/errors.js";
import { initialValues, orthogonal, Rng } from "../../runtime/init.js";
import type { WeightEntry } from "../../runtime/manifest.js";

const FAN_IN = 200, FAN_OUT = 300;

function weight(name: string, shape = [FAN_IN, FAN_OUT], extra: Partial<WeightEntry["initializer"]> = {}): WeightEntry {
  return { name: "layer/kernel", shape, trainable: true, offset: 0, initializer: { name, fanIn: FAN_IN, fanOut: FAN_OUT, ...extra } };
}

function stats(v: Float32Array) {
  let sum = 0, sq = 0, max = 0;
  for (const x of v) sum += x;
  const mean = sum / v.length;
  for (const x of v) {
    sq += (x - mean) ** 2;
    max = Math.max(max, Math.abs(x));
  }
  return { mean, variance: sq / (v.length - 1), maxAbs: max };
}

const fraction = (v: Float32Array, pred: (x: number) => boolean) => v.filter(pred).length / v.length;

describe("uniform initializers", () => {
  const cases: [string, number][] = [
    ["glorot_uniform", Math.sqrt(6 / (FAN_IN + FAN_OUT))],
    ["he_uniform", Math.sqrt(6 / FAN_IN)],
    ["random_uniform", 0.05],
    ["uniform", 0.05],
  ];
  test.each(cases)("%s is U(±limit)", (name, limit) => {
    const v = initialValues(weight(name), 3, 0);
    const { mean, variance, maxAbs } = stats(v);
    const sd = limit / Math.sqrt(3);
    expect(Math.abs(mean)).toBeLessThan((5 * sd) / Math.sqrt(v.length));
    expect(variance / (sd * sd)).toBeGreaterThan(0.97);
    expect(variance / (sd * sd)).toBeLessThan(1.03);
    expect(maxAbs).toBeLessThanOrEqual(limit);
    expect(maxAbs).toBeGreaterThan(0.999 * limit);
    // Flat: each quarter of the interval holds about a quarter of the values.
    expect(fraction(v, (x) => x > limit / 2)).toBeCloseTo(0.25, 1);
  });
});

describe("normal initializers", () => {
  const truncated: [string, number][] = [
    ["glorot_normal", 2 / (FAN_IN + FAN_OUT)],
    ["he_normal", 2 / FAN_IN],
    ["lecun_normal", 1 / FAN_IN],
  ];
  test.each(truncated)("%s is a normal truncated at ±2σ with variance %f", (name, variance) => {
    const v = initialValues(weight(name), 5, 1);
    const s = stats(v);
    // Keras divides the stddev by 0.8796… so that the truncated distribution keeps `variance`.
    const sigma = Math.sqrt(variance) / 0.87962566103423978;
    expect(Math.abs(s.mean)).toBeLessThan((5 * Math.sqrt(variance)) / Math.sqrt(v.length));
    expect(s.variance / variance).toBeGreaterThan(0.97);
    expect(s.variance / variance).toBeLessThan(1.03);
    expect(s.maxAbs).toBeLessThanOrEqual(2 * sigma * (1 + 1e-6));
    expect(s.maxAbs).toBeGreaterThan(1.98 * sigma);
    // Shape of a ±2σ-truncated normal: P(|z| < σ) / P(|z| < 2σ) = 0.6827 / 0.9545.
    expect(fraction(v, (x) => Math.abs(x) < sigma)).toBeCloseTo(0.6827 / 0.9545, 2);
  });

  test("random_normal is N(0, 0.05²), not truncated", () => {
    const v = initialValues(weight("random_normal"), 5, 2);
    const s = stats(v);
    expect(Math.abs(s.mean)).toBeLessThan((5 * 0.05) / Math.sqrt(v.length));
    expect(s.variance / 0.0025).toBeGreaterThan(0.97);
    expect(s.variance / 0.0025).toBeLessThan(1.03);
    expect(fraction(v, (x) => Math.abs(x) > 0.1)).toBeCloseTo(0.0455, 2);
    expect(s.maxAbs).toBeGreaterThan(0.15);
  });
});

describe("orthogonal", () => {
  /** Max |(AᵀA or AAᵀ) − I| of a row-major rows×cols matrix, over its shorter side. */
  function orthError(a: Float32Array | Float64Array, rows: number, cols: number): number {
    const k = Math.min(rows, cols);
    const at = (i: number, j: number) => (rows >= cols ? a[i * cols + j] : a[j * cols + i]); // tall view
    const m = Math.max(rows, cols);
    let worst = 0;
    for (let p = 0; p < k; p++) {
      for (let q = 0; q < k; q++) {
        let dot = 0;
        for (let i = 0; i < m; i++) dot += at(i, p) * at(i, q);
        worst = Math.max(worst, Math.abs(dot - (p === q ? 1 : 0)));
      }
    }
    return worst;
  }

  test.each([
    [[50, 20], 50, 20],
    [[20, 50], 20, 50],
    [[4, 5, 20], 20, 20],
    [[16, 64], 16, 64],
  ])("shape %j has orthonormal rows or columns", (shape, rows, cols) => {
    const v = initialValues(weight("orthogonal", shape), 11, 0);
    expect(v.length).toBe(rows * cols);
    expect(orthError(v, rows, cols)).toBeLessThan(1e-5);
    // A random rotation, not a permutation of the identity.
    expect(fraction(v, (x) => Math.abs(x) > 1e-3)).toBeGreaterThan(0.9);
  });

  test("float64 result is orthonormal to rounding and positive-diagonal-R like Keras's sign fix", () => {
    const q = orthogonal(30, 10, new Rng(1, 2));
    expect(orthError(q, 30, 10)).toBeLessThan(1e-12);
    // Rebuild A with the same stream: R = QᵀA must be upper triangular with a positive diagonal.
    const rng = new Rng(1, 2);
    const a = new Float64Array(30 * 10);
    for (let i = 0; i < 30; i++) for (let j = 0; j < 10; j++) a[i * 10 + j] = rng.normal();
    for (let p = 0; p < 10; p++) {
      for (let j = 0; j < 10; j++) {
        let r = 0;
        for (let i = 0; i < 30; i++) r += q[i * 10 + p] * a[i * 10 + j];
        if (p > j) expect(Math.abs(r)).toBeLessThan(1e-10);
        if (p === j) expect(r).toBeGreaterThan(0);
      }
    }
  });
});

describe("determinism and special cases", () => {
  test("same seed and index give identical values; another seed or index gives others", () => {
    const w = weight("glorot_uniform", [8, 8]);
    const a = initialValues(w, 42, 3);
    expect(initialValues(w, 42, 3)).toEqual(a);
    expect(initialValues(w, 43, 3)).not.toEqual(a);
    expect(initialValues(w, 42, 4)).not.toEqual(a);
    // Seeds differing only above 32 bits still differ.
    expect(initialValues(w, 2 ** 33 + 42, 3)).not.toEqual(a);
  });

  test("zeros and ones", () => {
    expect(Array.from(initialValues(weight("zeros", [5]), 1, 0))).toEqual([0, 0, 0, 0, 0]);
    expect(Array.from(initialValues(weight("ones", [3]), 1, 0))).toEqual([1, 1, 1]);
  });

  test("onesRange sets exactly those elements to 1 after the initializer", () => {
    const z = initialValues(weight("zeros", [12], { onesRange: [3, 6] }), 1, 0);
    expect(Array.from(z)).toEqual([0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0]);
    const g = initialValues(weight("glorot_uniform", [12], { onesRange: [0, 4] }), 1, 0);
    expect(Array.from(g.subarray(0, 4))).toEqual([1, 1, 1, 1]);
    expect(g.subarray(4).every((x) => Math.abs(x) < 1 && x !== 0)).toBe(true);
  });

  test("an unknown initializer is a KilnError naming the weight", () => {
    expect(() => initialValues(weight("xavier"), 1, 0)).toThrow(KilnError);
    expect(() => initialValues(weight("xavier"), 1, 0)).toThrow(/layer\/kernel.*unknown initializer "xavier"/);
  });

  test("uniform() stays in [0, 1) and normal() has unit variance", () => {
    const rng = new Rng(9, 9);
    let lo = 1, hi = 0, sq = 0;
    for (let i = 0; i < 100000; i++) {
      const u = rng.uniform();
      lo = Math.min(lo, u);
      hi = Math.max(hi, u);
      sq += rng.normal() ** 2;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(lo).toBeLessThan(1e-3);
    expect(hi).toBeLessThan(1);
    expect(hi).toBeGreaterThan(0.999);
    expect(sq / 100000).toBeCloseTo(1, 1);
  });
});
