/**
 * Example and class weights and several outputs (issue 21 items 3 and 5), through the compiled
 * module: weighted losses against float64 code written here (Keras's sum_over_batch_size: the
 * weighted sum over the batch divided by the batch size, not by the sum of the weights), class
 * weights as Keras's class_weight_to_sample_weights, loss lists and maps with loss_weights (the
 * total is Σ weight·loss, `<output>_loss` unweighted), and the errors of bad weights.
 */
import { describe, expect, test } from "vitest";
import { build, rng } from "../compile/harness.js";
import { KilnError } from "../../runtime/errors.js";

const f32 = (a: ArrayLike<number>) => Float32Array.from(a);
const near = (got: number, want: number, rel = 1e-6) => expect(Math.abs(got - want)).toBeLessThanOrEqual(rel * Math.abs(want));
const bits = (w: Record<string, Float32Array>) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Array.from(new Uint32Array(v.buffer.slice(0)))]));

const classifier = (extra: Record<string, unknown> = {}) => ({
  format: "kiln.graph/v2", name: "clf", seed: 3, inputs: [{ name: "x", shape: [4] }], targets: [{ name: "y", shape: [], dtype: "int32" }],
  layers: [{ name: "h", op: "dense", units: 6, activation: "tanh" }, { name: "probs", op: "dense", units: 3, activation: "softmax" }],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "y" }, optimizer: { type: "sgd", learning_rate: 1 }, metrics: ["accuracy"], ...extra },
});

const next = rng(321);
const X = f32(Array.from({ length: 20 }, () => next() * 2 - 1));
const Y = new Int32Array([0, 2, 1, 1, 0]);
const W = [0.5, 2, 0, 1.25, 3];

/** Sparse cross-entropy per example from the model's probabilities (float64, Keras's clip). */
const ce = (probs: Float32Array, y: Int32Array) => Array.from(y, (k, i) => -Math.log(Math.min(Math.max(probs[i * 3 + k]!, 1e-7), 1 - 1e-7)));

describe("sample weights", () => {
  test("evaluate and trainStep: Σ wᵢ·lossᵢ / batch size (not / Σ w), against float64", async () => {
    const { model } = await build(classifier());
    const l = ce(model.predict({ x: X }).probs!, Y);
    const want = l.reduce((s, v, i) => s + W[i]! * v, 0) / 5;
    near(model.evaluate({ x: X, y: Y }, { sampleWeight: W }).loss, want);
    near(model.evaluate({ x: X, y: Y }, { sampleWeight: W, batchSize: 2 }).loss, (W[0]! * l[0]! + W[1]! * l[1]!) / 2 * 2 / 5 + (W[2]! * l[2]! + W[3]! * l[3]!) / 2 * 2 / 5 + W[4]! * l[4]! / 5);
    near(model.trainStep({ x: X, y: Y }, { sampleWeight: W }).loss, want);
    // Metrics are Keras's `metrics`, not `weighted_metrics`: unweighted.
    expect(model.evaluate({ x: X, y: Y }, { sampleWeight: W }).metrics.accuracy).toBe(model.evaluate({ x: X, y: Y }).metrics.accuracy);
  });

  test("the gradient is the weighted one: weights [1, 0] on [a, b] step exactly half of [a] alone", async () => {
    const grad = async (x: Float32Array, y: Int32Array, sampleWeight?: number[]) => {
      const { model } = await build(classifier());
      const w0 = model.getWeights();
      model.trainStep({ x, y }, sampleWeight ? { sampleWeight } : {});
      const w1 = model.getWeights();
      return Object.keys(w0).flatMap((k) => Array.from(w0[k]!, (v, i) => v - w1[k]![i]!));
    };
    const both = await grad(X.subarray(0, 8), Y.subarray(0, 2), [1, 0]);
    const alone = await grad(X.subarray(0, 4), Y.subarray(0, 1));
    const err = Math.sqrt(both.reduce((s, g, i) => s + (g - alone[i]! / 2) ** 2, 0)) / Math.sqrt(alone.reduce((s, g) => s + (g / 2) ** 2, 0));
    expect(err).toBeLessThan(1e-6);
  });

  test("weights of 1 give bit-identical training to no weights", async () => {
    const a = (await build(classifier())).model, b = (await build(classifier())).model;
    await a.fit({ x: X, y: Y }, { epochs: 2, batchSize: 2 });
    await b.fit({ x: X, y: Y }, { epochs: 2, batchSize: 2, sampleWeight: [1, 1, 1, 1, 1] });
    expect(bits(b.getWeights())).toEqual(bits(a.getWeights()));
  });

  test("validationSplit keeps the held-out examples' weights", async () => {
    const { model } = await build(classifier());
    const h = await model.fit({ x: X, y: Y }, { epochs: 1, batchSize: 5, validationSplit: 0.4, sampleWeight: W, shuffle: false });
    const { model: ref } = await build(classifier());
    await ref.fit({ x: X.subarray(0, 12), y: Y.subarray(0, 3) }, { epochs: 1, batchSize: 5, sampleWeight: W.slice(0, 3), shuffle: false });
    const l = ce(ref.predict({ x: X.subarray(12) }).probs!, Y.subarray(3));
    near(h.history.val_loss![0]!, (W[3]! * l[0]! + W[4]! * l[1]!) / 2);
  });

  test("bad weights are refused naming the option, the model untouched", async () => {
    const { model } = await build(classifier());
    const before = bits(model.getWeights());
    const msg = (f: () => unknown) => { try { f(); } catch (e) { expect(e).toBeInstanceOf(KilnError); return (e as Error).message; } throw new Error("no error"); };
    expect(msg(() => model.trainStep({ x: X, y: Y }, { sampleWeight: [1, 2] }))).toMatch(/trainStep\.sampleWeight.*one weight per example: 5, got 2/);
    expect(msg(() => model.evaluate({ x: X, y: Y }, { sampleWeight: [1, 2, NaN, 1, 1] }))).toMatch(/evaluate\.sampleWeight.*weight 2 .* NaN/);
    expect(msg(() => model.trainStep({ x: X, y: Y }, { sampleWeight: W, classWeight: { 0: 1 } }))).toMatch(/not both/);
    expect(msg(() => model.trainStep({ x: X, y: Y }, { classWeight: { 0: 1, 1: 2 } }))).toMatch(/example 1 \(counting from 0\) of target "y" is class 2, which has no weight in the map \(classes in the map: 0, 1\)/);
    expect(msg(() => model.trainStep({ x: X, y: Y }, { classWeight: { a: 1 } as any }))).toMatch(/key "a" is not a class id/);
    await expect(model.fit({ x: X, y: Y }, { sampleWeight: [1] })).rejects.toThrow(/fit\.sampleWeight.*5, got 1/);
    expect(bits(model.getWeights())).toEqual(before);
  });
});

