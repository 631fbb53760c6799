/**
 * Compiled modules against TensorFlow.js (tfjs-layers, cpu backend), an implementation that shares
 * nothing with kiln: one graph holds a branch per op variant, is compiled once, and every output
 * of `predict` must match the tfjs layer fed the same float32 weights (setWeights, never tfjs
 * initializers) within 1e-4 relative ‖out − tf‖/‖tf‖.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import type { Model } from "../../runtime/model.js";
import { build, randomFeeds, randomizeWeights, relErr } from "./harness.js";

const layer = (name: string, op: string, inputs: string[], attrs: object = {}) => ({ name, op, inputs, ...attrs });

/** Per branch: the kiln layer and the equivalent tfjs layer; weights in tfjs getWeights() order. */
interface Branch {
  kiln: ReturnType<typeof layer>;
  tf: () => tf.layers.Layer;
  weights?: string[];
}

const conv = (name: string, kiln: object, tfa: object): Branch => ({
  kiln: layer(name, "conv2d", ["img"], { filters: 4, ...kiln }),
  tf: () => tf.layers.conv2d({ filters: 4, ...(tfa as { kernelSize: number }) }),
  weights: ["kernel", "bias"],
});

const pool = (name: string, op: "max" | "average", kiln: object, tfa: object): Branch => ({
  kiln: layer(name, `${op}_pooling2d`, ["img"], kiln),
  tf: () => (op === "max" ? tf.layers.maxPooling2d : tf.layers.averagePooling2d)({ poolSize: 2, ...tfa } as { poolSize: number }),
});

/** A tfjs layer applied to permuted input (perm must be its own inverse), output permuted back. */
function transposed(inner: tf.layers.Layer, perm: number[]): tf.layers.Layer {
  return {
    apply: (x: tf.Tensor, kw?: Record<string, unknown>) => tf.transpose(inner.apply(tf.transpose(x, perm), kw) as tf.Tensor, perm),
    setWeights: (ws: tf.Tensor[]) => inner.setWeights(ws),
  } as unknown as tf.layers.Layer;
}

