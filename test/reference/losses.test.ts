/**
 * Reference losses and metrics against TF.js (cpu) where it follows Keras, and against hand
 * computations for what it does not cover (clipping at exact 0/1, target [] vs output [1],
 * tie rules). Loss gradients are also checked against finite differences.
 */

import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { finiteDifferences } from "./gradients.js";
import { LOSS_TYPES, accuracy, lossTensor, metricValue } from "./losses.js";
import { makeRng } from "./prng.js";
import { backward, tensor } from "./tensor.js";

const rng = makeRng(2024);
const f32 = (a: ArrayLike<number>) => Float64Array.from(Float32Array.from(a));

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const loss = (type: string, out: ArrayLike<number>, outShape: number[], target: ArrayLike<number>, targetShape: number[], logits = false) =>
  lossTensor(type, tensor(outShape, out), target, targetShape, logits).data[0];

const tft = (d: ArrayLike<number>, shape: number[]) => tf.tensor(Float32Array.from(d), shape);
const tfMean = (t: tf.Tensor) => tf.mean(t).dataSync()[0];
const rel = (a: number, b: number) => Math.abs(a - b) / Math.abs(b);

function probs(n: number, k: number): Float64Array {
  return f32(rng.array(n * k, 0.05, 1)); // unnormalized positive "probabilities"
}

function oneHot(ids: number[], k: number): Float64Array {
  const d = new Float64Array(ids.length * k);
  ids.forEach((id, i) => (d[i * k + id] = 1));
  return d;
}

describe("losses vs TF.js", () => {
  it("mean_squared_error and mean_absolute_error", () => {
    const y = f32(rng.array(12)), t = f32(rng.array(12));
    const yt = tft(y, [4, 3]), tt = tft(t, [4, 3]);
    expect(rel(loss("mean_squared_error", y, [4, 3], t, [4, 3]), tf.losses.meanSquaredError(tt, yt).dataSync()[0])).toBeLessThan(1e-6);
    expect(rel(loss("mean_absolute_error", y, [4, 3], t, [4, 3]), tf.losses.absoluteDifference(tt, yt).dataSync()[0])).toBeLessThan(1e-6);
  });

  it("binary_crossentropy on probabilities and from logits", () => {
    const p = f32(rng.array(10, 0.01, 0.99)), t = Float64Array.from({ length: 10 }, () => rng.int(2));
    const ref = loss("binary_crossentropy", p, [5, 2], t, [5, 2]);
    expect(rel(ref, tfMean(tf.metrics.binaryCrossentropy(tft(t, [5, 2]), tft(p, [5, 2]))))).toBeLessThan(1e-5);
    const x = f32(rng.array(10, -8, 8));
    const refL = loss("binary_crossentropy", x, [5, 2], t, [5, 2], true);
    expect(rel(refL, tf.losses.sigmoidCrossEntropy(tft(t, [5, 2]), tft(x, [5, 2])).dataSync()[0])).toBeLessThan(1e-5);
  });

  it("categorical_crossentropy normalizes by the class sum; from_logits uses log-softmax", () => {
    const p = probs(4, 5), ids = [0, 3, 4, 1], t = oneHot(ids, 5);
    const ref = loss("categorical_crossentropy", p, [4, 5], t, [4, 5]);
    expect(rel(ref, tfMean(tf.metrics.categoricalCrossentropy(tft(t, [4, 5]), tft(p, [4, 5]))))).toBeLessThan(1e-5);
    const x = f32(rng.array(20, -4, 4));
    const refL = loss("categorical_crossentropy", x, [4, 5], t, [4, 5], true);
    expect(rel(refL, tf.losses.softmaxCrossEntropy(tft(t, [4, 5]), tft(x, [4, 5])).dataSync()[0])).toBeLessThan(1e-5);
  });

  it("sparse_categorical_crossentropy equals categorical on one-hot targets, also on sequences", () => {
    const ids = [2, 0, 1, 1, 2, 0];
    const p = probs(6, 3);
    const sparse = loss("sparse_categorical_crossentropy", p, [2, 3, 3], ids, [2, 3]);
    expect(rel(sparse, tfMean(tf.metrics.categoricalCrossentropy(tft(oneHot(ids, 3), [2, 3, 3]), tft(p, [2, 3, 3]))))).toBeLessThan(1e-5);
    const x = f32(rng.array(18, -3, 3));
    const sparseL = loss("sparse_categorical_crossentropy", x, [2, 3, 3], ids, [2, 3], true);
    expect(rel(sparseL, tf.losses.softmaxCrossEntropy(tft(oneHot(ids, 3), [6, 3]), tft(x, [6, 3])).dataSync()[0])).toBeLessThan(1e-5);
  });
});

