/**
 * Export to Keras 3 `.keras`: the file follows Keras 3's saving layout (written from
 * keras/src/saving/saving_lib.py; no Keras runs here to load it, so these tests check the layout
 * and that kiln's own importer, which reads real Keras files by the same rules, gets the same graph,
 * weights and predictions back).
 */
import { unzipSync, strFromU8 } from "fflate";
import h5wasm from "h5wasm";
import { describe, expect, test } from "vitest";
import { compile, exportKeras, importModel, KilnError } from "../../compiler/index.js";
import { checkGraph } from "../../compiler/frontend/index.js";
import { loadModel } from "../../runtime/index.js";
import { writeSafetensors } from "../../runtime/safetensors.js";
import { rng } from "../compile/harness.js";
import { feedsFor } from "./helpers.js";
import { main } from "../../compiler/cli/main.js";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const graph = {
  format: "kiln.graph/v2", name: "tiny_lm", seed: 1,
  inputs: [{ name: "tokens", shape: [6], dtype: "int32" }],
  targets: [{ name: "next", shape: [], dtype: "int32" }],
  layers: [
    { name: "emb", op: "embedding", input_dim: 20, output_dim: 8 },
    { name: "pos", op: "position_embedding", sequence_length: 6 },
    { name: "sum", op: "add", inputs: ["emb", "pos"] },
    { name: "att", op: "multi_head_attention", num_heads: 2, key_dim: 4, causal: true },
    { name: "res", op: "subtract", inputs: ["att", "sum"] },
    { name: "norm", op: "layer_normalization" },
    { name: "conv_in", op: "reshape", target_shape: [6, 8, 1] },
    { name: "conv", op: "conv2d", filters: 2, kernel_size: [3, 3], padding: "same", activation: "leaky_relu" },
    { name: "bn", op: "batch_normalization" },
    { name: "pool", op: "max_pooling2d", pool_size: [2, 2] },
    { name: "flat", op: "flatten" },
    { name: "seq", op: "reshape", inputs: ["flat"], target_shape: [3, 8] },
    { name: "gru", op: "gru", units: 5, return_sequences: true },
    { name: "lstm", op: "lstm", units: 4 },
    { name: "drop", op: "dropout", rate: 0.1 },
    { name: "probs", op: "dense", units: 20, activation: "softmax" },
  ],
  outputs: ["probs"],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "next" }, optimizer: { type: "adam", learning_rate: 0.003 }, metrics: ["accuracy"] },
};

async function weightsFor(g: object) {
  const { wasm } = await compile(JSON.stringify(g), { maxBatch: 2 });
  const model = await loadModel(wasm);
  const next = rng(51);
  const w: Record<string, Float32Array> = {};
  for (const x of model.weights) w[x.name] = Float32Array.from({ length: x.shape.reduce((a, b) => a * b, 1) }, () => (x.name.endsWith("variance") ? 0.5 + next() : (next() - 0.5)));
  model.setWeights(w);
  return { model, bytes: writeSafetensors(Object.fromEntries(model.weights.map((x) => [x.name, { dtype: "F32" as const, shape: x.shape, data: w[x.name]! }]))) };
}

/** kiln's activations that Keras 3 has with the same formula (all but hard_sigmoid_legacy and the swish / hard_swish aliases). */
const KERAS_ACTIVATIONS = ["linear", "relu", "sigmoid", "tanh", "softmax", "gelu", "leaky_relu", "elu", "silu", "softplus", "relu6", "hard_sigmoid", "hard_silu", "mish", "selu", "exponential", "log_softmax"];

