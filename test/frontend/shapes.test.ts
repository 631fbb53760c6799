// Shape inference of every op against the shapes Keras gives (worked out by hand from Keras's
// rules and written down here), plus normalized attributes, weights and initializer fans.
import { describe, expect, test } from "vitest";
import { checkGraph } from "../../compiler/frontend/index.js";
import { errorOf, graphOf, input, outShape } from "./helpers.js";

describe("conv2d", () => {
  const conv = (extra: object) => ({ op: "conv2d", filters: 8, kernel_size: 3, ...extra });
  test.each([
    ["valid 3x3", [28, 28, 1], conv({ filters: 32 }), [26, 26, 32]],
    ["same stride 2", [28, 28, 3], conv({ padding: "same", strides: 2 }), [14, 14, 8]],
    ["valid stride 2", [28, 28, 3], conv({ strides: 2 }), [13, 13, 8]],
    ["same stride 2 odd sizes, rectangular kernel", [7, 9, 2], conv({ kernel_size: [3, 2], padding: "same", strides: 2 }), [4, 5, 8]],
    ["valid stride 2 odd sizes", [7, 9, 2], conv({ kernel_size: [3, 2], strides: 2 }), [3, 4, 8]],
    ["valid strides [1, 2]", [7, 9, 2], conv({ strides: [1, 2] }), [5, 4, 8]],
    ["valid dilation 2", [10, 10, 1], conv({ dilation_rate: 2 }), [6, 6, 8]],
    ["same dilation 2", [11, 10, 1], conv({ dilation_rate: 2, padding: "same" }), [11, 10, 8]],
    ["kernel equal to input", [3, 3, 4], conv({}), [1, 1, 8]],
  ])("%s", (_name, shape, layer, want) => {
    expect(outShape(shape, layer)).toEqual(want);
  });

  test("normalizes pairs and fills defaults; kernel and fans follow Keras", () => {
    const g = checkGraph(graphOf([input([7, 9, 2])], [{ name: "c", op: "conv2d", filters: 4, kernel_size: [3, 2], activation: "swish" }]));
    const c = g.layers[0];
    expect(c.attrs).toEqual({
      filters: 4, kernel_size: [3, 2], strides: [1, 1], padding: "valid", dilation_rate: [1, 1], activation: "silu",
      use_bias: true, kernel_initializer: "glorot_uniform", bias_initializer: "zeros",
    });
    expect(c.weights.map((w) => [w.fullName, w.shape, w.initializer])).toEqual([
      ["c/kernel", [3, 2, 2, 4], { name: "glorot_uniform", fanIn: 12, fanOut: 24 }],
      ["c/bias", [4], { name: "zeros", fanIn: 4, fanOut: 4 }],
    ]);
  });
});

describe("depthwise_conv2d", () => {
  const dw = (extra: object) => ({ op: "depthwise_conv2d", kernel_size: 3, ...extra });
  test.each([
    ["valid 3x3 (C channels out)", [28, 28, 3], dw({}), [26, 26, 3]],
    ["same stride 2, depth_multiplier 2 (C·m out)", [7, 9, 4], dw({ padding: "same", strides: 2, depth_multiplier: 2 }), [4, 5, 8]],
    ["valid stride 2 odd sizes, rectangular kernel", [7, 9, 2], dw({ kernel_size: [3, 2], strides: 2 }), [3, 4, 2]],
    ["valid dilation 2, depth_multiplier 3", [10, 10, 1], dw({ dilation_rate: 2, depth_multiplier: 3 }), [6, 6, 3]],
    ["same dilation [2, 1]", [11, 10, 2], dw({ dilation_rate: [2, 1], padding: "same" }), [11, 10, 2]],
    ["kernel equal to input", [3, 3, 5], dw({}), [1, 1, 5]],
  ])("%s", (_name, shape, layer, want) => {
    expect(outShape(shape, layer)).toEqual(want);
  });

  test("defaults as Keras DepthwiseConv2D; kernel [kh, kw, C, m] with Keras fans, bias [C·m]", () => {
    const g = checkGraph(graphOf([input([7, 9, 2])], [{ name: "d", op: "depthwise_conv2d", kernel_size: [3, 2], depth_multiplier: 4 }]));
    const d = g.layers[0];
    expect(d.attrs).toEqual({
      kernel_size: [3, 2], strides: [1, 1], padding: "valid", depth_multiplier: 4, dilation_rate: [1, 1], activation: "linear",
      use_bias: true, depthwise_initializer: "glorot_uniform", bias_initializer: "zeros",
    });
    expect(d.weights.map((w) => [w.fullName, w.shape, w.initializer])).toEqual([
      ["d/kernel", [3, 2, 2, 4], { name: "glorot_uniform", fanIn: 12, fanOut: 24 }],
      ["d/bias", [8], { name: "zeros", fanIn: 8, fanOut: 8 }],
    ]);
  });
});