const BRANCHES: Branch[] = [
  { kiln: layer("dense_relu", "dense", ["vec"], { units: 4, activation: "relu" }), tf: () => tf.layers.dense({ units: 4, activation: "relu" }), weights: ["kernel", "bias"] },
  { kiln: layer("dense_rank3", "dense", ["a"], { units: 5, activation: "tanh" }), tf: () => tf.layers.dense({ units: 5, activation: "tanh" }), weights: ["kernel", "bias"] },
  { kiln: layer("dense_nobias", "dense", ["vec"], { units: 3, use_bias: false }), tf: () => tf.layers.dense({ units: 3, useBias: false }), weights: ["kernel"] },
  conv("conv_valid", { kernel_size: 3, activation: "relu" }, { kernelSize: 3, activation: "relu" }),
  conv("conv_same", { kernel_size: [3, 2], padding: "same" }, { kernelSize: [3, 2], padding: "same" }),
  conv("conv_same_s2", { kernel_size: 3, strides: 2, padding: "same" }, { kernelSize: 3, strides: 2, padding: "same" }),
  conv("conv_valid_s2", { kernel_size: [2, 3], strides: 2 }, { kernelSize: [2, 3], strides: 2 }),
  conv("conv_dil_same", { kernel_size: 3, dilation_rate: 2, padding: "same" }, { kernelSize: 3, dilationRate: 2, padding: "same" }),
  conv("conv_dil_valid", { kernel_size: 2, dilation_rate: 2, activation: "sigmoid" }, { kernelSize: 2, dilationRate: 2, activation: "sigmoid" }),
  pool("max_valid", "max", {}, {}),
  pool("avg_valid", "average", {}, {}),
  pool("max_same_s2", "max", { pool_size: 3, strides: 2, padding: "same" }, { poolSize: 3, strides: 2, padding: "same" }),
  pool("avg_same_s2", "average", { pool_size: 3, strides: 2, padding: "same" }, { poolSize: 3, strides: 2, padding: "same" }),
  pool("avg_same_odd", "average", { pool_size: 2, padding: "same" }, { poolSize: 2, padding: "same" }),
  pool("max_32_s1", "max", { pool_size: [3, 2], strides: 1 }, { poolSize: [3, 2], strides: 1 }),
  { kiln: layer("gmax", "global_max_pooling2d", ["img"]), tf: () => tf.layers.globalMaxPooling2d({}) },
  { kiln: layer("gavg", "global_average_pooling2d", ["img"]), tf: () => tf.layers.globalAveragePooling2d({}) },
  ...[false, true].flatMap((rs): Branch[] => [
    {
      kiln: layer(`rnn_${rs ? "seq" : "last"}`, "simple_rnn", ["seq"], { units: 4, return_sequences: rs }),
      tf: () => tf.layers.simpleRNN({ units: 4, returnSequences: rs, recurrentInitializer: "zeros" }),
      weights: ["kernel", "recurrent_kernel", "bias"],
    },
    {
      kiln: layer(`lstm_${rs ? "seq" : "last"}`, "lstm", ["seq"], { units: 3, return_sequences: rs }),
      tf: () => tf.layers.lstm({ units: 3, returnSequences: rs, recurrentActivation: "sigmoid", recurrentInitializer: "zeros" }),
      weights: ["kernel", "recurrent_kernel", "bias"],
    },
  ]),
  {
    kiln: layer("gru_reset_before", "gru", ["seq"], { units: 3, reset_after: false, return_sequences: true }),
    tf: () => tf.layers.gru({ units: 3, returnSequences: true, recurrentActivation: "sigmoid", recurrentInitializer: "zeros", ...{ resetAfter: false } }),
    weights: ["kernel", "recurrent_kernel", "bias"],
  },
  {
    kiln: layer("lstm_backwards", "lstm", ["seq"], { units: 3, go_backwards: true, return_sequences: true }),
    tf: () => tf.layers.lstm({ units: 3, goBackwards: true, returnSequences: true, recurrentActivation: "sigmoid", recurrentInitializer: "zeros" }),
    weights: ["kernel", "recurrent_kernel", "bias"],
  },
  {
    kiln: layer("bi_lstm", "bidirectional", ["seq"], { layer: { op: "lstm", units: 2, return_sequences: true } }),
    tf: () => tf.layers.bidirectional({ layer: tf.layers.lstm({ units: 2, returnSequences: true, recurrentActivation: "sigmoid", recurrentInitializer: "zeros" }) as never }),
    weights: ["forward_lstm", "backward_lstm"].flatMap((d) => [`${d}/kernel`, `${d}/recurrent_kernel`, `${d}/bias`]),
  },
  {
    kiln: layer("bi_gru", "bidirectional", ["seq"], { merge_mode: "sum", layer: { op: "gru", name: "g", units: 3, reset_after: false } }),
    tf: () => tf.layers.bidirectional({ mergeMode: "sum", layer: tf.layers.gru({ units: 3, recurrentActivation: "sigmoid", recurrentInitializer: "zeros", ...{ resetAfter: false } }) as never }),
    weights: ["forward_g", "backward_g"].flatMap((d) => [`${d}/kernel`, `${d}/recurrent_kernel`, `${d}/bias`]),
  },
  { kiln: layer("emb", "embedding", ["ids"], { input_dim: 7, output_dim: 4 }), tf: () => tf.layers.embedding({ inputDim: 7, outputDim: 4 }), weights: ["embeddings"] },
  {
    kiln: layer("bn", "batch_normalization", ["a"], { momentum: 0.9, epsilon: 0.01 }),
    tf: () => tf.layers.batchNormalization({ momentum: 0.9, epsilon: 0.01 }),
    weights: ["gamma", "beta", "moving_mean", "moving_variance"],
  },
  {
    kiln: layer("bn_img", "batch_normalization", ["img"]),
    tf: () => tf.layers.batchNormalization({ momentum: 0.99, epsilon: 0.001 }),
    weights: ["gamma", "beta", "moving_mean", "moving_variance"],
  },
  // Not on the last axis: TF.js's batchNorm kernel (cpu and wasm) broadcasts the statistics over
  // the last axis whatever the layer's axis (tensorflow/tfjs#1106), so tfjs normalizes the
  // transposed input with the axis last instead.
  {
    kiln: layer("bn_axis1", "batch_normalization", ["a"], { axis: 1, epsilon: 0.01 }),
    tf: () => transposed(tf.layers.batchNormalization({ axis: -1, epsilon: 0.01 }), [0, 2, 1]),
    weights: ["gamma", "beta", "moving_mean", "moving_variance"],
  },
  {
    kiln: layer("bn_img_axis2", "batch_normalization", ["img"], { axis: 2 }),
    tf: () => transposed(tf.layers.batchNormalization({ axis: -1 }), [0, 1, 3, 2]),
    weights: ["gamma", "beta", "moving_mean", "moving_variance"],
  },
  { kiln: layer("ln", "layer_normalization", ["seq"]), tf: () => tf.layers.layerNormalization({ epsilon: 0.001 }), weights: ["gamma", "beta"] },
  { kiln: layer("m_add", "add", ["a", "b", "c"]), tf: () => tf.layers.add() },
  { kiln: layer("m_mul", "multiply", ["a", "b", "c"]), tf: () => tf.layers.multiply() },
  { kiln: layer("m_avg", "average", ["a", "b", "c"]), tf: () => tf.layers.average() },
  { kiln: layer("m_max", "maximum", ["a", "b", "c"]), tf: () => tf.layers.maximum() },
  { kiln: layer("m_min", "minimum", ["a", "b", "c"]), tf: () => tf.layers.minimum() },
  { kiln: layer("m_sub", "subtract", ["a", "b"]), tf: () => ({ apply: (xs: tf.Tensor[]) => tf.sub(xs[0]!, xs[1]!), setWeights() {} }) as unknown as tf.layers.Layer },
  { kiln: layer("m_cat", "concatenate", ["a", "b", "c"]), tf: () => tf.layers.concatenate() },
  { kiln: layer("m_cat1", "concatenate", ["a", "b"], { axis: 1 }), tf: () => tf.layers.concatenate({ axis: 1 }) },
  { kiln: layer("conv1d_same", "conv1d", ["seq"], { filters: 4, kernel_size: 2, padding: "same", activation: "relu" }), tf: () => tf.layers.conv1d({ filters: 4, kernelSize: 2, padding: "same", activation: "relu" }), weights: ["kernel", "bias"] },
  { kiln: layer("conv1d_s2", "conv1d", ["seq"], { filters: 3, kernel_size: 3, strides: 2 }), tf: () => tf.layers.conv1d({ filters: 3, kernelSize: 3, strides: 2 }), weights: ["kernel", "bias"] },
  { kiln: layer("max1d", "max_pooling1d", ["seq"], { padding: "same" }), tf: () => tf.layers.maxPooling1d({ poolSize: 2, padding: "same" }) },
  { kiln: layer("avg1d", "average_pooling1d", ["seq"], { pool_size: 3, strides: 1 }), tf: () => tf.layers.averagePooling1d({ poolSize: 3, strides: 1 }) },
  { kiln: layer("gavg1d", "global_average_pooling1d", ["seq"]), tf: () => tf.layers.globalAveragePooling1d({}) },
  { kiln: layer("gmax1d", "global_max_pooling1d", ["seq"]), tf: () => tf.layers.globalMaxPooling1d({}) },
  { kiln: layer("up2d", "upsampling2d", ["img"], { size: [2, 1] }), tf: () => tf.layers.upSampling2d({ size: [2, 1] }) },
  { kiln: layer("pad2d", "zero_padding2d", ["img"], { padding: [[1, 0], [2, 1]] }), tf: () => tf.layers.zeroPadding2d({ padding: [[1, 0], [2, 1]] }) },
  { kiln: layer("crop2d", "cropping2d", ["img"], { cropping: [[1, 2], [0, 3]] }), tf: () => tf.layers.cropping2D({ cropping: [[1, 2], [0, 3]] }) },
  { kiln: layer("repeat", "repeat_vector", ["vec"], { n: 3 }), tf: () => tf.layers.repeatVector({ n: 3 }) },
  { kiln: layer("perm", "permute", ["img"], { dims: [2, 3, 1] }), tf: () => tf.layers.permute({ dims: [2, 3, 1] }) },
  {
    kiln: layer("td", "time_distributed", ["seq"], { layer: { op: "dense", units: 4, activation: "sigmoid" } }),
    tf: () => tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 4, activation: "sigmoid" }) }),
    weights: ["dense/kernel", "dense/bias"],
  },
  // time_distributed beyond dense: unrolled per frame (conv2d, pooling) and a view (flatten).
  {
    kiln: layer("td_conv", "time_distributed", ["video"], { layer: { op: "conv2d", name: "frame_conv", filters: 3, kernel_size: 3, padding: "same", activation: "relu" } }),
    tf: () => tf.layers.timeDistributed({ layer: tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: "same", activation: "relu" }) }),
    weights: ["frame_conv/kernel", "frame_conv/bias"],
  },
  { kiln: layer("td_pool", "time_distributed", ["video"], { layer: { op: "max_pooling2d" } }), tf: () => tf.layers.timeDistributed({ layer: tf.layers.maxPooling2d({ poolSize: 2 }) }) },
  { kiln: layer("td_gap", "time_distributed", ["video"], { layer: { op: "global_average_pooling2d" } }), tf: () => tf.layers.timeDistributed({ layer: tf.layers.globalAveragePooling2d({}) }) },
  { kiln: layer("td_flat", "time_distributed", ["video"], { layer: { op: "flatten" } }), tf: () => tf.layers.timeDistributed({ layer: tf.layers.flatten() }) },
  // Rescaling: a number, and one scale and offset per channel (tfjs-layers passes lists to tf.mul / tf.add).
  { kiln: layer("rescale", "rescaling", ["img"], { scale: 1 / 127.5, offset: -1 }), tf: () => tf.layers.rescaling({ scale: 1 / 127.5, offset: -1 }) },
  {
    kiln: layer("rescale_rgb", "rescaling", ["img"], { scale: [0.5, -2, 3], offset: [0.1, 0.2, -0.3] }),
    tf: () => tf.layers.rescaling({ scale: [0.5, -2, 3] as unknown as number, offset: [0.1, 0.2, -0.3] as unknown as number }),
  },
];

