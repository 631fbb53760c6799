/**
 * The issue-17 shape ops (conv1d, 1-D pools, upsampling, padding, cropping, repeat_vector, permute,
 * time_distributed over dense and over conv2d, pooling and flatten) in one graph whose every name
 * is hostile (JavaScript object members, AssemblyScript keywords, the generators' own locals — the
 * inner layers of time_distributed too): harness.ts describeHostileNamesAndThreads checks that the
 * names never reach the generated source, that predict and a train step match the float64
 * reference, and that a threaded build is bit-identical on 1 and 2 threads and to one thread.
 */
import { expect } from "vitest";
import { describeHostileNamesAndThreads } from "./harness.js";

const HOSTILE = [
  "constructor", "prototype", "valueOf", "toString", "__proto__", "hasOwnProperty", "k0", "batch", "memory", "rt0",
  "predict", "train_step", "load", "store", "v128", "_s0", "_k", "f32", "i", "abort", "let", "return", "export", "function",
  "const", "_d0", "src", "dst",
  // the video branch (time_distributed unrolled over steps): its lowering's and kernels' locals
  "_i0", "xt", "yt", "steps", "_s1", "nIn", "nOut", "_d1",
];

/** Every op of issue 17's shape family, over three inputs; names from `n`. */
function makeGraph(n: (i: number) => string, graphName: string): any {
  const [seq, img, vec, c1, mp, c2, ap, up1, zp1, cr1, td, inner, gap, gmp, cv, zp2, cr2, bil, near, perm, fl, dn, dv, rep, pv, fv, cat, tgt,
    tdFlat2, tdConvInner, tdPoolInner, tdFlatInner, video, tdConv, tdPool, tdFlat] = HOSTILE.map((_h, j) => n(j));
  return {
    format: "kiln.graph/v2",
    name: graphName,
    seed: 4,
    inputs: [{ name: seq, shape: [12, 3] }, { name: img, shape: [4, 4, 2] }, { name: vec, shape: [4] }, { name: video, shape: [3, 4, 4, 2] }],
    targets: [{ name: tgt, shape: [39] }],
    layers: [
      { name: c1, op: "conv1d", filters: 4, kernel_size: 3, dilation_rate: 2, padding: "causal", inputs: [seq] },
      { name: mp, op: "max_pooling1d" },
      { name: c2, op: "conv1d", filters: 4, kernel_size: 2, padding: "same", activation: "tanh" },
      { name: ap, op: "average_pooling1d", padding: "same" },
      { name: up1, op: "upsampling1d" },
      { name: zp1, op: "zero_padding1d" },
      { name: cr1, op: "cropping1d", cropping: [2, 0] },
      { name: td, op: "time_distributed", layer: { op: "dense", name: inner, units: 3, activation: "sigmoid" } },
      { name: gap, op: "global_average_pooling1d", inputs: [td] },
      { name: gmp, op: "global_max_pooling1d", inputs: [td] },
      { name: cv, op: "conv2d", filters: 2, kernel_size: 1, inputs: [img] },
      { name: zp2, op: "zero_padding2d", padding: [[1, 0], [0, 2]] },
      { name: cr2, op: "cropping2d", cropping: [[0, 1], [1, 1]] },
      { name: bil, op: "upsampling2d", size: 2, interpolation: "bilinear" },
      { name: near, op: "upsampling2d", size: [1, 2] },
      { name: perm, op: "permute", dims: [3, 1, 2] },
      { name: fl, op: "flatten" },
      { name: dn, op: "dense", units: 3 },
      { name: dv, op: "dense", units: 3, activation: "tanh", inputs: [vec] },
      { name: rep, op: "repeat_vector", n: 2 },
      { name: pv, op: "permute", dims: [2, 1] },
      { name: fv, op: "flatten" },
      // A video branch: per-frame conv (the inner layer named as a kernel local), pool and flatten.
      { name: tdConv, op: "time_distributed", layer: { op: "conv2d", name: tdConvInner, filters: 2, kernel_size: 3, padding: "same", activation: "relu" }, inputs: [video] },
      { name: tdPool, op: "time_distributed", layer: { op: "max_pooling2d", name: tdPoolInner } },
      { name: tdFlat, op: "time_distributed", layer: { op: "flatten", name: tdFlatInner } },
      { name: tdFlat2, op: "flatten" },
      { name: cat, op: "concatenate", inputs: [gap, gmp, dn, fv, tdFlat2] },
    ],
    outputs: [cat, bil],
    training: { loss: { type: "mean_squared_error", output: cat, target: tgt }, optimizer: { type: "sgd", learning_rate: 0.5 } },
  };
}

describeHostileNamesAndThreads("issue-17 shape ops", HOSTILE, makeGraph, {
  gradients: true,
  weights(model) {
    // time_distributed's weights are <wrapper>/<inner>/… as data.
    const weights = model.getWeights();
    for (const name of ["predict/train_step/kernel", "predict/train_step/bias", "toString/kernel", "nIn/xt/kernel", "nIn/xt/bias"]) expect(Object.hasOwn(weights, name), name).toBe(true);
  },
});