describe("separable_conv2d", () => {
  const sep = (extra: object) => ({ op: "separable_conv2d", filters: 16, kernel_size: 3, ...extra });
  test.each([
    ["valid 3x3", [28, 28, 3], sep({}), [26, 26, 16]],
    ["same stride 2, depth_multiplier 2", [7, 9, 4], sep({ padding: "same", strides: 2, depth_multiplier: 2, filters: 6 }), [4, 5, 6]],
    ["valid strides [1, 2], rectangular kernel", [7, 9, 2], sep({ kernel_size: [3, 2], strides: [1, 2] }), [5, 4, 16]],
    ["valid dilation 2", [10, 10, 1], sep({ dilation_rate: 2 }), [6, 6, 16]],
    ["same dilation 2", [11, 10, 2], sep({ dilation_rate: 2, padding: "same" }), [11, 10, 16]],
  ])("%s", (_name, shape, layer, want) => {
    expect(outShape(shape, layer)).toEqual(want);
  });

  test("defaults as Keras SeparableConv2D; depthwise_kernel, pointwise_kernel [1, 1, C·m, filters], bias [filters], Keras fans", () => {
    const g = checkGraph(graphOf([input([7, 9, 2])], [{ name: "s", op: "separable_conv2d", filters: 6, kernel_size: [3, 2], depth_multiplier: 4 }]));
    const l = g.layers[0];
    expect(l.attrs).toEqual({
      filters: 6, kernel_size: [3, 2], strides: [1, 1], padding: "valid", depth_multiplier: 4, dilation_rate: [1, 1], activation: "linear",
      use_bias: true, depthwise_initializer: "glorot_uniform", bias_initializer: "zeros", pointwise_initializer: "glorot_uniform",
    });
    expect(l.weights.map((w) => [w.fullName, w.shape, w.initializer])).toEqual([
      ["s/depthwise_kernel", [3, 2, 2, 4], { name: "glorot_uniform", fanIn: 12, fanOut: 24 }],
      ["s/pointwise_kernel", [1, 1, 8, 6], { name: "glorot_uniform", fanIn: 8, fanOut: 6 }],
      ["s/bias", [6], { name: "zeros", fanIn: 6, fanOut: 6 }],
    ]);
  });
});

