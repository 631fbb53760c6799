// Parameter counts against Keras's model.summary() figures, the two example graphs, and the summary.
import { describe, expect, test } from "vitest";
import { readFileSync } from "node:fs";
import { checkGraph } from "../../compiler/frontend/index.js";
import { countParams, layerParams } from "../../compiler/frontend/params.js";
import { formatSummary, summarize } from "../../compiler/frontend/summary.js";
import { graphOf, input } from "./helpers.js";

const example = (name: string) => checkGraph(readFileSync(`examples/${name}/graph.json`, "utf8"));
const params = (shape: number[], layer: object) => countParams(checkGraph(graphOf([input(shape)], [{ name: "l", ...layer }])));

describe("parameter counts (Keras)", () => {
  test("the seed CNN has 93,322 parameters", () => {
    const g = example("mnist-cnn");
    expect(g.layers.map((l) => layerParams(l).total)).toEqual([320, 0, 18496, 0, 36928, 0, 36928, 650]);
    expect(countParams(g)).toEqual({ trainable: 93322, nonTrainable: 0, total: 93322 });
  });

  test.each([
    ["LSTM(32) on 16 features = 4·(16·32+32·32+32)", [10, 16], { op: "lstm", units: 32 }, 6272],
    ["GRU(8) reset_after on 4 features = 3·(4·8+8·8+2·8)", [5, 4], { op: "gru", units: 8 }, 336],
    ["SimpleRNN(4) on 3 features", [5, 3], { op: "simple_rnn", units: 4 }, 32],
    ["MHA(heads 4, key_dim 8) self-attention on D=16", [6, 16], { op: "multi_head_attention", num_heads: 4, key_dim: 8 }, 2160],
    ["Dense(3) without bias on 7", [7], { op: "dense", units: 3, use_bias: false }, 21],
    ["PositionEmbedding(10) on D=7", [5, 7], { op: "position_embedding", sequence_length: 10 }, 70],
    ["LayerNormalization on 8", [10, 8], { op: "layer_normalization" }, 16],
    ["DepthwiseConv2D(3, depth_multiplier 2) on C=8 = 3·3·8·2 + 16", [12, 12, 8], { op: "depthwise_conv2d", kernel_size: 3, depth_multiplier: 2 }, 160],
    ["SeparableConv2D(16, 3) on C=3 = 3·3·3 + 3·16 + 16", [12, 12, 3], { op: "separable_conv2d", filters: 16, kernel_size: 3 }, 91],
    ["SeparableConv2D(8, 3, depth_multiplier 2, no bias) on C=4 = 3·3·4·2 + 8·8", [12, 12, 4], { op: "separable_conv2d", filters: 8, kernel_size: 3, depth_multiplier: 2, use_bias: false }, 136],
    ["Conv2DTranspose(16, 4, strides 2) on C=32 = 4·4·16·32 + 16", [8, 8, 32], { op: "conv2d_transpose", filters: 16, kernel_size: 4, strides: 2 }, 8208],
  ])("%s", (_n, shape, layer, total) => {
    expect(params(shape, layer).total).toBe(total);
  });

  test("batch_normalization: 2C trainable, 2C non-trainable; a frozen layer is all non-trainable", () => {
    expect(params([4, 4, 6], { op: "batch_normalization" })).toEqual({ trainable: 12, nonTrainable: 12, total: 24 });
    expect(params([5], { op: "dense", units: 2, trainable: false })).toEqual({ trainable: 0, nonTrainable: 12, total: 12 });
  });
});

describe("examples", () => {
  test("linear regression: one dense unit without bias, MSE, SGD 0.01", () => {
    const g = example("linear-regression");
    expect(g.inputs).toEqual([{ name: "x", shape: [2], dtype: "float32" }]);
    expect(g.targets).toEqual([{ name: "y", shape: [1], dtype: "float32" }]);
    expect(g.layers[0].weights.map((w) => [w.fullName, w.shape])).toEqual([["linear/kernel", [2, 1]]]);
    expect(g.training?.loss.type).toBe("mean_squared_error");
    expect(g.training?.optimizer).toEqual({ type: "sgd", learning_rate: 0.01, momentum: 0, nesterov: false });
  });

  test("summary text and data", () => {
    const g = example("mnist-cnn");
    const text = formatSummary(g);
    expect(text).toContain('Model: "mnist_cnn"');
    expect(text).toMatch(/conv1 \(conv2d\)\s+\(None, 26, 26, 32\)\s+320/);
    expect(text).toMatch(/flat \(flatten\)\s+\(None, 576\)\s+0/);
    expect(text).toContain("Total params: 93,322");
    expect(text).toContain("Trainable params: 93,322");
    expect(text).toContain("Non-trainable params: 0");
    expect(text).toContain("Loss: sparse_categorical_crossentropy (probs vs label)");
    expect(text).toContain("Optimizer: adam (learning_rate=0.001");
    const s = summarize(g);
    expect(s.params).toEqual({ total: 93322, trainable: 93322, nonTrainable: 0 });
    expect(s.layers[6]).toEqual({ name: "fc1", op: "dense", inputs: ["flat"], outputShape: [null, 64], params: 36928 });
    expect(s.inputs).toEqual([{ name: "image", shape: [null, 28, 28, 1], dtype: "float32" }]);
  });
});