const GRAPH = {
  format: "kiln.graph/v2",
  name: "tfjs_parity",
  seed: 3,
  inputs: [
    { name: "img", shape: [8, 7, 3] },
    { name: "vec", shape: [5] },
    { name: "seq", shape: [5, 3] },
    { name: "ids", shape: [6], dtype: "int32" },
    { name: "video", shape: [3, 4, 5, 2] },
    { name: "a", shape: [2, 3] },
    { name: "b", shape: [2, 3] },
    { name: "c", shape: [2, 3] },
  ],
  layers: BRANCHES.map((b) => b.kiln),
  outputs: BRANCHES.map((b) => b.kiln.name),
};

const MAX_BATCH = 4;
let model: Model;
let weights: Record<string, Float32Array>;

beforeAll(async () => {
  await tf.setBackend("cpu");
  model = (await build(GRAPH, { maxBatch: MAX_BATCH })).model;
  weights = randomizeWeights(model, 5, 0.6);
}, 120_000);

/** The tfjs layer of `b`, applied to the same feeds with the same weights (inference mode). */
function tfOutput(b: Branch, feeds: Record<string, Float32Array | Int32Array>, batch: number): tf.Tensor {
  const xs = b.kiln.inputs.map((name) => {
    const info = GRAPH.inputs.find((i) => i.name === name)!;
    return tf.tensor(feeds[name]!, [batch, ...info.shape], info.dtype === "int32" ? "int32" : "float32");
  });
  const l = b.tf();
  const arg = xs.length === 1 ? xs[0]! : xs;
  l.apply(arg); // builds the layer
  if (b.weights) l.setWeights(b.weights.map((w) => tf.tensor(weights[`${b.kiln.name}/${w}`]!, model.weights.find((x) => x.name === `${b.kiln.name}/${w}`)!.shape)));
  return l.apply(arg, { training: false }) as tf.Tensor;
}

describe("compiled predict vs TensorFlow.js layers (cpu)", () => {
  for (const b of BRANCHES) {
    it(`${b.kiln.op} ${b.kiln.name}`, () => {
      expect(model.weights.filter((w) => w.name.startsWith(`${b.kiln.name}/`)).map((w) => w.name.slice(b.kiln.name.length + 1)).sort()).toEqual([...(b.weights ?? [])].sort());
      let nonZero = false;
      for (const batch of [1, 3, MAX_BATCH]) {
        const feeds = randomFeeds(model.inputs as never, batch, 40 + batch);
        const out = model.predict(feeds)[b.kiln.name]!;
        const ref = tfOutput(b, feeds, batch);
        const expected = ref.dataSync();
        expect(out.length, `size at batch ${batch}`).toBe(expected.length);
        const outInfo = model.outputs.find((o) => o.name === b.kiln.name)!;
        expect([batch, ...outInfo.shape]).toEqual(ref.shape);
        nonZero ||= Array.from(expected).some((v) => v !== 0);
        expect(relErr(out, expected), `batch ${batch}`).toBeLessThan(1e-4);
      }
      expect(nonZero, "tfjs output is not all zero").toBe(true);
    });
  }
});