describe("conv2d_transpose", () => {
  const tr = (extra: object) => ({ op: "conv2d_transpose", filters: 16, kernel_size: 3, ...extra });
  // Keras deconv_output_length, kernel dilated to k_eff = (k − 1)·d + 1: without output_padding
  // `valid` in·s + max(k_eff − s, 0), `same` in·s; with it (in − 1)·s + k_eff − 2·⌊k_eff/2⌋ (same) + output_padding.
  test.each([
    ["3x3 stride 2 same", [4, 4, 8], tr({ strides: 2, padding: "same" }), [8, 8, 16]],
    ["3x3 stride 2 valid", [4, 4, 8], tr({ strides: 2 }), [9, 9, 16]],
    ["3x3 stride 2 same, output_padding null (Keras's default)", [4, 4, 8], tr({ strides: 2, padding: "same", output_padding: null }), [8, 8, 16]],
    ["3x3 stride 1 valid", [5, 6, 2], tr({}), [7, 8, 16]],
    ["3x3 stride 1 same", [5, 6, 2], tr({ padding: "same" }), [5, 6, 16]],
    ["[3, 2] strides [2, 3] valid (kernel shorter than the stride)", [5, 7, 3], tr({ kernel_size: [3, 2], strides: [2, 3] }), [11, 21, 16]],
    ["4x4 stride 2 same, output_padding [1, 0]", [4, 4, 3], tr({ kernel_size: 4, strides: 2, padding: "same", output_padding: [1, 0] }), [7, 6, 16]],
    ["3x3 stride 2 valid, output_padding 1", [4, 4, 3], tr({ strides: 2, output_padding: 1 }), [10, 10, 16]],
    ["1x1 stride 2 same, output_padding 1", [3, 3, 2], tr({ kernel_size: 1, strides: 2, padding: "same", output_padding: 1 }), [6, 6, 16]],
    ["dilation 2 valid", [5, 5, 1], tr({ dilation_rate: 2 }), [9, 9, 16]],
    ["dilation 2 same", [5, 5, 1], tr({ dilation_rate: 2, padding: "same" }), [5, 5, 16]],
  ])("%s", (_name, shape, layer, want) => {
    expect(outShape(shape, layer)).toEqual(want);
  });

  test("defaults as Keras Conv2DTranspose; kernel [kh, kw, filters, C] with Keras fans of that shape", () => {
    const g = checkGraph(graphOf([input([7, 9, 2])], [{ name: "t", op: "conv2d_transpose", filters: 5, kernel_size: [3, 2] }]));
    const l = g.layers[0];
    expect(l.attrs).toEqual({
      filters: 5, kernel_size: [3, 2], strides: [1, 1], padding: "valid", output_padding: null, dilation_rate: [1, 1], activation: "linear",
      use_bias: true, kernel_initializer: "glorot_uniform", bias_initializer: "zeros",
    });
    expect(l.weights.map((w) => [w.fullName, w.shape, w.initializer])).toEqual([
      ["t/kernel", [3, 2, 5, 2], { name: "glorot_uniform", fanIn: 30, fanOut: 12 }],
      ["t/bias", [5], { name: "zeros", fanIn: 5, fanOut: 5 }],
    ]);
  });
});

describe("pooling", () => {
  test.each([
    ["max 2 on 28", [28, 28, 32], { op: "max_pooling2d" }, [14, 14, 32]],
    ["max 2 valid on 5 (drops the edge)", [5, 5, 3], { op: "max_pooling2d", pool_size: 2 }, [2, 2, 3]],
    ["max 2 same on 5", [5, 5, 3], { op: "max_pooling2d", pool_size: 2, padding: "same" }, [3, 3, 3]],
    ["max 3 stride 2 valid on 7", [7, 7, 1], { op: "max_pooling2d", pool_size: 3, strides: 2 }, [3, 3, 1]],
    ["avg 3 stride 2 same on 7", [7, 7, 1], { op: "average_pooling2d", pool_size: 3, strides: 2, padding: "same" }, [4, 4, 1]],
    ["avg [2, 3] on 6x6", [6, 6, 2], { op: "average_pooling2d", pool_size: [2, 3] }, [3, 2, 2]],
    ["global average", [4, 5, 6], { op: "global_average_pooling2d" }, [6]],
    ["global max", [4, 5, 6], { op: "global_max_pooling2d" }, [6]],
  ])("%s", (_n, shape, layer, want) => {
    expect(outShape(shape, layer)).toEqual(want);
  });

  test("strides default to pool_size", () => {
    const g = checkGraph(graphOf([input([9, 9, 1])], [{ name: "p", op: "max_pooling2d", pool_size: [3, 1] }]));
    expect(g.layers[0].attrs).toEqual({ pool_size: [3, 1], strides: [3, 1], padding: "valid" });
    expect(g.layers[0].shape).toEqual([3, 9, 1]);
  });
});

