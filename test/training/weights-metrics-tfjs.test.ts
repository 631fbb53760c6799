/**
 * TF.js cross-check of issue 21 items 3 and 4 where TF.js has the same thing: weighted losses
 * (tf.losses.* weighted, Reduction.SUM, divided here by the number of loss values: Keras's
 * sum_over_batch_size, which TF.js's reductions lack — its default divides by the count of nonzero
 * weights) and the metrics of tf.metrics (binary, categorical and sparse categorical accuracy,
 * precision, recall, MSE, MAE; it has no top-k, AUC or R²), on the same float32 data a compiled
 * kiln module evaluates (1e-6 relative).
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, test } from "vitest";
import { build, rng } from "../compile/harness.js";

beforeAll(async () => {
  await tf.setBackend("cpu");
});

const near = (got: number, want: number, rel = 1e-6) => expect(Math.abs(got - want)).toBeLessThanOrEqual(rel * Math.abs(want));
const next = rng(1729);
const N = 9, C = 4;
const uniform = (n: number, lo = 0, hi = 1) => Float32Array.from({ length: n }, () => lo + (hi - lo) * next());
const probs = uniform(N * C);
const ids = Int32Array.from({ length: N }, () => Math.floor(next() * C));
const onehot = Float32Array.from({ length: N * C }, (_, i) => (ids[Math.floor(i / C)] === i % C ? 1 : 0));
const multi = Float32Array.from({ length: N * C }, () => (next() < 0.5 ? 1 : 0));
const weights = Float32Array.from({ length: N }, (_, i) => (i % 4 === 1 ? 0 : 0.3 + 2 * next()));

/** The input passed through unchanged: the data are the predictions. */
const identity = (target: Record<string, unknown>, loss: Record<string, unknown>, metrics: unknown[] = []) => ({
  format: "kiln.graph/v2", name: "x", inputs: [{ name: "p", shape: [C] }], targets: [{ name: "y", ...target }],
  layers: [{ name: "out", op: "activation", activation: "linear" }],
  training: { loss: { output: "out", target: "y", ...loss }, optimizer: { type: "sgd" }, metrics },
});
/** Keras's sum_over_batch_size from TF.js: the weighted sum (Reduction.SUM) over the number of loss values. */
const overBatch = (t: tf.Tensor, values: number) => t.dataSync()[0]! / values;
const SUM = tf.Reduction.SUM;
const w2 = () => tf.tensor2d(weights, [N, 1]);

describe("weighted losses vs TF.js", () => {
  test("mean_squared_error and mean_absolute_error, weights per example", async () => {
    for (const [type, fn] of [["mean_squared_error", tf.losses.meanSquaredError], ["mean_absolute_error", tf.losses.absoluteDifference]] as const) {
      const { model } = await build(identity({ shape: [C] }, { type }));
      // TF.js weighs each of the N·C loss elements and divides by N·C: Keras's per-row mean then weighted sum / N.
      const want = overBatch(fn(tf.tensor2d(multi, [N, C]), tf.tensor2d(probs, [N, C]), w2(), SUM), N * C);
      near(model.evaluate({ p: probs, y: multi }, { sampleWeight: weights, batchSize: 4 }).loss, want);
    }
  });

  test("categorical cross-entropy from logits, weights per example", async () => {
    const logits = uniform(N * C, -3, 3);
    const { model } = await build(identity({ shape: [C] }, { type: "categorical_crossentropy", from_logits: true }));
    const want = overBatch(tf.losses.softmaxCrossEntropy(tf.tensor2d(onehot, [N, C]), tf.tensor2d(logits, [N, C]), tf.tensor1d(weights), 0, SUM), N);
    near(model.evaluate({ p: logits, y: onehot }, { sampleWeight: weights }).loss, want);
  });

  test("binary cross-entropy from logits, weights per example", async () => {
    const logits = uniform(N * C, -3, 3);
    const { model } = await build(identity({ shape: [C] }, { type: "binary_crossentropy", from_logits: true }));
    const want = overBatch(tf.losses.sigmoidCrossEntropy(tf.tensor2d(multi, [N, C]), tf.tensor2d(logits, [N, C]), w2(), 0, SUM), N * C);
    near(model.evaluate({ p: logits, y: multi }, { sampleWeight: weights, batchSize: 2 }).loss, want);
  });
});

describe("metrics vs tf.metrics", () => {
  const mean = (t: tf.Tensor) => tf.mean(t).dataSync()[0]!;
  test("binary accuracy, precision, recall, MSE, MAE", async () => {
    const { model } = await build(identity({ shape: [C] }, { type: "binary_crossentropy" },
      ["binary_accuracy", "precision", "recall", "mean_squared_error", "mean_absolute_error"]));
    const r = model.evaluate({ p: probs, y: multi }, { batchSize: 4 }).metrics;
    const yt = tf.tensor2d(multi, [N, C]), yp = tf.tensor2d(probs, [N, C]);
    near(r.binary_accuracy!, mean(tf.metrics.binaryAccuracy(yt, yp)));
    near(r.precision!, tf.metrics.precision(yt.reshape([-1]), yp.reshape([-1]).greater(0.5).toFloat()).dataSync()[0]!);
    near(r.recall!, tf.metrics.recall(yt.reshape([-1]), yp.reshape([-1]).greater(0.5).toFloat()).dataSync()[0]!);
    near(r.mean_squared_error!, mean(tf.metrics.meanSquaredError(yt, yp)));
    near(r.mean_absolute_error!, mean(tf.metrics.meanAbsoluteError(yt, yp)));
  });

  test("categorical and sparse categorical accuracy", async () => {
    const { model } = await build(identity({ shape: [C] }, { type: "categorical_crossentropy" }, ["categorical_accuracy"]));
    const r = model.evaluate({ p: probs, y: onehot }, { batchSize: 4 }).metrics;
    const yt = tf.tensor2d(onehot, [N, C]), yp = tf.tensor2d(probs, [N, C]);
    near(r.categorical_accuracy!, mean(tf.metrics.categoricalAccuracy(yt, yp)));
    const { model: sparse } = await build(identity({ shape: [], dtype: "int32" }, { type: "sparse_categorical_crossentropy" }, ["sparse_categorical_accuracy"]));
    const s = sparse.evaluate({ p: probs, y: ids }, { batchSize: 4 }).metrics;
    near(s.sparse_categorical_accuracy!, mean(tf.metrics.sparseCategoricalAccuracy(tf.tensor1d(Float32Array.from(ids)), yp)));
  });
});