describe("class weights", () => {
  test("each example weighs its class's weight, bit-identical to the same sample weights", async () => {
    const cw = { 0: 0.5, 1: 2, 2: 1.5 };
    const a = (await build(classifier())).model, b = (await build(classifier())).model;
    await a.fit({ x: X, y: Y }, { epochs: 2, batchSize: 2, classWeight: cw });
    await b.fit({ x: X, y: Y }, { epochs: 2, batchSize: 2, sampleWeight: Array.from(Y, (k) => cw[k as 0 | 1 | 2]) });
    expect(bits(a.getWeights())).toEqual(bits(b.getWeights()));
  });

  test("one-hot targets use the argmax; a one-value target is rounded half to even (as Keras's np.round)", async () => {
    const graph = (units: number, loss: string) => ({
      format: "kiln.graph/v2", name: "c", inputs: [{ name: "x", shape: [4] }], targets: [{ name: "y", shape: [units] }],
      layers: [{ name: "o", op: "dense", units, activation: units === 1 ? "sigmoid" : "softmax" }],
      training: { loss: { type: loss, output: "o", target: "y" }, optimizer: { type: "sgd" } },
    });
    const { model: cat } = await build(graph(3, "categorical_crossentropy"));
    const oneHot = f32([0, 0, 1, 1, 0, 0, 0, 1, 0, 0.2, 0.7, 0.1, 1, 0, 0]); // classes 2, 0, 1, 1, 0
    const viaClass = cat.trainStep({ x: X, y: oneHot }, { classWeight: { 0: 1, 1: 2, 2: 3 } }).loss;
    const { model: cat2 } = await build(graph(3, "categorical_crossentropy"));
    expect(cat2.trainStep({ x: X, y: oneHot }, { sampleWeight: [3, 1, 2, 2, 1] }).loss).toBe(viaClass);
    const { model: bin } = await build(graph(1, "binary_crossentropy"));
    const y = f32([0, 1, 0.5, 1.5, 0.4]); // rounds to 0, 1, 0, 2, 0
    expect(() => bin.evaluate({ x: X, y }, { sampleWeight: [1, 1, 1, 1, 1] })).not.toThrow();
    expect(() => bin.trainStep({ x: X, y }, { classWeight: { 0: 1, 1: 4 } })).toThrow(/example 3 .* is class 2, which has no weight/);
    const { model: bin2 } = await build(graph(1, "binary_crossentropy"));
    const y2 = f32([0, 1, 0.5, 1, 0.4]);
    const { model: bin3 } = await build(graph(1, "binary_crossentropy"));
    expect(bin2.trainStep({ x: X, y: y2 }, { classWeight: { 0: 1, 1: 4 } }).loss).toBe(bin3.trainStep({ x: X, y: y2 }, { sampleWeight: [1, 4, 1, 4, 1] }).loss);
  });
});