describe("movement and shape-preserving ops", () => {
  test.each([
    ["flatten", [3, 3, 64], { op: "flatten" }, [576]],
    ["reshape with -1", [12], { op: "reshape", target_shape: [3, -1] }, [3, 4]],
    ["reshape to -1", [2, 3, 4], { op: "reshape", target_shape: [-1] }, [24]],
    ["reshape without -1", [2, 6], { op: "reshape", target_shape: [4, 3, 1] }, [4, 3, 1]],
    ["activation", [5, 2], { op: "activation", activation: "gelu" }, [5, 2]],
    ["softmax", [3, 4], { op: "softmax", axis: 1 }, [3, 4]],
    ["dropout", [7], { op: "dropout", rate: 0.5 }, [7]],
    ["dense on rank 1", [5], { op: "dense", units: 3 }, [3]],
    ["dense on the last axis of rank 3", [2, 5, 7], { op: "dense", units: 3 }, [2, 5, 3]],
    ["batch_normalization", [4, 5, 6], { op: "batch_normalization" }, [4, 5, 6]],
    ["layer_normalization", [10, 8], { op: "layer_normalization" }, [10, 8]],
    ["position_embedding T < sequence_length", [7, 16], { op: "position_embedding", sequence_length: 10 }, [7, 16]],
    ["position_embedding T = sequence_length", [10, 16], { op: "position_embedding", sequence_length: 10 }, [10, 16]],
  ])("%s", (_n, shape, layer, want) => {
    expect(outShape(shape, layer)).toEqual(want);
  });

  test("reshape resolves -1 and axes (Keras counting) become non-negative per-example indices", () => {
    const g = checkGraph(graphOf([input([3, 4, 5])], [
      { name: "r", op: "reshape", target_shape: [-1, 5] },
      { name: "s", op: "softmax" },
      { name: "b", op: "batch_normalization", axis: 1 },
      { name: "n", op: "layer_normalization", axis: 2 },
    ]));
    expect(g.layers.map((l) => l.attrs.target_shape ?? l.attrs.axis)).toEqual([[12, 5], 1, 0, 1]);
    expect(g.layers[2].weights.map((w) => [w.name, w.shape, w.trainable])).toEqual([
      ["gamma", [12], true], ["beta", [12], true], ["moving_mean", [12], false], ["moving_variance", [12], false],
    ]);
    expect(g.layers[2].attrs).toMatchObject({ momentum: 0.99, epsilon: 0.001, gamma_initializer: "ones", moving_variance_initializer: "ones" });
  });
});

describe("embedding", () => {
  test("int32 [T] -> [T, output_dim], table [input_dim, output_dim]", () => {
    const g = checkGraph(graphOf([input([7], "ids", "int32")], [{ name: "e", op: "embedding", input_dim: 1000, output_dim: 16 }]));
    expect(g.layers[0].shape).toEqual([7, 16]);
    expect(g.layers[0].weights[0]).toMatchObject({ fullName: "e/embeddings", shape: [1000, 16], initializer: { name: "uniform" } });
  });
});