describe("kiln export --to keras", () => {
  test("writes Keras 3's layout: config.json (Functional, compile_config), metadata.json, model.weights.h5 at layers/<class>[_n]/vars/<i>", async () => {
    const { bytes } = await weightsFor(graph);
    const file = await exportKeras(graph, bytes);
    const zip = unzipSync(file);
    expect(Object.keys(zip).sort()).toEqual(["config.json", "metadata.json", "model.weights.h5"]);
    const config = JSON.parse(strFromU8(zip["config.json"]!));
    expect(config.class_name).toBe("Functional");
    expect(config.config.layers.map((l: { class_name: string }) => l.class_name)).toEqual([
      "InputLayer", "Embedding", "PositionEmbedding", "Add", "MultiHeadAttention", "Subtract", "LayerNormalization", "Reshape", "Conv2D",
      "BatchNormalization", "MaxPooling2D", "Flatten", "Reshape", "GRU", "LSTM", "Dropout", "Dense",
    ]);
    expect(config.config.layers[4].inbound_nodes[0].kwargs).toEqual({ use_causal_mask: true });
    expect(config.compile_config.optimizer.class_name).toBe("Adam");
    const { FS } = (await h5wasm.ready) as unknown as { FS: { writeFile(p: string, d: Uint8Array): void } };
    FS.writeFile("/exported.h5", zip["model.weights.h5"]!);
    const f = new h5wasm.File("/exported.h5", "r");
    expect((f.get("layers") as InstanceType<typeof h5wasm.Group>).keys().sort()).toEqual([
      "add", "batch_normalization", "conv2d", "dense", "dropout", "embedding", "flatten", "gru", "input_layer", "layer_normalization", "lstm",
      "max_pooling2d", "multi_head_attention", "position_embedding", "reshape", "reshape_1", "subtract",
    ].filter((k) => k !== "input_layer"));
    expect((f.get("layers/gru/cell/vars/2") as { shape: number[] }).shape).toEqual([2, 15]);
    expect((f.get("layers/multi_head_attention/_output_dense/vars/0") as { shape: number[] }).shape).toEqual([2, 4, 8]);
    f.close();
  });

  test("kiln → .keras → kiln gives the same graph, weights and predictions", async () => {
    const { model, bytes } = await weightsFor(graph);
    const back = await importModel(await exportKeras(graph, bytes));
    const { format: _f, seed: _s, ...rest } = graph;
    expect(back.graph).toMatchObject({ ...rest, name: "tiny_lm", targets: [{ name: "probs_target", shape: [], dtype: "int32" }], training: { ...graph.training, loss: { ...graph.training.loss, target: "probs_target" }, optimizer: { type: "adam", learning_rate: 0.003 } } });
    expect(back.weights).toEqual(bytes);
    const { wasm } = await compile(JSON.stringify(back.graph), { maxBatch: 2, weights: back.weights });
    const again = await loadModel(wasm);
    const feeds = feedsFor(graph, 2, 52, 20);
    expect(Array.from(again.predict(feeds).probs!)).toEqual(Array.from(model.predict(feeds).probs!));
  });

  test("on the command line: kiln export --to keras writes the file, kiln import reads it back", async () => {
    const { bytes } = await weightsFor(graph);
    const dir = mkdtempSync(join(tmpdir(), "kiln-export-keras-"));
    writeFileSync(join(dir, "g.json"), JSON.stringify(graph));
    writeFileSync(join(dir, "w.safetensors"), bytes);
    const io = { out: () => undefined, err: (t: string) => void (err += t) };
    let err = "";
    expect(await main(["export", join(dir, "g.json"), "--weights", join(dir, "w.safetensors"), "--to", "keras", "-o", join(dir, "m.keras")], io)).toBe(0);
    expect(await main(["import", join(dir, "m.keras"), "-o", join(dir, "back.json")], io)).toBe(0);
    expect(err).toBe("");
    expect(readFileSync(join(dir, "back.safetensors"))).toEqual(Buffer.from(bytes));
  });

  test("shape ops (conv1d causal, 1-D pools, padding, cropping, upsampling, repeat_vector, permute) go to .keras and back unchanged", async () => {
    const g = {
      format: "kiln.graph/v2", name: "shapes", inputs: [{ name: "x", shape: [8, 3] }],
      layers: [
        { name: "pad", op: "zero_padding1d", padding: [1, 2] },
        { name: "up", op: "upsampling1d", size: 2 },
        { name: "crop", op: "cropping1d", cropping: [2, 1] },
        { name: "conv", op: "conv1d", filters: 4, kernel_size: 3, padding: "causal", activation: "relu" },
        { name: "mp", op: "max_pooling1d", pool_size: 2 },
        { name: "ap", op: "average_pooling1d", pool_size: 2, strides: 1 },
        { name: "perm", op: "permute", dims: [2, 1] },
        { name: "gmax", op: "global_max_pooling1d" },
        { name: "gavg", op: "global_average_pooling1d", inputs: ["ap"] },
        { name: "cat", op: "concatenate", inputs: ["gmax", "gavg"] },
        { name: "rep", op: "repeat_vector", n: 3 },
        { name: "img", op: "reshape", target_shape: [3, 12, 1] },
        { name: "pad2", op: "zero_padding2d", padding: [[1, 0], [0, 2]] },
        { name: "up2", op: "upsampling2d", size: [2, 1], interpolation: "bilinear" },
        { name: "crop2", op: "cropping2d", cropping: [[1, 1], [0, 1]] },
        { name: "flat", op: "flatten" },
        { name: "out", op: "dense", units: 2 },
      ],
    };
    const { model, bytes } = await weightsFor(g);
    const back = await importModel(await exportKeras(g, bytes));
    const ops = (layers: { name: string; op: string }[]) => Object.fromEntries(layers.map((l) => [l.name, l.op]));
    expect(ops(back.graph.layers as { name: string; op: string }[])).toEqual(ops(g.layers));
    expect(back.weights).toEqual(bytes);
    const { wasm } = await compile(JSON.stringify(back.graph), { maxBatch: 2, weights: back.weights });
    const feeds = feedsFor(g, 2, 53);
    expect(Array.from((await loadModel(wasm)).predict(feeds).out!)).toEqual(Array.from(model.predict(feeds).out!));
  });

  // kiln graphs whose every layer goes to .keras and back: same ops, same weight bytes, same predictions.
  type GraphLayer = { name: string; op: string; [attr: string]: unknown };
  const ROUND_TRIPS: [string, GraphLayer[], { name: string; shape: number[] }[]][] = [
    ["depthwise_conv2d, separable_conv2d (depth_multiplier 2) and conv2d_transpose (output_padding, dilation)", [
      { name: "dw", op: "depthwise_conv2d", kernel_size: 3, depth_multiplier: 2, strides: 2, padding: "same", activation: "relu6" },
      { name: "dw2", op: "depthwise_conv2d", kernel_size: 2, dilation_rate: 2, use_bias: false, activation: "hard_silu" },
      { name: "sep", op: "separable_conv2d", filters: 4, kernel_size: 2, depth_multiplier: 2, padding: "same", activation: "mish" },
      { name: "sep2", op: "separable_conv2d", filters: 3, kernel_size: 2, use_bias: false },
      { name: "up", op: "conv2d_transpose", filters: 3, kernel_size: 3, strides: 2, padding: "same", output_padding: 1, activation: "selu" },
      { name: "up2", op: "conv2d_transpose", filters: 2, kernel_size: 2, dilation_rate: 2, use_bias: false },
      { name: "flat", op: "flatten" },
      { name: "out", op: "dense", units: 2 },
    ] as GraphLayer[], [{ name: "x", shape: [9, 9, 3] }]],
    ["relu (max_value, negative_slope, threshold), leaky_relu, elu, prelu and every activation Keras 3 names", [
      { name: "c", op: "conv2d", filters: 3, kernel_size: 2, activation: "hard_sigmoid" },
      { name: "r", op: "relu", max_value: 0.7, negative_slope: 0.1, threshold: 0.05 },
      { name: "p", op: "prelu", shared_axes: [1, 2] },
      { name: "lr", op: "leaky_relu", negative_slope: 0.2 },
      { name: "e", op: "elu", alpha: 0.5 },
      { name: "p2", op: "prelu" },
      { name: "f", op: "flatten" },
      ...KERAS_ACTIVATIONS.map((a) => ({ name: `d_${a}`, op: "dense", inputs: ["f"], units: 2, activation: a })),
      { name: "cat", op: "concatenate", inputs: KERAS_ACTIVATIONS.map((a) => `d_${a}`) },
      { name: "out", op: "dense", units: 2 },
    ] as GraphLayer[], [{ name: "x", shape: [4, 4, 2] }]],
    ["time_distributed (stored under layer/), group/batch/layer normalization (center/scale off), dot, spatial dropouts and gaussian noise layers", [
      { name: "td", op: "time_distributed", inputs: ["seq"], layer: { op: "dense", name: "step", units: 4, activation: "relu" } },
      { name: "sd1", op: "spatial_dropout1d", rate: 0.2 },
      { name: "gn", op: "group_normalization", groups: 2, epsilon: 0.01 },
      { name: "gn_plain", op: "group_normalization", groups: -1, center: false, inputs: ["td"] },
      { name: "gn_bare", op: "group_normalization", groups: 1, center: false, scale: false, inputs: ["td"] },
      { name: "bn", op: "batch_normalization", center: false, inputs: ["td"] },
      { name: "ln", op: "layer_normalization", scale: false },
      { name: "ln_bare", op: "layer_normalization", center: false, scale: false },
      { name: "noise", op: "gaussian_noise", stddev: 0.5, inputs: ["gn"] },
      { name: "gd", op: "gaussian_dropout", rate: 0.3 },
      { name: "att", op: "dot", axes: [2, 2], inputs: ["gd", "gn_plain"] },
      { name: "cos", op: "dot", axes: 1, normalize: true, inputs: ["vec", "vec2"] },
      { name: "img", op: "reshape", inputs: ["gn_bare"], target_shape: [3, 2, 2] },
      { name: "sd2", op: "spatial_dropout2d", rate: 0.1 },
      { name: "f1", op: "flatten", inputs: ["att"] },
      { name: "f2", op: "flatten", inputs: ["sd2"] },
      { name: "f3", op: "flatten", inputs: ["ln_bare"] },
      { name: "cat", op: "concatenate", inputs: ["f1", "f2", "f3", "cos"] },
      { name: "out", op: "dense", units: 2 },
    ] as GraphLayer[], [{ name: "seq", shape: [3, 5] }, { name: "vec", shape: [6] }, { name: "vec2", shape: [6] }]],
    ["layer_normalization over a list of axes and group_normalization on an axis other than the last", [
      { name: "ln", op: "layer_normalization", axis: [1, -1] },
      { name: "ln2", op: "layer_normalization", axis: [2, 1] },
      { name: "gn", op: "group_normalization", groups: 3, axis: 1 },
      { name: "f", op: "flatten" },
      { name: "out", op: "dense", units: 2 },
    ] as GraphLayer[], [{ name: "x", shape: [3, 4, 2] }]],
    ["rescaling (numbers and per-channel lists) and normalization (adapted weights on any axes, attributes, axis null, invert)", [
      { name: "r", op: "rescaling", scale: 1 / 255 },
      { name: "r_rgb", op: "rescaling", scale: [0.5, 2, -1], offset: [0.1, -0.2, 0.3] },
      { name: "n", op: "normalization" },
      { name: "n_attr", op: "normalization", mean: [0.485, 0.456, 0.406], variance: [0.052441, 0.050176, 0.050625] },
      { name: "n_axes", op: "normalization", axis: [1, 2] },
      { name: "n_all", op: "normalization", axis: null },
      { name: "n_scalar", op: "normalization", axis: null, mean: 0.5, variance: 4, invert: true },
      { name: "n_inv", op: "normalization", invert: true },
      { name: "f", op: "flatten" },
      { name: "out", op: "dense", units: 2 },
    ] as GraphLayer[], [{ name: "x", shape: [3, 4, 3] }]],
  ];
  for (const [what, layers, inputs] of ROUND_TRIPS) {
    test(`${what} go to .keras and back unchanged`, async () => {
      const g = { format: "kiln.graph/v2", name: "g", inputs, layers };
      const { model, bytes } = await weightsFor(g);
      const back = await importModel(await exportKeras(g, bytes));
      const ops = (ls: { name: string; op: string }[]) => Object.fromEntries(ls.map((l) => [l.name, l.op]));
      expect(ops(back.graph.layers as { name: string; op: string }[])).toEqual(ops(layers));
      // Every attribute, as kiln normalizes it, comes back.
      const attrs = (graph: unknown) => Object.fromEntries(checkGraph(graph).layers.map((l) => [l.name, l.attrs]));
      expect(attrs(back.graph)).toEqual(attrs(g));
      expect(back.weights).toEqual(bytes);
      const { wasm } = await compile(JSON.stringify(back.graph), { maxBatch: 2, weights: back.weights });
      const feeds = feedsFor(g, 2, 55);
      const out = layers[layers.length - 1]!.name;
      expect(Array.from((await loadModel(wasm)).predict(feeds)[out]!)).toEqual(Array.from(model.predict(feeds)[out]!));
    });
  }

  test("bidirectional (stored under forward_layer/cell and backward_layer/cell) and a backwards reset_after=false GRU go to .keras and back", async () => {
    const g = {
      format: "kiln.graph/v2", name: "rnns", inputs: [{ name: "x", shape: [5, 3] }],
      layers: [
        { name: "bi", op: "bidirectional", layer: { op: "lstm", name: "enc", units: 3, return_sequences: true }, merge_mode: "ave" },
        { name: "back", op: "gru", units: 2, reset_after: false, go_backwards: true },
        { name: "out", op: "dense", units: 2 },
      ],
    };
    const { model, bytes } = await weightsFor(g);
    const file = await exportKeras(g, bytes);
    const { FS } = (await h5wasm.ready) as unknown as { FS: { writeFile(p: string, d: Uint8Array): void } };
    FS.writeFile("/rnns.h5", unzipSync(file)["model.weights.h5"]!);
    const f = new h5wasm.File("/rnns.h5", "r");
    expect((f.get("layers/bidirectional/backward_layer/cell/vars/1") as { shape: number[] }).shape).toEqual([3, 12]);
    expect((f.get("layers/gru/cell/vars/2") as { shape: number[] }).shape).toEqual([6]);
    f.close();
    const back = await importModel(file);
    expect((back.graph.layers as Record<string, unknown>[])[0]).toMatchObject({ op: "bidirectional", merge_mode: "ave", layer: { op: "lstm", name: "enc" } });
    expect(back.weights).toEqual(bytes);
    const { wasm } = await compile(JSON.stringify(back.graph), { maxBatch: 2, weights: back.weights });
    const feeds = feedsFor(g, 2, 54);
    expect(Array.from((await loadModel(wasm)).predict(feeds).out!)).toEqual(Array.from(model.predict(feeds).out!));
  });

  test("a weights file missing a weight is refused naming it", async () => {
    const g = { format: "kiln.graph/v2", name: "g", inputs: [{ name: "x", shape: [3] }], layers: [{ name: "d", op: "dense", units: 2 }] };
    const bytes = writeSafetensors({ "d/kernel": { dtype: "F32", shape: [3, 2], data: new Float32Array(6) } });
    await expect(exportKeras(g, bytes)).rejects.toThrow(KilnError);
    await expect(exportKeras(g, bytes)).rejects.toThrow(/d\/bias, layer d: weight missing from the weights file/);
  });
});