describe("losses by hand", () => {
  it("clips probabilities to [1e-7, 1 − 1e-7] before the log", () => {
    // p = 0 with t = 1 and p = 1 with t = 0: both terms hit the clip.
    const bce = loss("binary_crossentropy", [0, 1], [2, 1], [1, 0], [2, 1]);
    expect(bce).toBeCloseTo((-Math.log(1e-7) - Math.log(1 - (1 - 1e-7))) / 2, 12);
    const cce = loss("categorical_crossentropy", [0, 1], [1, 2], [1, 0], [1, 2]);
    expect(cce).toBeCloseTo(-Math.log(1e-7), 12);
  });

  it("accepts a target [] against an output [1]", () => {
    const y = [0.2, 0.9, 0.4], t = [0, 1, 1];
    expect(loss("mean_squared_error", y, [3, 1], t, [3])).toBeCloseTo((0.04 + 0.01 + 0.36) / 3, 14);
    expect(loss("binary_crossentropy", y, [3, 1], t, [3])).toBeCloseTo(-(Math.log(0.8) + Math.log(0.9) + Math.log(0.4)) / 3, 14);
    expect(() => loss("mean_squared_error", y, [3, 1], [1, 2, 3, 4, 5, 6], [3, 2])).toThrow(/target shape \[3,2\] does not match output shape \[3,1\]/);
  });

  it("rejects class ids out of range and unknown loss types", () => {
    expect(() => loss("sparse_categorical_crossentropy", [0.5, 0.5], [1, 2], [2], [1])).toThrow(/class id 2 at 0 is outside \[0, 2\)/);
    expect(() => loss("hinge", [0.5], [1, 1], [1], [1, 1])).toThrow(/unknown loss "hinge"/);
  });

  it("every loss's gradient matches finite differences", () => {
    const cases: [string, number[], number[], ArrayLike<number>, boolean][] = [
      ["mean_squared_error", [3, 2], [3, 2], rng.array(6), false],
      ["mean_absolute_error", [3, 2], [3, 2], rng.array(6), false],
      ["binary_crossentropy", [3, 2], [3, 2], [1, 0, 0, 1, 1, 0], false],
      ["binary_crossentropy", [3, 2], [3, 2], [1, 0, 0, 1, 1, 0], true],
      ["categorical_crossentropy", [2, 3], [2, 3], [0, 1, 0, 0.25, 0.25, 0.5], false],
      ["categorical_crossentropy", [2, 3], [2, 3], [0, 1, 0, 0.25, 0.25, 0.5], true],
      ["sparse_categorical_crossentropy", [2, 3], [2], [2, 0], false],
      ["sparse_categorical_crossentropy", [2, 3], [2], [2, 0], true],
    ];
    const covered = new Set<string>();
    for (const [type, shape, tshape, target, logits] of cases) {
      const y = rng.array(6, 0.1, 0.9);
      const leaf = tensor(shape, y, true);
      backward(lossTensor(type, leaf, target, tshape, logits));
      const numeric = finiteDifferences((v) => loss(type, v, shape, target, tshape, logits), y.slice(), 1e-6);
      for (let i = 0; i < 6; i++) expect(Math.abs(leaf.grad![i] - numeric[i])).toBeLessThan(1e-7 * Math.max(1, Math.abs(numeric[i])));
      covered.add(type);
    }
    expect([...covered].sort()).toEqual([...LOSS_TYPES].sort());
  });
});

describe("metrics", () => {
  it("binary accuracy: > 0.5 on probabilities, > 0 with logits; matches tf.metrics.binaryAccuracy", () => {
    const p = [0.2, 0.7, 0.5, 0.9], t = [0, 1, 1, 0];
    expect(accuracy("binary_crossentropy", tensor([4, 1], p), t)).toBe(0.5);
    expect(accuracy("binary_crossentropy", tensor([4, 1], [-1, 2, 0, 3]), t, true)).toBe(0.5);
    const q = f32(rng.array(12, 0, 1)), u = Float64Array.from({ length: 12 }, () => rng.int(2));
    const tfAcc = tfMean(tf.metrics.binaryAccuracy(tft(u, [4, 3]), tft(q, [4, 3])));
    expect(accuracy("binary_crossentropy", tensor([4, 3], q), u)).toBeCloseTo(tfAcc, 6);
  });

  it("sparse and categorical accuracy by argmax, first index winning ties", () => {
    const out = tensor([3, 3], [0.4, 0.4, 0.2, 0.1, 0.3, 0.6, 0.5, 0.2, 0.3]);
    expect(accuracy("sparse_categorical_crossentropy", out, [0, 2, 1])).toBeCloseTo(2 / 3, 15);
    expect(accuracy("sparse_categorical_crossentropy", out, [1, 2, 0])).toBeCloseTo(2 / 3, 15);
    expect(accuracy("categorical_crossentropy", out, [0.5, 0.5, 0, 0, 0, 1, 0, 1, 0])).toBeCloseTo(2 / 3, 15);
    const p = probs(6, 4), ids = [0, 1, 2, 3, 3, 1];
    const tfSparse = tfMean(tf.metrics.sparseCategoricalAccuracy(tft(ids, [6]), tft(p, [6, 4])));
    expect(accuracy("sparse_categorical_crossentropy", tensor([6, 4], p), ids)).toBeCloseTo(tfSparse, 6);
    const tfCat = tfMean(tf.metrics.categoricalAccuracy(tft(oneHot(ids, 4), [6, 4]), tft(p, [6, 4])));
    expect(accuracy("mean_squared_error", tensor([6, 4], p), oneHot(ids, 4))).toBeCloseTo(tfCat, 6);
  });

  it("mean_squared_error and mean_absolute_error metrics", () => {
    const y = f32(rng.array(8)), t = f32(rng.array(8));
    const out = tensor([4, 2], y);
    expect(rel(metricValue("mean_squared_error", "mean_absolute_error", out, t), tfMean(tf.metrics.meanSquaredError(tft(t, [4, 2]), tft(y, [4, 2]))))).toBeLessThan(1e-6);
    expect(rel(metricValue("mean_absolute_error", "mean_absolute_error", out, t), tfMean(tf.metrics.meanAbsoluteError(tft(t, [4, 2]), tft(y, [4, 2]))))).toBeLessThan(1e-6);
  });
});