describe("recurrent", () => {
  test.each([
    ["simple_rnn", false, [4]], ["simple_rnn", true, [5, 4]], ["lstm", false, [4]], ["lstm", true, [5, 4]], ["gru", false, [4]], ["gru", true, [5, 4]],
  ])("%s return_sequences=%s", (op, seq, want) => {
    expect(outShape([5, 3], { op, units: 4, return_sequences: seq })).toEqual(want);
  });

  test("LSTM weights, orthogonal recurrent kernel, forget-gate ones range [u, 2u)", () => {
    const g = checkGraph(graphOf([input([10, 16])], [{ name: "l", op: "lstm", units: 32 }]));
    const w = g.layers[0].weights;
    expect(w.map((x) => x.shape)).toEqual([[16, 128], [32, 128], [128]]);
    expect(w[1].initializer.name).toBe("orthogonal");
    expect(w[2].initializer).toEqual({ name: "zeros", fanIn: 128, fanOut: 128, onesRange: [32, 64] });
  });

  test("GRU reset_after has bias [2, 3u]; simple_rnn defaults to tanh", () => {
    const g = checkGraph(graphOf([input([5, 4])], [
      { name: "g", op: "gru", units: 8, return_sequences: true },
      { name: "r", op: "simple_rnn", units: 2 },
    ]));
    expect(g.layers[0].weights.map((x) => x.shape)).toEqual([[4, 24], [8, 24], [2, 24]]);
    expect(g.layers[0].weights[2].initializer.onesRange).toBeUndefined();
    expect(g.layers[1].attrs.activation).toBe("tanh");
  });
});

describe("recurrent: go_backwards, gru reset_after=false", () => {
  test.each([
    ["simple_rnn", false, [4]], ["simple_rnn", true, [5, 4]], ["lstm", false, [4]], ["lstm", true, [5, 4]], ["gru", false, [4]], ["gru", true, [5, 4]],
  ])("%s go_backwards, return_sequences=%s: the shape is unchanged", (op, seq, want) => {
    expect(outShape([5, 3], { op, units: 4, return_sequences: seq, go_backwards: true })).toEqual(want);
  });

  test("GRU reset_after=false has bias [3u] (TF.js's layout); defaults: reset_after true, go_backwards false", () => {
    const g = checkGraph(graphOf([input([5, 4])], [
      { name: "g", op: "gru", units: 8, reset_after: false },
      { name: "h", op: "gru", units: 2, inputs: ["x"] },
    ]));
    expect(g.layers[0].weights.map((x) => [x.fullName, x.shape])).toEqual([["g/kernel", [4, 24]], ["g/recurrent_kernel", [8, 24]], ["g/bias", [24]]]);
    expect(g.layers[1].attrs).toMatchObject({ reset_after: true, go_backwards: false });
  });
});

describe("recurrent step limits (loop kernels past 32 steps)", () => {
  const check = (layer: object, steps: number) => checkGraph(graphOf([input([steps, 2])], [{ name: "r", ...layer }]));
  test("lstm, gru and tanh/sigmoid/relu/linear simple_rnn take long sequences: 2,000 and 100,000 steps", () => {
    for (const layer of [{ op: "lstm", units: 3 }, { op: "gru", units: 3, reset_after: false }, { op: "simple_rnn", units: 3, activation: "relu" }]) {
      for (const steps of [2000, 100_000]) expect(check(layer, steps).layers[0]!.shape).toEqual([3]);
    }
  });

  test("past 1,048,576 steps: a limit error naming the layer", () => {
    const err = errorOf(graphOf([input([1_048_577, 1])], [{ name: "r", op: "lstm", units: 1 }]));
    expect(err.diagnostics.map((d) => [d.path, d.layer, d.code])).toEqual([["/layers/0", "r", "limit"]]);
    expect(err.diagnostics[0]!.message).toBe("lstm over 1048577 time steps: kiln allows at most 1048576 steps per recurrent layer");
  });

  test("a simple_rnn whose activation has no loop kernel is still unrolled: 512 steps at most, the error points at the activation", () => {
    expect(check({ op: "simple_rnn", units: 2, activation: "gelu" }, 512).layers[0]!.shape).toEqual([2]);
    const err = errorOf(graphOf([input([513, 2])], [{ name: "r", op: "simple_rnn", units: 2, activation: "gelu" }]));
    expect(err.diagnostics.map((d) => [d.path, d.layer, d.code])).toEqual([["/layers/0/activation", "r", "limit"]]);
    expect(err.diagnostics[0]!.message).toMatch(/^simple_rnn with activation "gelu" over 513 time steps: kiln unrolls this layer step by step \(its loop kernel covers activations tanh, sigmoid, relu, linear\) and allows at most 512 unrolled steps$/);
  });
});

