/**
 * The seed example end to end: examples/mnist-cnn/graph.json compiled for inference (its
 * `training` section dropped) at the default optimization level fits in 64 KB, and its
 * probabilities on real MNIST digits match the float64 reference interpreter within 1e-4,
 * at batch 1, 3, 64 (the compiled maximum) and 100 (split by the runtime into 64 + 36).
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import { runReference } from "../reference/index.js";
import { mnistDigits } from "../training/mnist-data.js";
import { relErr } from "./harness.js";

const full = JSON.parse(readFileSync(new URL("../../examples/mnist-cnn/graph.json", import.meta.url), "utf8"));
const { training: _training, targets: _targets, ...inference } = full;

const PIXELS = 784, CLASSES = 10;
const data = mnistDigits(10); // 100 real digits, every class
let wasm: Uint8Array;
let model: Model;
let weights: Record<string, Float32Array>;
let reference: Float64Array;

beforeAll(async () => {
  wasm = (await compile(JSON.stringify(inference), { maxBatch: 64 })).wasm;
  model = await loadModel(wasm);
  weights = model.getWeights(); // the seeded initial weights
  reference = runReference(inference, weights, { image: data.image }, data.count, { training: false }).outputs.probs!.data;
}, 180_000);

describe("examples/mnist-cnn for inference", () => {
  it("compiles to under 64 KB, inference only, for batches up to 64", () => {
    expect(wasm.byteLength).toBeLessThan(64 * 1024);
    expect(model.canTrain).toBe(false);
    expect(model.maxBatch).toBe(64);
    expect(model.outputs).toEqual([{ name: "probs", shape: [10], dtype: "float32" }]);
  });

  it("the reference probabilities are proper distributions (the oracle is sane)", () => {
    for (let r = 0; r < data.count; r++) {
      const row = reference.subarray(r * CLASSES, (r + 1) * CLASSES);
      expect(row.reduce((s, p) => s + p, 0)).toBeCloseTo(1, 10);
    }
  });

  for (const batch of [1, 3, 64, 100]) {
    it(`predict on ${batch} real digit${batch > 1 ? "s" : ""} matches the reference within 1e-4`, () => {
      const probs = model.predict({ image: data.image.subarray(0, batch * PIXELS) }).probs!;
      expect(probs.length).toBe(batch * CLASSES);
      let worst = 0;
      for (let r = 0; r < batch; r++) {
        const got = probs.subarray(r * CLASSES, (r + 1) * CLASSES);
        worst = Math.max(worst, relErr(got, reference.subarray(r * CLASSES, (r + 1) * CLASSES)));
      }
      expect(worst).toBeLessThan(1e-4);
    });
  }

  it("with sharper weights (every kernel ×2.5), 20 digits still match: probabilities far from uniform", () => {
    const sharp = Object.fromEntries(Object.entries(weights).map(([k, v]) => [k, k.endsWith("kernel") ? v.map((x) => x * 2.5) : v]));
    model.setWeights(sharp);
    try {
      const n = 20;
      const image = data.image.subarray(0, n * PIXELS);
      const probs = model.predict({ image }).probs!;
      const ref = runReference(inference, sharp, { image }, n, { training: false }).outputs.probs!.data;
      expect(Math.max(...ref)).toBeGreaterThan(0.5);
      for (let r = 0; r < n; r++) {
        expect(relErr(probs.subarray(r * CLASSES, (r + 1) * CLASSES), ref.subarray(r * CLASSES, (r + 1) * CLASSES)), `digit ${r}`).toBeLessThan(1e-4);
      }
    } finally {
      model.setWeights(weights);
    }
  });

  it("splitting by the runtime does not change results: 100 at once equals 64 + 36", () => {
    const all = model.predict({ image: data.image }).probs!;
    const head = model.predict({ image: data.image.subarray(0, 64 * PIXELS) }).probs!;
    const tail = model.predict({ image: data.image.subarray(64 * PIXELS) }).probs!;
    expect(Array.from(all)).toEqual([...head, ...tail]);
  });
});