describe("several outputs", () => {
  // A shared trunk, two heads; "h" is an output that also feeds the head "b".
  const twoHeads = (loss: unknown, extra: Record<string, unknown> = {}) => ({
    format: "kiln.graph/v2", name: "two", seed: 5, inputs: [{ name: "x", shape: [4] }],
    targets: [{ name: "ya", shape: [], dtype: "int32" }, { name: "yb", shape: [2] }],
    layers: [
      { name: "h", op: "dense", units: 3, activation: "softmax" },
      { name: "b", op: "dense", units: 2, inputs: ["h"] },
    ],
    outputs: ["h", "b"],
    training: { loss, optimizer: { type: "sgd", learning_rate: 1 }, ...extra },
  });
  const list = (w?: number[]) => twoHeads([
    { type: "sparse_categorical_crossentropy", target: "ya" }, { type: "mean_squared_error", target: "yb" },
  ], { ...(w ? { loss_weights: w } : {}), metrics: [["accuracy"], ["mean_absolute_error", "r2_score"]] });
  const YA = new Int32Array([0, 2, 1, 1, 0]), YB = f32(Array.from({ length: 10 }, () => next()));

  test("logs as Keras 3 names them; loss = Σ weight·<output>_loss, each against float64", async () => {
    const { model } = await build(list([1, 0.5]));
    expect(model.manifest.training!.metrics).toEqual(["h_loss", "b_loss", "h_accuracy", "b_mean_absolute_error", "b_r2_score"]);
    const out = model.predict({ x: X });
    const la = ce(out.h!, YA).reduce((a, b) => a + b, 0) / 5;
    const lb = Array.from(out.b!, (v, i) => (v - YB[i]!) ** 2).reduce((a, b) => a + b, 0) / 10;
    const r = model.evaluate({ x: X, ya: YA, yb: YB }, { batchSize: 2 });
    near(r.metrics.h_loss!, la);
    near(r.metrics.b_loss!, lb);
    near(r.loss, la + 0.5 * lb);
  });

  test("the gradient is the weighted sum of each output's (also through an output that feeds another layer)", async () => {
    const step = async (w: number[]) => {
      const { model } = await build(list(w));
      const w0 = model.getWeights();
      model.trainStep({ x: X, ya: YA, yb: YB });
      const w1 = model.getWeights();
      return Object.keys(w0).flatMap((k) => Array.from(w0[k]!, (v, i) => v - w1[k]![i]!));
    };
    const both = await step([1, 0.5]), a = await step([1, 0]), b = await step([0, 1]);
    const want = a.map((g, i) => g + 0.5 * b[i]!);
    const err = Math.sqrt(both.reduce((s, g, i) => s + (g - want[i]!) ** 2, 0)) / Math.sqrt(want.reduce((s, g) => s + g * g, 0));
    expect(err).toBeLessThan(1e-6);
    expect(b.some((g) => g !== 0) && a.some((g) => g !== 0)).toBe(true);
  });

  test("a map by output name trains bit-identically to the list", async () => {
    const map = twoHeads({ b: { type: "mean_squared_error", target: "yb" }, h: { type: "sparse_categorical_crossentropy", target: "ya" } },
      { loss_weights: { b: 0.5 }, metrics: { h: ["accuracy"], b: ["mean_absolute_error", "r2_score"] } });
    const m1 = (await build(list([1, 0.5]))).model, m2 = (await build(map)).model;
    expect(m2.manifest.training!.metrics).toEqual(m1.manifest.training!.metrics);
    const h1 = await m1.fit({ x: X, ya: YA, yb: YB }, { epochs: 2, batchSize: 2 });
    const h2 = await m2.fit({ x: X, ya: YA, yb: YB }, { epochs: 2, batchSize: 2 });
    expect(bits(m2.getWeights())).toEqual(bits(m1.getWeights()));
    expect(h2.history).toEqual(h1.history);
    expect(Object.keys(h1.history)).toEqual(["loss", "h_loss", "b_loss", "h_accuracy", "b_mean_absolute_error", "b_r2_score"]);
  });

  test("class weights need one output", async () => {
    const { model } = await build(list());
    expect(() => model.trainStep({ x: X, ya: YA, yb: YB }, { classWeight: { 0: 1, 1: 1, 2: 1 } })).toThrow(/one output.*this one has 2: give sampleWeight instead/);
  });
});