describe("bidirectional", () => {
  // Keras: Bidirectional(LSTM(4)) on [5, 3] gives [8]; with return_sequences [5, 8]; sum/mul/ave keep units.
  test.each([
    ["lstm", "concat", false, [8]], ["lstm", "concat", true, [5, 8]], ["gru", "sum", false, [4]], ["gru", "mul", true, [5, 4]],
    ["simple_rnn", "ave", true, [5, 4]], ["simple_rnn", undefined, false, [8]],
  ])("%s merge_mode=%s return_sequences=%s", (op, mode, seq, want) => {
    expect(outShape([5, 3], { op: "bidirectional", ...(mode ? { merge_mode: mode } : {}), layer: { op, units: 4, return_sequences: seq } })).toEqual(want);
  });

  test("weights forward_<inner>/… and backward_<inner>/… (inner name defaults to its op), the inner layer's shapes and initializers", () => {
    const g = checkGraph(graphOf([input([6, 3])], [
      { name: "bi", op: "bidirectional", layer: { op: "lstm", units: 2 } },
      { name: "bg", op: "bidirectional", inputs: ["x"], layer: { op: "gru", name: "enc", units: 2, reset_after: false, recurrent_initializer: "zeros" } },
    ]));
    expect(g.layers[0].weights.map((w) => [w.fullName, w.shape])).toEqual([
      ["bi/forward_lstm/kernel", [3, 8]], ["bi/forward_lstm/recurrent_kernel", [2, 8]], ["bi/forward_lstm/bias", [8]],
      ["bi/backward_lstm/kernel", [3, 8]], ["bi/backward_lstm/recurrent_kernel", [2, 8]], ["bi/backward_lstm/bias", [8]],
    ]);
    expect(g.layers[0].weights[2]!.initializer.onesRange).toEqual([2, 4]);
    expect(g.layers[1].weights.map((w) => [w.fullName, w.shape, w.initializer.name])).toEqual([
      ["bg/forward_enc/kernel", [3, 6], "glorot_uniform"], ["bg/forward_enc/recurrent_kernel", [2, 6], "zeros"], ["bg/forward_enc/bias", [6], "zeros"],
      ["bg/backward_enc/kernel", [3, 6], "glorot_uniform"], ["bg/backward_enc/recurrent_kernel", [2, 6], "zeros"], ["bg/backward_enc/bias", [6], "zeros"],
    ]);
  });

  test("merge_mode null (Keras's two outputs) is refused, naming the attribute and saying why", () => {
    const err = errorOf(graphOf([input([5, 3])], [{ name: "bi", op: "bidirectional", merge_mode: null, layer: { op: "lstm", units: 2 } }]));
    expect(err.diagnostics.map((d) => [d.path, d.layer])).toEqual([["/layers/0/merge_mode", "bi"]]);
    expect(err.diagnostics[0]!.message).toMatch(/merge_mode null .* not supported: a kiln layer has one output/);
  });

  test("the inner layer is checked as its own op: wrong op, unknown attribute, missing units, rank, step limit", () => {
    const bad = (layer: unknown, shape = [5, 3]) => errorOf(graphOf([input(shape)], [{ name: "bi", op: "bidirectional", layer }])).diagnostics;
    expect(bad({ op: "dense", units: 2 })[0]!).toMatchObject({ path: "/layers/0/layer/op" });
    expect(bad({ op: "dense", units: 2 })[0]!.message).toMatch(/simple_rnn.*lstm.*gru/);
    expect(bad({ op: "lstm", units: 2, reset_after: false })[0]!).toMatchObject({ path: "/layers/0/layer/reset_after" });
    expect(bad({ op: "lstm", units: 2, reset_after: false })[0]!.message).toMatch(/reset_after/);
    expect(bad({ op: "gru" })[0]!.message).toMatch(/units/);
    expect(bad({ op: "gru", units: 2, name: "no/slash" })[0]!).toMatchObject({ path: "/layers/0/layer/name" });
    expect(bad({ op: "gru", units: 2 }, [5])[0]!.message).toMatch(/bidirectional\(gru\) expects an input of shape \[T, F\]/);
    expect(bad({ op: "gru", units: 2 }, [2_000_000, 1])[0]!).toMatchObject({ code: "limit", layer: "bi" });
    expect(bad({ op: "simple_rnn", units: 2, activation: "gelu" }, [600, 1])[0]!).toMatchObject({ code: "limit", path: "/layers/0/activation" });
  });
});

