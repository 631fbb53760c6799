/**
 * One small graph per op and per attribute value that changes the code path (spec §2), shared by
 * the forward tests (compiled vs float64 reference) and the gradient tests.
 */
export interface OpCase {
  name: string;
  graph: any;
}

import { ACTIVATION_CASES } from "./cases-activations.js";
import { NORMALIZATION_CASES } from "./cases-normalization.js";
import { MERGE_CASES } from "./cases-merge.js";
import { NOISE_CASES } from "./cases-noise.js";

const g = (name: string, inputs: any[], layers: any[], extra: object = {}) => ({
  format: "kiln.graph/v2", name: name.replace(/[^A-Za-z0-9_]/g, "_"), seed: 7, inputs, layers, ...extra,
});
const x = (shape: number[], name = "x") => ({ name, shape });

export const CASES: OpCase[] = [
  { name: "dense relu", graph: g("t", [x([6])], [{ name: "d", op: "dense", units: 5, activation: "relu" }]) },
  { name: "dense rank-2 input, no bias", graph: g("t", [x([3, 4])], [{ name: "d", op: "dense", units: 7, use_bias: false }]) },
  { name: "dense softmax", graph: g("t", [x([9])], [{ name: "d", op: "dense", units: 10, activation: "softmax" }]) },
  ...["sigmoid", "tanh", "gelu", "leaky_relu", "elu", "silu", "softplus", "relu", "softmax"].map((a) => ({
    name: `activation ${a}`, graph: g("t", [x([2, 5])], [{ name: "d", op: "dense", units: 6 }, { name: "a", op: "activation", activation: a }]),
  })),
  { name: "conv2d valid 3x3", graph: g("t", [x([6, 6, 2])], [{ name: "c", op: "conv2d", filters: 4, kernel_size: 3, activation: "relu" }]) },
  { name: "conv2d 3x3 same twice (Winograd forward and grad-input)", graph: g("t", [x([7, 8, 2])], [{ name: "c1", op: "conv2d", filters: 5, kernel_size: 3, padding: "same" }, { name: "c2", op: "conv2d", filters: 6, kernel_size: 3, padding: "same", activation: "relu" }]) },
  // 20→24→24 channels on 12×12: both convs and their input gradients take Winograd F(4×4,3×3)
  { name: "conv2d 3x3 same twice, 24 filters (Winograd F(4x4) forward and grad-input)", graph: g("t", [x([12, 12, 20])], [{ name: "c1", op: "conv2d", filters: 24, kernel_size: 3, padding: "same" }, { name: "c2", op: "conv2d", filters: 24, kernel_size: 3, padding: "same", activation: "relu" }]) },
  { name: "conv2d same stride 2", graph: g("t", [x([7, 6, 3])], [{ name: "c", op: "conv2d", filters: 5, kernel_size: 3, strides: 2, padding: "same" }]) },
  { name: "conv2d same dilation 2", graph: g("t", [x([7, 7, 2])], [{ name: "c", op: "conv2d", filters: 3, kernel_size: 3, dilation_rate: 2, padding: "same" }]) },
  { name: "conv2d 2x3 strides [2,1] c=1 f=10", graph: g("t", [x([8, 5, 1])], [{ name: "c", op: "conv2d", filters: 10, kernel_size: [2, 3], strides: [2, 1], use_bias: false }]) },
  // Small-c conv followed by a 2x2 max-pool: predict fuses them (one direct kernel storing window maxima).
  { name: "conv2d c=1 relu -> max_pooling2d (fused in predict)", graph: g("t", [x([9, 8, 1])], [{ name: "c", op: "conv2d", filters: 6, kernel_size: 3, activation: "relu" }, { name: "p", op: "max_pooling2d", pool_size: 2 }]) },
  { name: "conv2d same c=3 f=10 -> max_pooling2d (fused in predict)", graph: g("t", [x([7, 7, 3])], [{ name: "c", op: "conv2d", filters: 10, kernel_size: 3, padding: "same", activation: "relu" }, { name: "p", op: "max_pooling2d", pool_size: 2 }]) },
  { name: "conv2d c=2 linear no bias stride 2 -> max_pooling2d (fused in predict)", graph: g("t", [x([11, 10, 2])], [{ name: "c", op: "conv2d", filters: 5, kernel_size: 3, strides: 2, use_bias: false }, { name: "p", op: "max_pooling2d", pool_size: 2 }]) },
  // Residual adds fused into the product's epilogue (fuse.ts residualOf): conv → add(shortcut) → relu
  // with the shortcut computed before (direct, Winograd and 1×1 kernels); a shortcut conv computed
  // after the main one (the add fuses into the later conv, im2col, whose addend is ready); dense.
  { name: "conv2d residual add -> relu (direct, Winograd; fused)", graph: g("t", [x([6, 6, 3])], [
    { name: "c0", op: "conv2d", filters: 8, kernel_size: 3, padding: "same", activation: "relu" },
    { name: "c1", op: "conv2d", filters: 8, kernel_size: 3, padding: "same" },
    { name: "s", op: "add", inputs: ["c1", "c0"] },
    { name: "a", op: "activation", activation: "relu", inputs: ["s"] },
    { name: "c2", op: "conv2d", filters: 8, kernel_size: 1, inputs: ["a"] },
    { name: "s2", op: "add", inputs: ["a", "c2"] },
  ]) },
  { name: "conv2d stride 2 residual, shortcut after the conv (im2col)", graph: g("t", [x([7, 7, 6])], [
    { name: "c1", op: "conv2d", filters: 6, kernel_size: 3, strides: 2, padding: "same", inputs: ["x"] },
    { name: "sc", op: "conv2d", filters: 6, kernel_size: 1, strides: 2, inputs: ["x"] },
    { name: "s", op: "add", inputs: ["c1", "sc"] },
  ]) },
  { name: "conv2d c=3 + its input (direct, 3 of 4 lanes, residual)", graph: g("t", [x([5, 6, 3])], [
    { name: "c", op: "conv2d", filters: 3, kernel_size: 3, padding: "same" },
    { name: "s", op: "add", inputs: ["x", "c"] },
  ]) },
  { name: "dense residual add -> tanh", graph: g("t", [x([2, 5])], [
    { name: "d", op: "dense", units: 5 },
    { name: "s", op: "add", inputs: ["x", "d"] },
    { name: "a", op: "activation", activation: "tanh" },
  ]) },
  // c = 5, m = 1: the channel sweep's SIMD vector and its scalar tail
  { name: "depthwise_conv2d 3x3 same relu", graph: g("t", [x([6, 6, 5])], [{ name: "c", op: "depthwise_conv2d", kernel_size: 3, padding: "same", activation: "relu" }]) },
  { name: "depthwise_conv2d depth_multiplier 2, [3,2] stride 2 valid, no bias", graph: g("t", [x([7, 6, 3])], [{ name: "c", op: "depthwise_conv2d", kernel_size: [3, 2], strides: 2, depth_multiplier: 2, use_bias: false }]) },
  // Issue 19 (MobileNetV2, ResNet): the folds and fusions of predict (fold-batch-norm.ts, fuse.ts:
  // foldZeroPadding, fuseEpilogues with relu6) — mobilenet-fusion.test.ts checks where they apply.
  // 22 channels: the depthwise kernel's blocks of 16, a single vector and a scalar tail.
  { name: "MobileNetV2 block: 1x1, pad+depthwise s2+BN+relu6, 1x1+BN (folded, fused)", graph: g("t", [x([8, 8, 6])], [
    // (linear: with a relu6 here the small gradient of the input projection's bias, through three
    // thousand clamps, made finite differences cross kinks; relu6 on a conv: the cases below)
    { name: "e", op: "conv2d", filters: 22, kernel_size: 1 },
    { name: "pad", op: "zero_padding2d", padding: [[0, 1], [0, 1]] },
    { name: "d", op: "depthwise_conv2d", kernel_size: 3, strides: 2, use_bias: false },
    { name: "dbn", op: "batch_normalization" },
    { name: "dr", op: "activation", activation: "relu6" },
    { name: "p", op: "conv2d", filters: 6, kernel_size: 1, use_bias: false },
    { name: "pbn", op: "batch_normalization" },
  ]) },
  // Fine-tuning (issue 19): the block frozen (its BNs on moving statistics, folded in the train step
  // too, the padding folded there as no filter gradient reads it) under a trainable 1×1 head; and a
  // trainable conv whose frozen BN folds into it in the train step while the gradient flows through.
  { name: "frozen MobileNetV2 block (BN and padding folded in train_step too) -> trainable 1x1 head", graph: g("t", [x([12, 12, 4])], [
    { name: "e", op: "conv2d", filters: 16, kernel_size: 1, use_bias: false, trainable: false },
    { name: "ebn", op: "batch_normalization", trainable: false },
    { name: "er", op: "relu", max_value: 6 },
    { name: "pad", op: "zero_padding2d", padding: [[0, 1], [0, 1]], trainable: false },
    { name: "d", op: "depthwise_conv2d", kernel_size: 3, strides: 2, use_bias: false, trainable: false },
    { name: "dbn", op: "batch_normalization", trainable: false },
    { name: "dr", op: "activation", activation: "relu6" },
    { name: "p", op: "conv2d", filters: 6, kernel_size: 1, use_bias: false, trainable: false },
    { name: "pbn", op: "batch_normalization", trainable: false },
    { name: "h", op: "conv2d", filters: 3, kernel_size: 1 },
  ]) },
  { name: "conv2d (trainable) -> frozen batch_normalization (folded in train_step) -> conv2d 1x1", graph: g("t", [x([6, 6, 3])], [
    { name: "c", op: "conv2d", filters: 5, kernel_size: 3, padding: "same" },
    { name: "bn", op: "batch_normalization", trainable: false },
    { name: "c2", op: "conv2d", filters: 4, kernel_size: 1 },
  ]) },
  { name: "zero_padding2d 3 -> conv2d 7x7 stride 2 (im2col, padding folded)", graph: g("t", [x([9, 10, 3])], [
    { name: "pad", op: "zero_padding2d", padding: 3 },
    { name: "c", op: "conv2d", filters: 5, kernel_size: 7, strides: 2 },
    { name: "r", op: "relu", max_value: 6 },
  ]) },
  { name: "zero_padding2d 1 -> conv2d 3x3 valid (Winograd, padding folded) -> dense relu6", graph: g("t", [x([6, 6, 5])], [
    { name: "pad", op: "zero_padding2d", padding: 1 },
    { name: "c", op: "conv2d", filters: 4, kernel_size: 3 },
    { name: "f", op: "flatten" },
    { name: "d", op: "dense", units: 5, activation: "relu6" },
  ]) },
  { name: "zero_padding2d [[2,0],[1,3]] -> depthwise m=3 stride 2 relu6; pad 3 -> 3x3 (not folded)", graph: g("t", [x([7, 6, 5])], [
    { name: "pad", op: "zero_padding2d", padding: [[2, 0], [1, 3]] },
    { name: "d", op: "depthwise_conv2d", kernel_size: 3, strides: 2, depth_multiplier: 3, activation: "relu6" },
    { name: "pad2", op: "zero_padding2d", padding: 3 },
    { name: "d2", op: "depthwise_conv2d", kernel_size: 3, depth_multiplier: 2 },
  ]) },
  { name: "depthwise_conv2d depth_multiplier 4, dilation 2 same, tanh", graph: g("t", [x([7, 7, 2])], [{ name: "c", op: "depthwise_conv2d", kernel_size: 3, dilation_rate: 2, padding: "same", depth_multiplier: 4, activation: "tanh" }]) },
  { name: "separable_conv2d 3x3 same relu", graph: g("t", [x([6, 6, 3])], [{ name: "s", op: "separable_conv2d", filters: 7, kernel_size: 3, padding: "same", activation: "relu" }]) },
  { name: "separable_conv2d depth_multiplier 2, stride 2 valid, no bias", graph: g("t", [x([7, 8, 4])], [{ name: "s", op: "separable_conv2d", filters: 5, kernel_size: [3, 2], strides: 2, depth_multiplier: 2, use_bias: false }]) },
  { name: "separable_conv2d depth_multiplier 3, dilation 2 same, tanh", graph: g("t", [x([7, 7, 2])], [{ name: "s", op: "separable_conv2d", filters: 4, kernel_size: 3, dilation_rate: 2, padding: "same", depth_multiplier: 3, activation: "tanh" }]) },
  { name: "conv2d_transpose 3x3 stride 2 same relu", graph: g("t", [x([4, 5, 3])], [{ name: "t", op: "conv2d_transpose", filters: 4, kernel_size: 3, strides: 2, padding: "same", activation: "relu" }]) },
  // 8 filters, 3x3 stride 1: the forward is conv2d_grad_input's Winograd kernel
  { name: "conv2d_transpose 3x3 same, 8 filters (Winograd)", graph: g("t", [x([6, 6, 4])], [{ name: "t", op: "conv2d_transpose", filters: 8, kernel_size: 3, padding: "same" }]) },
  { name: "conv2d_transpose [2,3] strides [2,3] valid, output_padding [1,2], no bias", graph: g("t", [x([3, 4, 2])], [{ name: "t", op: "conv2d_transpose", filters: 3, kernel_size: [2, 3], strides: [2, 3], output_padding: [1, 2], use_bias: false }]) },
  { name: "conv2d_transpose dilation 2 valid tanh", graph: g("t", [x([4, 4, 3])], [{ name: "t", op: "conv2d_transpose", filters: 2, kernel_size: 3, dilation_rate: 2, activation: "tanh" }]) },
  { name: "conv2d_transpose 1x1 stride 2 same, output_padding 1", graph: g("t", [x([3, 3, 2])], [{ name: "t", op: "conv2d_transpose", filters: 3, kernel_size: 1, strides: 2, padding: "same", output_padding: 1 }]) },
  { name: "max_pooling2d valid", graph: g("t", [x([6, 7, 3])], [{ name: "p", op: "max_pooling2d", pool_size: 2 }]) },
  { name: "max_pooling2d same 3 stride 2", graph: g("t", [x([7, 6, 2])], [{ name: "p", op: "max_pooling2d", pool_size: 3, strides: 2, padding: "same" }]) },
  { name: "average_pooling2d valid", graph: g("t", [x([6, 6, 3])], [{ name: "p", op: "average_pooling2d", pool_size: 2 }]) },
  { name: "average_pooling2d same 3 stride 2", graph: g("t", [x([7, 5, 2])], [{ name: "p", op: "average_pooling2d", pool_size: 3, strides: 2, padding: "same" }]) },
  { name: "global_average_pooling2d", graph: g("t", [x([4, 5, 3])], [{ name: "p", op: "global_average_pooling2d" }]) },
  { name: "global_max_pooling2d", graph: g("t", [x([4, 5, 3])], [{ name: "p", op: "global_max_pooling2d" }]) },
  { name: "flatten + dense", graph: g("t", [x([3, 2, 2])], [{ name: "f", op: "flatten" }, { name: "d", op: "dense", units: 3 }]) },
  { name: "reshape -1", graph: g("t", [x([12])], [{ name: "r", op: "reshape", target_shape: [3, -1] }, { name: "d", op: "dense", units: 2 }]) },
  { name: "softmax axis -1", graph: g("t", [x([3, 4])], [{ name: "s", op: "softmax" }]) },
  { name: "softmax axis 1 (the first axis of the example)", graph: g("t", [x([3, 4])], [{ name: "s", op: "softmax", axis: 1 }]) },
  { name: "dropout", graph: g("t", [x([8])], [{ name: "d", op: "dense", units: 4 }, { name: "o", op: "dropout", rate: 0.5 }]) },
  { name: "batch_normalization", graph: g("t", [x([3, 4])], [{ name: "bn", op: "batch_normalization" }]) },
  // Not on the last axis: predict broadcasts per channel; a train step normalizes a transposed copy.
  { name: "batch_normalization axis 1 of [3, 4]", graph: g("t", [x([3, 4])], [{ name: "bn", op: "batch_normalization", axis: 1, momentum: 0.8 }]) },
  { name: "batch_normalization axis 2 of [4, 3, 2] (a middle axis)", graph: g("t", [x([4, 3, 2])], [{ name: "bn", op: "batch_normalization", axis: 2 }]) },
  { name: "batch_normalization axis -3 of [3, 4, 5] (channels first)", graph: g("t", [x([3, 4, 5])], [{ name: "bn", op: "batch_normalization", axis: -3, epsilon: 0.01 }]) },
  { name: "layer_normalization", graph: g("t", [x([3, 6])], [{ name: "ln", op: "layer_normalization" }]) },
  { name: "embedding", graph: g("t", [{ name: "ids", shape: [5], dtype: "int32" }], [{ name: "e", op: "embedding", input_dim: 11, output_dim: 4 }]) },
  {
    name: "position_embedding + add",
    graph: g("t", [{ name: "ids", shape: [4], dtype: "int32" }], [
      { name: "e", op: "embedding", input_dim: 9, output_dim: 6 },
      { name: "p", op: "position_embedding", sequence_length: 7 },
      { name: "s", op: "add", inputs: ["e", "p"] },
    ]),
  },
  { name: "simple_rnn", graph: g("t", [x([4, 3])], [{ name: "r", op: "simple_rnn", units: 5 }]) },
  { name: "simple_rnn sequences", graph: g("t", [x([4, 3])], [{ name: "r", op: "simple_rnn", units: 5, return_sequences: true }]) },
  { name: "lstm", graph: g("t", [x([5, 3])], [{ name: "r", op: "lstm", units: 4 }]) },
  { name: "lstm sequences", graph: g("t", [x([3, 2])], [{ name: "r", op: "lstm", units: 6, return_sequences: true }]) },
  { name: "gru", graph: g("t", [x([5, 3])], [{ name: "r", op: "gru", units: 4 }]) },
  { name: "gru sequences", graph: g("t", [x([3, 2])], [{ name: "r", op: "gru", units: 5, return_sequences: true }]) },
  { name: "gru reset_after=false", graph: g("t", [x([5, 3])], [{ name: "r", op: "gru", units: 4, reset_after: false }]) },
  { name: "gru reset_after=false sequences, go_backwards", graph: g("t", [x([4, 2])], [{ name: "r", op: "gru", units: 3, reset_after: false, return_sequences: true, go_backwards: true }]) },
  { name: "simple_rnn go_backwards sequences", graph: g("t", [x([4, 3])], [{ name: "r", op: "simple_rnn", units: 3, return_sequences: true, go_backwards: true }]) },
  { name: "lstm go_backwards", graph: g("t", [x([5, 2])], [{ name: "r", op: "lstm", units: 3, go_backwards: true }]) },
  { name: "gru go_backwards sequences", graph: g("t", [x([3, 2])], [{ name: "r", op: "gru", units: 4, return_sequences: true, go_backwards: true }]) },
  { name: "bidirectional lstm concat sequences", graph: g("t", [x([4, 3])], [{ name: "b", op: "bidirectional", layer: { op: "lstm", units: 3, return_sequences: true } }]) },
  { name: "bidirectional gru sum (named inner layer)", graph: g("t", [x([5, 2])], [{ name: "b", op: "bidirectional", merge_mode: "sum", layer: { op: "gru", name: "enc", units: 4 } }]) },
  { name: "bidirectional gru reset_after=false ave sequences", graph: g("t", [x([3, 3])], [{ name: "b", op: "bidirectional", merge_mode: "ave", layer: { op: "gru", units: 2, reset_after: false, return_sequences: true } }]) },
  { name: "bidirectional simple_rnn mul, inner go_backwards, sequences", graph: g("t", [x([4, 2])], [{ name: "b", op: "bidirectional", merge_mode: "mul", layer: { op: "simple_rnn", units: 3, go_backwards: true, return_sequences: true } }]) },
  { name: "bidirectional lstm concat last state", graph: g("t", [x([4, 2])], [{ name: "b", op: "bidirectional", layer: { op: "lstm", units: 2 } }]) },
  // T > UNROLL_MAX_STEPS (32): one `recurrence` kernel pair that loops over T (prims/recurrence.ts).
  { name: "lstm T=40 (loop kernel)", graph: g("t", [x([40, 3])], [{ name: "r", op: "lstm", units: 4 }]) },
  { name: "lstm T=36 sequences, go_backwards (loop kernel)", graph: g("t", [x([36, 2])], [{ name: "r", op: "lstm", units: 3, return_sequences: true, go_backwards: true }]) },
  { name: "gru T=40 sequences (loop kernel, reset_after)", graph: g("t", [x([40, 3])], [{ name: "r", op: "gru", units: 4, return_sequences: true }]) },
  { name: "gru T=34 reset_after=false, go_backwards (loop kernel)", graph: g("t", [x([34, 2])], [{ name: "r", op: "gru", units: 5, reset_after: false, go_backwards: true }]) },
  { name: "simple_rnn T=40 sequences (loop kernel)", graph: g("t", [x([40, 3])], [{ name: "r", op: "simple_rnn", units: 4, return_sequences: true }]) },
  { name: "simple_rnn T=35 relu sequences (loop kernel)", graph: g("t", [x([35, 2])], [{ name: "r", op: "simple_rnn", units: 3, activation: "relu", return_sequences: true }]) },
  { name: "simple_rnn T=35 sigmoid (loop kernel)", graph: g("t", [x([35, 2])], [{ name: "r", op: "simple_rnn", units: 3, activation: "sigmoid" }]) },
  { name: "simple_rnn T=33 gelu (unrolled: no loop kernel for gelu)", graph: g("t", [x([33, 2])], [{ name: "r", op: "simple_rnn", units: 3, activation: "gelu" }]) },
  { name: "bidirectional gru T=36 reset_after=false concat sequences (loop kernels)", graph: g("t", [x([36, 2])], [{ name: "b", op: "bidirectional", layer: { op: "gru", units: 3, reset_after: false, return_sequences: true } }]) },
  { name: "bidirectional lstm T=40 ave (loop kernels)", graph: g("t", [x([40, 2])], [{ name: "b", op: "bidirectional", merge_mode: "ave", layer: { op: "lstm", units: 3 } }]) },
  { name: "mha self", graph: g("t", [x([4, 6])], [{ name: "m", op: "multi_head_attention", num_heads: 2, key_dim: 3 }]) },
  { name: "mha causal", graph: g("t", [x([5, 4])], [{ name: "m", op: "multi_head_attention", num_heads: 2, key_dim: 2, value_dim: 3, causal: true }]) },
  {
    name: "mha cross [q, v, k] T≠S causal",
    graph: g("t", [x([3, 4], "q"), x([5, 6], "v"), x([5, 2], "k")], [
      { name: "m", op: "multi_head_attention", num_heads: 3, key_dim: 2, value_dim: 4, causal: true, inputs: ["q", "v", "k"] },
    ]),
  },
  ...["add", "multiply", "average", "maximum", "minimum"].map((op) => ({
    name: `merge ${op}`,
    graph: g("t", [x([5], "a"), x([5], "b"), x([5], "c")], [{ name: "m", op, inputs: ["a", "b", "c"] }]),
  })),
  { name: "subtract", graph: g("t", [x([2, 3], "a"), x([2, 3], "b")], [{ name: "m", op: "subtract", inputs: ["a", "b"] }]) },
  { name: "concatenate -1", graph: g("t", [x([2, 3], "a"), x([2, 5], "b")], [{ name: "m", op: "concatenate", inputs: ["a", "b"] }]) },
  { name: "concatenate axis 1 (the first axis of the example)", graph: g("t", [x([2, 3], "a"), x([4, 3], "b")], [{ name: "m", op: "concatenate", axis: 1, inputs: ["a", "b"] }]) },
  // conv1d is conv2d on [1, T, C] (kernel [k, C, f] read in place); causal pads d·(k−1) on the left only.
  { name: "conv1d valid relu", graph: g("t", [x([9, 3])], [{ name: "c", op: "conv1d", filters: 5, kernel_size: 3, activation: "relu" }]) },
  { name: "conv1d same stride 2", graph: g("t", [x([9, 4])], [{ name: "c", op: "conv1d", filters: 6, kernel_size: 4, strides: 2, padding: "same" }]) },
  { name: "conv1d causal dilation 2 twice, no bias (WaveNet-style)", graph: g("t", [x([10, 2])], [{ name: "c1", op: "conv1d", filters: 4, kernel_size: 2, dilation_rate: 2, padding: "causal", use_bias: false }, { name: "c2", op: "conv1d", filters: 3, kernel_size: [3], dilation_rate: [4], padding: "causal", activation: "tanh" }]) },
  { name: "conv1d causal stride 3, 12 channels (im2col)", graph: g("t", [x([11, 12])], [{ name: "c", op: "conv1d", filters: 8, kernel_size: 3, strides: 3, padding: "causal" }]) },
  // relu then a tiling max-pool: the train step folds relu' into the pool gradient (fuse.ts: fusePoolGradRelu) on the [1, T, C] view too.
  // No bias: with the gradient test's seeded weights a bias made every relu output 0 at batch 1 (all gradients zero).
  { name: "conv1d relu -> max_pooling1d (relu' fused into the pool gradient)", graph: g("t", [x([10, 2])], [{ name: "c", op: "conv1d", filters: 5, kernel_size: 3, padding: "same", activation: "relu", use_bias: false }, { name: "p", op: "max_pooling1d" }]) },
  { name: "max_pooling1d valid", graph: g("t", [x([7, 3])], [{ name: "p", op: "max_pooling1d" }]) },
  { name: "max_pooling1d same 3 stride 2", graph: g("t", [x([8, 2])], [{ name: "p", op: "max_pooling1d", pool_size: 3, strides: 2, padding: "same" }]) },
  { name: "average_pooling1d same 3 stride 2", graph: g("t", [x([7, 3])], [{ name: "p", op: "average_pooling1d", pool_size: [3], strides: [2], padding: "same" }]) },
  { name: "global_average_pooling1d", graph: g("t", [x([5, 4])], [{ name: "p", op: "global_average_pooling1d" }]) },
  { name: "global_max_pooling1d", graph: g("t", [x([5, 4])], [{ name: "p", op: "global_max_pooling1d" }]) },
  { name: "upsampling2d nearest [2, 3]", graph: g("t", [x([3, 4, 2])], [{ name: "u", op: "upsampling2d", size: [2, 3] }]) },
  { name: "upsampling2d bilinear 2", graph: g("t", [x([3, 4, 2])], [{ name: "u", op: "upsampling2d", size: 2, interpolation: "bilinear" }]) },
  { name: "upsampling2d bilinear [3, 1] on one column", graph: g("t", [x([4, 1, 3])], [{ name: "u", op: "upsampling2d", size: [3, 1], interpolation: "bilinear" }]) },
  { name: "upsampling2d bilinear [1, 4]", graph: g("t", [x([2, 3, 2])], [{ name: "u", op: "upsampling2d", size: [1, 4], interpolation: "bilinear" }]) },
  { name: "upsampling1d 3", graph: g("t", [x([4, 3])], [{ name: "u", op: "upsampling1d", size: 3 }]) },
  { name: "zero_padding2d [[1, 2], [0, 3]]", graph: g("t", [x([3, 4, 2])], [{ name: "z", op: "zero_padding2d", padding: [[1, 2], [0, 3]] }]) },
  { name: "zero_padding2d 1 -> conv2d", graph: g("t", [x([4, 4, 3])], [{ name: "z", op: "zero_padding2d" }, { name: "c", op: "conv2d", filters: 4, kernel_size: 3 }]) },
  { name: "zero_padding1d [2, 1]", graph: g("t", [x([4, 3])], [{ name: "z", op: "zero_padding1d", padding: [2, 1] }]) },
  { name: "cropping2d [[1, 0], [2, 1]]", graph: g("t", [x([4, 6, 2])], [{ name: "c", op: "cropping2d", cropping: [[1, 0], [2, 1]] }]) },
  { name: "cropping2d [1, 2] symmetric", graph: g("t", [x([5, 6, 3])], [{ name: "c", op: "cropping2d", cropping: [1, 2] }]) },
  { name: "cropping1d default [1, 1]", graph: g("t", [x([6, 3])], [{ name: "c", op: "cropping1d" }]) },
  { name: "repeat_vector 4", graph: g("t", [x([5])], [{ name: "r", op: "repeat_vector", n: 4 }]) },
  { name: "permute [2, 1]", graph: g("t", [x([3, 5])], [{ name: "p", op: "permute", dims: [2, 1] }]) },
  { name: "permute [3, 1, 2] of [2, 3, 4]", graph: g("t", [x([2, 3, 4])], [{ name: "p", op: "permute", dims: [3, 1, 2] }]) },
  { name: "permute [6, 5, 4, 3, 2, 1] of [2, 3, 2, 2, 3, 2] (7-axis copy)", graph: g("t", [x([2, 3, 2, 2, 3, 2])], [{ name: "p", op: "permute", dims: [6, 5, 4, 3, 2, 1] }]) },
  { name: "time_distributed dense relu", graph: g("t", [x([4, 5])], [{ name: "td", op: "time_distributed", layer: { op: "dense", units: 3, activation: "relu" } }]) },
  { name: "time_distributed named dense on [T, 2, d], no bias", graph: g("t", [x([3, 2, 4])], [{ name: "td", op: "time_distributed", layer: { op: "dense", name: "proj", units: 6, use_bias: false } }]) },
  // Unrolled per step (passes/lower/wrappers.ts): a strided copy out of and into every step.
  { name: "time_distributed conv2d 3x3 same relu on [3, 5, 5, 2]", graph: g("t", [x([3, 5, 5, 2])], [{ name: "td", op: "time_distributed", layer: { op: "conv2d", filters: 4, kernel_size: 3, padding: "same", activation: "relu" } }]) },
  { name: "time_distributed conv1d valid on [2, 6, 3], named", graph: g("t", [x([2, 6, 3])], [{ name: "td", op: "time_distributed", layer: { op: "conv1d", name: "c", filters: 2, kernel_size: 3 } }]) },
  { name: "time_distributed max_pooling2d on [3, 4, 5, 2]", graph: g("t", [x([3, 4, 5, 2])], [{ name: "td", op: "time_distributed", layer: { op: "max_pooling2d", pool_size: 2 } }]) },
  { name: "time_distributed average_pooling2d same 3 stride 2", graph: g("t", [x([2, 5, 4, 3])], [{ name: "td", op: "time_distributed", layer: { op: "average_pooling2d", pool_size: 3, strides: 2, padding: "same" } }]) },
  { name: "time_distributed global_average_pooling2d", graph: g("t", [x([4, 3, 3, 2])], [{ name: "td", op: "time_distributed", layer: { op: "global_average_pooling2d" } }]) },
  { name: "time_distributed global_max_pooling1d", graph: g("t", [x([3, 4, 2])], [{ name: "td", op: "time_distributed", layer: { op: "global_max_pooling1d" } }]) },
  { name: "time_distributed zero_padding2d [[1, 0], [0, 2]]", graph: g("t", [x([2, 3, 2, 2])], [{ name: "td", op: "time_distributed", layer: { op: "zero_padding2d", padding: [[1, 0], [0, 2]] } }]) },
  { name: "time_distributed upsampling2d bilinear", graph: g("t", [x([2, 2, 3, 2])], [{ name: "td", op: "time_distributed", layer: { op: "upsampling2d", interpolation: "bilinear" } }]) },
  // Whole-tensor forms: flatten is a view, an activation (softmax on the last axis) is per step already.
  { name: "time_distributed flatten -> time_distributed dense", graph: g("t", [x([3, 2, 2, 3])], [{ name: "tf", op: "time_distributed", layer: { op: "flatten" } }, { name: "td", op: "time_distributed", layer: { op: "dense", units: 4 } }]) },
  { name: "time_distributed activation softmax", graph: g("t", [x([3, 4])], [{ name: "d", op: "dense", units: 5 }, { name: "td", op: "time_distributed", layer: { op: "activation", activation: "softmax" } }]) },
  // A video classifier's shape: per-frame conv, pool and flatten, then a recurrent layer over frames.
  { name: "time_distributed video: conv2d -> max_pooling2d -> flatten -> lstm", graph: g("t", [x([3, 6, 6, 1])], [
    { name: "tc", op: "time_distributed", layer: { op: "conv2d", filters: 3, kernel_size: 3, activation: "relu" } },
    { name: "tp", op: "time_distributed", layer: { op: "max_pooling2d" } },
    { name: "tf", op: "time_distributed", layer: { op: "flatten" } },
    { name: "r", op: "lstm", units: 4 },
  ]) },
  ...ACTIVATION_CASES,
  ...NORMALIZATION_CASES,
  ...MERGE_CASES,
  ...NOISE_CASES,
];
