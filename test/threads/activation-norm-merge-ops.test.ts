/**
 * The issue-17 activation, normalization, merge and noise ops together in one graph (layer and
 * group normalization on other axes too; rescaling and normalization at the stem), under harness.ts describeHostileNamesAndThreads: with
 * hostile layer names (names are data: renaming every one leaves the generated source unchanged,
 * and predict still matches the reference), and in a threaded build (1 and 2 threads, any batch
 * split, and the single-threaded build give bit-identical training steps and predictions). The
 * graph draws dropout masks and noise in training, so no train step is compared with the reference.
 */
import { expect } from "vitest";
import { describeHostileNamesAndThreads } from "../compile/harness.js";

const HOSTILE = [
  "constructor", "prototype", "__proto__", "toString", "hasOwnProperty", "valueOf", "memory", "predict", "train_step", "load",
  "store", "v128", "export", "function", "return", "let", "const", "abort", "_k", "i", "f32", "batch", "key", "h1", "u1", "z",
  "moved", "perm", "cols", "scale", "mean", "variance",
] as const;

/** Every new op on small shapes; `n(j)` names the j-th layer (HOSTILE order). */
function makeGraph(n: (j: number) => string, graphName: string): any {
  const [conv, bn, pre, sd2, gap, gate, se, gn, flat, rshp, sd1, flat2, relu, leaky, elu, d1, noise, gdrop, ln, d2, dotL, addL, act, out, x, y,
    gnAxis, lnAxes, lnLast, resc, normW, normA] = HOSTILE.map((_h, j) => n(j));
  return {
    format: "kiln.graph/v2", name: graphName, seed: 9,
    inputs: [{ name: x, shape: [4, 4, 3] }],
    targets: [{ name: y, shape: [3] }],
    layers: [
      // The preprocessing layers at the stem: per-channel constants and adapted statistics.
      { name: resc, op: "rescaling", scale: [0.5, 2, -1], offset: [0.1, -0.2, 0.3], inputs: [x] },
      { name: normA, op: "normalization", mean: [0.485, 0.456, 0.406], variance: [0.052441, 0.050176, 0.050625] },
      { name: normW, op: "normalization", axis: [1, 2] },
      { name: conv, op: "conv2d", filters: 4, kernel_size: 2, activation: "hard_silu" },
      { name: bn, op: "batch_normalization", center: false },
      { name: pre, op: "prelu", shared_axes: [1, 2] },
      { name: sd2, op: "spatial_dropout2d", rate: 0.3 },
      { name: gap, op: "global_average_pooling2d" },
      { name: gate, op: "dense", units: 4, activation: "hard_sigmoid" },
      { name: se, op: "multiply", inputs: [sd2, gate] },
      { name: gn, op: "group_normalization", groups: 2 },
      { name: flat, op: "flatten" },
      { name: rshp, op: "reshape", target_shape: [9, 4] },
      // Normalization on axes other than the last (moved last by a permuting copy and back).
      { name: gnAxis, op: "group_normalization", groups: 3, axis: 1 },
      { name: lnAxes, op: "layer_normalization", axis: [-1, -2] },
      { name: lnLast, op: "layer_normalization", axis: 1, center: false },
      { name: sd1, op: "spatial_dropout1d", rate: 0.25 },
      { name: flat2, op: "flatten" },
      { name: relu, op: "relu", max_value: 6, negative_slope: 0.1 },
      { name: leaky, op: "leaky_relu" },
      { name: elu, op: "elu", alpha: 0.5 },
      { name: d1, op: "dense", units: 6, activation: "mish" },
      { name: noise, op: "gaussian_noise", stddev: 0.1 },
      { name: gdrop, op: "gaussian_dropout", rate: 0.2 },
      { name: ln, op: "layer_normalization", scale: false },
      { name: d2, op: "dense", units: 6, activation: "selu" },
      { name: dotL, op: "dot", axes: 1, normalize: true, inputs: [ln, d2] },
      { name: addL, op: "add", inputs: [d2, dotL] },
      { name: act, op: "activation", activation: "relu6" },
      { name: out, op: "dense", units: 3, activation: "log_softmax" },
    ],
    outputs: [out, se],
    training: { loss: { type: "mean_squared_error", output: out, target: y }, optimizer: { type: "adam" } },
  };
}

describeHostileNamesAndThreads("the new activation, normalization, merge and noise ops", HOSTILE, makeGraph, {
  weights(model) {
    const names = model.getWeights();
    expect(Object.hasOwn(names, "__proto__/alpha")).toBe(true); // prelu's
    expect(Object.hasOwn(names, "prototype/gamma") && !Object.hasOwn(names, "prototype/beta")).toBe(true); // batch norm, center=false
    expect(model.weights.find((w) => w.name === "perm/gamma")!.shape).toEqual([4, 9]); // layer norm over axes [-1, -2]
    expect(model.weights.find((w) => w.name === "mean/variance")!.shape).toEqual([4, 4]); // normalization's adapted statistics, axes [1, 2]
  },
});