describe("multi_head_attention", () => {
  test("[query, value, key] with T != S", () => {
    const g = checkGraph(graphOf([input([6, 16], "q"), input([9, 12], "v"), input([9, 10], "k")], [
      { name: "mha", op: "multi_head_attention", inputs: ["q", "v", "k"], num_heads: 2, key_dim: 4, value_dim: 5 },
    ]));
    const l = g.layers[0];
    expect(l.shape).toEqual([6, 16]);
    expect(l.weights.map((w) => [w.name, w.shape])).toEqual([
      ["query/kernel", [16, 2, 4]], ["query/bias", [2, 4]], ["key/kernel", [10, 2, 4]], ["key/bias", [2, 4]],
      ["value/kernel", [12, 2, 5]], ["value/bias", [2, 5]], ["attention_output/kernel", [2, 5, 16]], ["attention_output/bias", [16]],
    ]);
    // Keras compute_fans on the EinsumDense kernel [16, 2, 4]: receptive field 16.
    expect(l.weights[0].initializer).toEqual({ name: "glorot_uniform", fanIn: 32, fanOut: 64 });
  });

  test("[query, value]: key defaults to value; self-attention keeps the query shape", () => {
    const two = checkGraph(graphOf([input([3, 8], "q"), input([5, 6], "v")], [{ name: "a", op: "multi_head_attention", inputs: ["q", "v"], num_heads: 1, key_dim: 2 }]));
    expect(two.layers[0].shape).toEqual([3, 8]);
    expect(two.layers[0].attrs).toMatchObject({ value_dim: 2, causal: false });
    expect(two.layers[0].weights[2].shape).toEqual([6, 1, 2]);
    expect(outShape([4, 8], { op: "multi_head_attention", num_heads: 2, key_dim: 4, causal: true })).toEqual([4, 8]);
  });
});

describe("merges", () => {
  const merged = (shapes: number[][], layer: object) =>
    checkGraph(graphOf(shapes.map((s, i) => input(s, `in${i}`)), [{ name: "m", inputs: shapes.map((_, i) => `in${i}`), ...layer }])).layers[0].shape;
  test.each(["add", "multiply", "average", "maximum", "minimum"])("%s of three", (op) => {
    expect(merged([[3, 4], [3, 4], [3, 4]], { op })).toEqual([3, 4]);
  });
  test("subtract of two", () => expect(merged([[5], [5]], { op: "subtract" })).toEqual([5]));
  test.each([
    [1, [[2, 3], [4, 3]], [6, 3]],
    [2, [[2, 3], [2, 5]], [2, 8]],
    [-1, [[2, 3, 4], [2, 3, 1], [2, 3, 2]], [2, 3, 7]],
    [-2, [[2, 3, 4], [2, 1, 4]], [2, 4, 4]],
    [-3, [[2, 3, 4], [1, 3, 4]], [3, 3, 4]],
  ])("concatenate on axis %i (Keras counting: 1 is the first axis of the written shape)", (axis, shapes, want) => {
    expect(merged(shapes, { op: "concatenate", axis })).toEqual(want);
  });
  test("concatenate axis 1 on [T, F] inputs joins along T, as Keras and TF.js do", () => {
    expect(merged([[5, 3], [2, 3]], { op: "concatenate", axis: 1 })).toEqual([7, 3]);
  });
});

describe("graph structure", () => {
  test("layers listed out of order are sorted topologically; default inputs resolved", () => {
    const g = checkGraph(graphOf([input([4])], [
      { name: "out", op: "add", inputs: ["a", "b"] },
      { name: "a", op: "dense", units: 2, inputs: ["x"] },
      { name: "b", op: "dense", units: 2, inputs: ["x"], trainable: false },
    ], { outputs: ["out"] }));
    expect(g.layers.map((l) => l.name)).toEqual(["a", "b", "out"]);
    expect(g.layers[1].weights.every((w) => !w.trainable)).toBe(true);
    expect(g.layers[0].weights.every((w) => w.trainable)).toBe(true);
  });

  test("defaults: first layer takes the only input, outputs = last layer, seed 0, dtype float32", () => {
    const g = checkGraph(graphOf([input([3])], [{ name: "d1", op: "dense", units: 2 }, { name: "d2", op: "dense", units: 1 }]));
    expect(g.layers.map((l) => l.inputs)).toEqual([["x"], ["d1"]]);
    expect(g.outputs).toEqual(["d2"]);
    expect(g.seed).toBe(0);
    expect(g.inputs).toEqual([{ name: "x", shape: [3], dtype: "float32" }]);
    expect(g.targets).toEqual([]);
    expect(g.training).toBeUndefined();
  });

  test("names that are Object.prototype members are ordinary names", () => {
    const text = JSON.stringify(graphOf([input([3], "__proto__")], [
      { name: "constructor", op: "dense", units: 2 },
      { name: "toString", op: "dense", units: 2, inputs: ["__proto__"] },
      { name: "hasOwnProperty", op: "add", inputs: ["constructor", "toString"] },
    ]));
    const g = checkGraph(text);
    expect(g.inputs[0].name).toBe("__proto__");
    expect(g.layers.map((l) => [l.name, l.inputs, l.shape])).toEqual([
      ["constructor", ["__proto__"], [2]], ["toString", ["__proto__"], [2]], ["hasOwnProperty", ["constructor", "toString"], [2]],
    ]);
    expect(g.layers[0].weights[0].fullName).toBe("constructor/kernel");
    // An op or attribute named after a prototype member is unknown, not looked up on Object.prototype.
    expect(() => checkGraph(graphOf([input([3])], [{ name: "d", op: "constructor" }]))).toThrow(/unknown op "constructor"/);
    expect(() => checkGraph(JSON.parse('{"format":"kiln.graph/v2","name":"t","inputs":[{"name":"x","shape":[3]}],"layers":[{"name":"d","op":"dense","units":1,"__proto__":{"units":2}}]}')))
      .toThrow(/unknown attribute "__proto__" for dense/);
  });

  test("training: optimizer defaults and metrics filled", () => {
    const g = checkGraph(graphOf([input([3])], [{ name: "d", op: "dense", units: 1 }], {
      targets: [{ name: "y", shape: [] }],
      training: { loss: { type: "mean_squared_error", output: "d", target: "y" }, optimizer: { type: "adamw", global_clipnorm: 1 } },
    }));
    // One loss: `loss` is it, `losses` the list of every output's (several outputs, issue 21.5), weight 1.
    const loss = { type: "mean_squared_error", output: "d", target: "y", from_logits: false, weight: 1 };
    expect(g.training).toEqual({
      loss, losses: [loss],
      optimizer: { type: "adamw", learning_rate: 0.001, beta_1: 0.9, beta_2: 0.999, epsilon: 1e-7, weight_decay: 0.004, global_clipnorm: 1 },
      metrics: [], logNames: [],
    });
  });
});
