/**
 * The TF.js cross-checks of the float64 reference: one case per op variant, each naming the kiln
 * op it checks (`layer.op`), run by layers-tfjs.test.ts against tfjs-layers on the cpu backend
 * (same seeded weights via setWeights, never tfjs initializers: orthogonal crashes under Node;
 * 1e-4 relative ‖out − ref‖/‖ref‖). test/meta/registry.test.ts fails when an op has no case here.
 *
 * Where TF.js has no layer for an op, or none with kiln's semantics, the case composes the TF.js
 * computation from tf ops or other TF.js layers and its name says so. kiln.graph/v2 counts axes as
 * TF.js does (0 is the batch axis), so the same axis number goes to both.
 *
 * The compiled modules are checked against the same reference (test/compile/forward.test.ts) and,
 * for most ops, against TF.js directly (test/compile/tfjs.test.ts).
 */
import * as tf from "@tensorflow/tfjs";
// Not exported by @tensorflow/tfjs 4.22 (nor its bundles): the module of tfjs-layers itself, the
// exact version @tensorflow/tfjs depends on. Its `_queryDense`… getters are public for tests.
import { MultiHeadAttention } from "@tensorflow/tfjs-layers/dist/layers/nlp/multihead_attention.js";
import type { OpName } from "../../compiler/frontend/graph-types.js";
import { ACTIVATION_CASES } from "./tfjs-cases-activations.js";
import { NORMALIZATION_CASES } from "./tfjs-cases-normalization.js";
import { MERGE_CASES } from "./tfjs-cases-merge.js";
import { NOISE_CASES } from "./tfjs-cases-noise.js";
import { PREPROCESSING_CASES } from "./tfjs-cases-preprocessing.js";

/** What a case needs of a TF.js layer (tf.layers.Layer has it; compositions of tf ops implement it). */
export interface TfLayer {
  /** Called once before setWeights (TF.js layers build their weights there), then for the output. */
  apply(x: tf.Tensor | tf.Tensor[], kwargs?: { training?: boolean }): unknown;
  setWeights(weights: tf.Tensor[]): void;
  getWeights(): tf.Tensor[];
  /** The layer's trainable variables, in getWeights() order (for cases with `weightGradients`). */
  trainableWeights?: { read(): tf.Tensor; name: string }[];
}

export interface TfjsCase {
  /** The test's name. */
  name: string;
  /** The kiln layer (its name is filled in); `op` is the kiln op this case cross-checks. */
  layer: { op: OpName } & Record<string, unknown>;
  /** Factory for the equivalent TF.js layer. */
  tfLayer: () => TfLayer;
  /** Per-example input shapes. */
  inputs: number[][];
  /** Kiln weight short names and shapes, in the TF.js layer's getWeights() order (unless tfWeights maps them). */
  weights?: [string, number[]][];
  /** Changes the seeded kiln weights (by short name) before either side sees them. */
  adjustWeights?: (w: Record<string, Float64Array>) => void;
  /** The TF.js layer's setWeights list from the kiln weights (by short name), when not one to one. */
  tfWeights?: (w: Record<string, Float64Array>) => tf.Tensor[];
  /** Int32 inputs in [0, intInputs). */
  intInputs?: number;
  /** Training-mode forward on both sides. */
  training?: boolean;
  /** Weights drawn from [0.5, 1.5] (variances). */
  positive?: string[];
  /** Also compare the updated moving statistics with TF.js's weights 2 and 3 (batch normalization). */
  movingStatistics?: boolean;
  /** The reference's dropout keep-mask is read off the TF.js output (non-zero = kept). */
  maskFromTf?: boolean;
  /** Also compare the weight gradients of Σ(out ⊙ seed) with tf.variableGrads (inference mode). */
  weightGradients?: boolean;
  /** Relative error bound (default 1e-4). */
  tolerance?: number;
  /**
   * The TF.js computation gradients-tfjs.test.ts differentiates instead of tfLayer, where TF.js
   * cannot differentiate that layer (no gradient for Greater; batchNorm without gamma or beta;
   * maximum/minimum of broadcast inputs); the case's definition says which.
   */
  tfGrad?: () => TfLayer;
}



type Weights = [string, number[]][];

/** A weightless TF.js layer whose output is reshaped to `shape` per example. */
function thenReshape(inner: tf.layers.Layer, shape: number[]): TfLayer {
  return {
    apply: (x, kw) => {
      const y = inner.apply(x as tf.Tensor, kw) as tf.Tensor;
      return tf.reshape(y, [y.shape[0]!, ...shape]);
    },
    setWeights: () => {},
    getWeights: () => [],
  };
}

/** A TF.js layer applied to permuted input (perm must be its own inverse), output permuted back. */
function transposed(inner: tf.layers.Layer, perm: number[]): TfLayer {
  return {
    apply: (x, kw) => tf.transpose(inner.apply(tf.transpose(x as tf.Tensor, perm), kw) as tf.Tensor, perm),
    setWeights: (ws) => inner.setWeights(ws),
    getWeights: () => inner.getWeights(),
  };
}

/** A weightless TF.js computation as a layer. */
function weightless(f: (xs: tf.Tensor[]) => tf.Tensor): TfLayer {
  return { apply: (x) => f(Array.isArray(x) ? x : [x]), setWeights() {}, getWeights: () => [] };
}

const dense = (units: number, activation = "linear"): TfjsCase => ({
  name: `dense ${units} ${activation}`,
  layer: { op: "dense", units, activation },
  tfLayer: () => tf.layers.dense({ units, activation: activation as never }),
  inputs: [[5]],
  weights: [["kernel", [5, units]], ["bias", [units]]],
});

const CONV: [string, Record<string, unknown>, Record<string, unknown>][] = [
  ["valid", { kernel_size: 3 }, { kernelSize: 3 }],
  ["same", { kernel_size: [3, 2], padding: "same" }, { kernelSize: [3, 2], padding: "same" }],
  ["same, stride 2 (odd pixel bottom/right)", { kernel_size: 3, strides: 2, padding: "same" }, { kernelSize: 3, strides: 2, padding: "same" }],
  ["valid, stride 2", { kernel_size: 2, strides: [2, 1] }, { kernelSize: 2, strides: [2, 1] }],
  ["dilation 2, same", { kernel_size: 3, dilation_rate: 2, padding: "same" }, { kernelSize: 3, dilationRate: 2, padding: "same" }],
  ["dilation 2, valid", { kernel_size: 2, dilation_rate: 2, activation: "tanh" }, { kernelSize: 2, dilationRate: 2, activation: "tanh" }],
];

const conv2d = ([label, kiln, tfa]: (typeof CONV)[number]): TfjsCase => {
  const k = typeof kiln.kernel_size === "number" ? [kiln.kernel_size, kiln.kernel_size] : (kiln.kernel_size as number[]);
  return {
    name: `conv2d ${label}`,
    layer: { op: "conv2d", filters: 4, ...kiln },
    tfLayer: () => tf.layers.conv2d({ filters: 4, ...(tfa as { kernelSize: number }) }),
    inputs: [[8, 7, 3]],
    weights: [["kernel", [k[0]!, k[1]!, 3, 4]], ["bias", [4]]],
  };
};

/** depthwise_conv2d on [8, 7, 3]: [label, kiln attributes, TF.js attributes]. */
const DEPTHWISE: [string, Record<string, unknown>, Record<string, unknown>][] = [
  ["3x3 same", { kernel_size: 3, padding: "same" }, { kernelSize: 3, padding: "same" }],
  ["depth_multiplier 2, stride 2 valid, relu", { kernel_size: [3, 2], strides: 2, depth_multiplier: 2, activation: "relu" }, { kernelSize: [3, 2], strides: 2, depthMultiplier: 2, activation: "relu" }],
  ["5x5 stride 2 same (odd pixel bottom/right)", { kernel_size: 5, strides: 2, padding: "same" }, { kernelSize: 5, strides: 2, padding: "same" }],
];

const depthwiseConv2d = ([label, kiln, tfa]: (typeof DEPTHWISE)[number]): TfjsCase => {
  const k = typeof kiln.kernel_size === "number" ? [kiln.kernel_size, kiln.kernel_size] : (kiln.kernel_size as number[]);
  const m = (kiln.depth_multiplier as number | undefined) ?? 1;
  const weights: Weights = [["kernel", [k[0]!, k[1]!, 3, m]]];
  if (kiln.use_bias !== false) weights.push(["bias", [3 * m]]);
  return {
    name: `depthwise_conv2d ${label}`,
    layer: { op: "depthwise_conv2d", ...kiln },
    tfLayer: () => tf.layers.depthwiseConv2d({ ...(tfa as { kernelSize: number }) }),
    inputs: [[8, 7, 3]],
    weights,
  };
};

/** separable_conv2d on [8, 7, 3] with 5 filters: [label, kiln attributes, TF.js attributes]. */
const SEPARABLE: [string, Record<string, unknown>, Record<string, unknown>][] = [
  ["3x3 same", { kernel_size: 3, padding: "same" }, { kernelSize: 3, padding: "same" }],
  ["depth_multiplier 2, [3,2] stride 2 valid, relu", { kernel_size: [3, 2], strides: 2, depth_multiplier: 2, activation: "relu" }, { kernelSize: [3, 2], strides: 2, depthMultiplier: 2, activation: "relu" }],
  ["dilation 2 same, depth_multiplier 3, no bias", { kernel_size: 3, dilation_rate: 2, padding: "same", depth_multiplier: 3, use_bias: false }, { kernelSize: 3, dilationRate: 2, padding: "same", depthMultiplier: 3, useBias: false }],
];

const separableConv2d = ([label, kiln, tfa]: (typeof SEPARABLE)[number]): TfjsCase => {
  const k = typeof kiln.kernel_size === "number" ? [kiln.kernel_size, kiln.kernel_size] : (kiln.kernel_size as number[]);
  const m = (kiln.depth_multiplier as number | undefined) ?? 1;
  const weights: Weights = [["depthwise_kernel", [k[0]!, k[1]!, 3, m]], ["pointwise_kernel", [1, 1, 3 * m, 5]]];
  if (kiln.use_bias !== false) weights.push(["bias", [5]]);
  return {
    name: `separable_conv2d ${label}`,
    layer: { op: "separable_conv2d", filters: 5, ...kiln },
    tfLayer: () => tf.layers.separableConv2d({ filters: 5, ...(tfa as { kernelSize: number }) }),
    inputs: [[8, 7, 3]],
    weights,
  };
};

/** conv2d_transpose on [5, 4, 3] with 4 filters (TF.js has neither dilation nor output_padding here). */
const TRANSPOSE: [string, Record<string, unknown>, Record<string, unknown>][] = [
  ["3x3 valid", { kernel_size: 3 }, { kernelSize: 3 }],
  ["3x3 same", { kernel_size: 3, padding: "same" }, { kernelSize: 3, padding: "same" }],
  ["3x3 stride 2 same", { kernel_size: 3, strides: 2, padding: "same" }, { kernelSize: 3, strides: 2, padding: "same" }],
  ["[2,3] strides [2,3] valid, relu", { kernel_size: [2, 3], strides: [2, 3], activation: "relu" }, { kernelSize: [2, 3], strides: [2, 3], activation: "relu" }],
  ["4x4 stride 2 same, no bias", { kernel_size: 4, strides: 2, padding: "same", use_bias: false }, { kernelSize: 4, strides: 2, padding: "same", useBias: false }],
  ["2x2 stride 3 valid (kernel shorter than the stride)", { kernel_size: 2, strides: 3 }, { kernelSize: 2, strides: 3 }],
];

const conv2dTranspose = ([label, kiln, tfa]: (typeof TRANSPOSE)[number]): TfjsCase => {
  const k = typeof kiln.kernel_size === "number" ? [kiln.kernel_size, kiln.kernel_size] : (kiln.kernel_size as number[]);
  const weights: Weights = [["kernel", [k[0]!, k[1]!, 4, 3]]];
  if (kiln.use_bias !== false) weights.push(["bias", [4]]);
  return {
    name: `conv2d_transpose ${label}`,
    layer: { op: "conv2d_transpose", filters: 4, ...kiln },
    tfLayer: () => tf.layers.conv2dTranspose({ filters: 4, ...(tfa as { kernelSize: number }) }),
    inputs: [[5, 4, 3]],
    weights,
  };
};

/**
 * TF.js's Conv2DTranspose layer has no output_padding: these cases run what Keras's TensorFlow
 * backend runs, tf.conv2dTranspose (conv2d's input gradient) with the output shape Keras computes
 * (deconv_output_length, written out here) and the same padding mode, plus the bias.
 */
function transposeOp(outHW: [number, number], filters: number, strides: [number, number], padding: "same" | "valid"): TfLayer {
  let kernel: tf.Tensor4D | undefined, bias: tf.Tensor | undefined;
  return {
    apply: (x) => {
      const t = x as tf.Tensor4D;
      if (!kernel) return t;
      return tf.add(tf.conv2dTranspose(t, kernel, [t.shape[0], outHW[0], outHW[1], filters], strides, padding), bias!);
    },
    setWeights: ([k, b]) => { kernel = k as tf.Tensor4D; bias = b; },
    getWeights: () => (kernel ? [kernel, bias!] : []),
  };
}

/**
 * tf.layers.depthwiseConv2d (tfjs-layers 4.22) ignores dilationRate (its output has the undilated
 * shape), so dilated cases run the op the layer should call, tf.depthwiseConv2d, on the kernel.
 */
function depthwiseOp(strides: number, padding: "same" | "valid", dilation: number | [number, number]): TfLayer {
  let kernel: tf.Tensor4D | undefined;
  return {
    apply: (x) => (kernel ? tf.depthwiseConv2d(x as tf.Tensor4D, kernel, strides, padding, "NHWC", dilation) : x),
    setWeights: ([k]) => { kernel = k as tf.Tensor4D; },
    getWeights: () => (kernel ? [kernel] : []),
  };
}

const POOL: [string, Record<string, unknown>, Record<string, unknown>][] = [
  ["default 2x2 valid", {}, {}],
  ["3x3 stride 2 same", { pool_size: 3, strides: 2, padding: "same" }, { poolSize: 3, strides: 2, padding: "same" }],
  ["2x2 stride 2 same (odd input)", { pool_size: 2, padding: "same" }, { poolSize: 2, padding: "same" }],
  ["[3,2] stride 1 valid", { pool_size: [3, 2], strides: 1 }, { poolSize: [3, 2], strides: 1 }],
];

const pooling = (kind: "max" | "average", [label, kiln, tfa]: (typeof POOL)[number]): TfjsCase => {
  const tfArgs = { poolSize: 2, ...tfa } as { poolSize: number };
  return {
    name: `${kind}_pooling2d ${label}`,
    layer: { op: `${kind}_pooling2d`, ...kiln },
    tfLayer: () => (kind === "max" ? tf.layers.maxPooling2d(tfArgs) : tf.layers.averagePooling2d(tfArgs)),
    inputs: [[7, 5, 2]],
  };
};

// TF.js's batchNorm kernel (cpu and wasm backends) broadcasts mean, variance, gamma and beta
// over the last axis whatever the layer's axis (tensorflow/tfjs#1106: ~0.2 relative error on
// [4, 3] with axis 1), so for another axis the output is checked against tfjs normalizing the
// transposed input (the channel axis last, where its kernel is right). The moving statistics that
// tf.layers.batchNormalization({ axis }) itself computes (tf.moments over every other axis) are
// right, and layers-tfjs.test.ts checks them against it directly.
export const BN_SHAPE = [4, 3, 2];
/** Keras axes of [batch, 4, 3, 2] and the swap of that axis with the last (its own inverse). */
export const BN_AXES: [number | undefined, number[] | undefined][] = [[undefined, undefined], [-1, undefined], [1, [0, 3, 2, 1]], [2, [0, 1, 3, 2]], [-2, [0, 1, 3, 2]], [-3, [0, 3, 2, 1]]];
export const batchNorm = (training: boolean, axis?: number, perm?: number[]): TfjsCase => {
  const c = BN_SHAPE.at(axis === undefined ? -1 : axis < 0 ? axis : axis - 1)!;
  return {
    name: `batch_normalization ${training ? "training mode, with the moving-statistics update" : "inference mode (moving statistics)"}, axis ${axis ?? "default"}`,
    layer: { op: "batch_normalization", momentum: 0.9, ...(axis === undefined ? {} : { axis }) },
    tfLayer: () => {
      const inner = tf.layers.batchNormalization({ momentum: 0.9 });
      return perm ? transposed(inner, perm) : inner;
    },
    inputs: [BN_SHAPE],
    weights: ["gamma", "beta", "moving_mean", "moving_variance"].map((w) => [w, [c]] as [string, number[]]),
    positive: ["moving_variance"],
    training,
    movingStatistics: training,
  };
};

const recurrent = (returnSequences: boolean): TfjsCase[] => [
  {
    name: `simple_rnn return_sequences=${returnSequences}`,
    layer: { op: "simple_rnn", units: 4, return_sequences: returnSequences },
    tfLayer: () => tf.layers.simpleRNN({ units: 4, returnSequences, recurrentInitializer: "zeros" }),
    inputs: [[5, 3]],
    weights: [["kernel", [3, 4]], ["recurrent_kernel", [4, 4]], ["bias", [4]]],
  },
  {
    name: `lstm return_sequences=${returnSequences}`,
    layer: { op: "lstm", units: 3, return_sequences: returnSequences },
    tfLayer: () => tf.layers.lstm({ units: 3, returnSequences, recurrentActivation: "sigmoid", unitForgetBias: true, recurrentInitializer: "zeros" }),
    inputs: [[6, 2]],
    weights: [["kernel", [2, 12]], ["recurrent_kernel", [3, 12]], ["bias", [12]]],
  },
];

// ---------------------------------------------------------------- gru

/*
 * kiln's gru is Keras 3's default reset_after=true (spec §2.1: h̃ = tanh(x·W_h + b⁰_h + r ⊙ (h·U_h
 * + b¹_h)), bias [2, 3u]); TF.js's GRU supports only reset_after=false (h̃ = tanh(x·W_h + b_h +
 * (r ⊙ h)·U_h), bias [3u]) and throws for true (layers-tfjs.test.ts checks that it still does).
 * The two agree exactly when b¹_h = 0 and r ⊙ (h·U_h) = (r ⊙ h)·U_h: with one unit (r is then a
 * scalar per example) or with U_h = 0; there the z and r biases are the sums b⁰ + b¹. Those cases
 * run TF.js's own GRU (with reset_after=false set explicitly); the general case runs Keras 3's
 * GRUCell reset_after=true arithmetic written with tf ops.
 */
const RESET_BEFORE = { resetAfter: false }; // not in GRULayerArgs' type, but read by TF.js's GRUCell

/** TF.js GRU (reset_after=false) weights from kiln's: the z and r biases summed, b¹_h (zero) dropped. */
function resetBeforeWeights(units: number) {
  return (w: Record<string, Float64Array>): tf.Tensor[] => {
    const bias = w.bias!;
    const summed = Float32Array.from({ length: 3 * units }, (_, i) => bias[i]! + (i < 2 * units ? bias[3 * units + i]! : 0));
    return [tf.tensor(Float32Array.from(w.kernel!), [w.kernel!.length / (3 * units), 3 * units]), tf.tensor(Float32Array.from(w.recurrent_kernel!), [units, 3 * units]), tf.tensor(summed, [3 * units])];
  };
}

/** Zeroes b¹_h and, with `recurrentH`, U_h (the h̃ columns of the recurrent kernel). */
function zeroResetAfterTerms(units: number, recurrentH: boolean) {
  return (w: Record<string, Float64Array>): void => {
    w.bias!.fill(0, 5 * units, 6 * units);
    if (recurrentH) for (let row = 0; row < units; row++) w.recurrent_kernel!.fill(0, row * 3 * units + 2 * units, (row + 1) * 3 * units);
  };
}

const gruWeights = (features: number, units: number): Weights => [["kernel", [features, 3 * units]], ["recurrent_kernel", [units, 3 * units]], ["bias", [2, 3 * units]]];

function tfGru(units: number, returnSequences: boolean): TfLayer {
  return tf.layers.gru({ units, returnSequences, recurrentActivation: "sigmoid", recurrentInitializer: "zeros", ...RESET_BEFORE });
}

/** Keras 3 GRUCell.call with reset_after=true (keras/src/layers/rnn/gru.py), in tf ops. */
function gruResetAfter(units: number, returnSequences: boolean): TfLayer {
  let w: tf.Tensor[] | undefined;
  return {
    apply: (input) => tf.tidy(() => {
      const x = input as tf.Tensor3D;
      if (!w) return x; // the build call: nothing to build
      const [kernel, recurrentKernel, bias] = w as [tf.Tensor2D, tf.Tensor2D, tf.Tensor2D];
      const [batch, steps, features] = x.shape;
      const [inputBias, recurrentBias] = tf.split(bias, 2, 0).map((b) => b.reshape([3 * units]));
      let h: tf.Tensor2D = tf.zeros([batch, units]);
      const hs: tf.Tensor2D[] = [];
      for (let t = 0; t < steps; t++) {
        const xt = x.slice([0, t, 0], [batch, 1, features]).reshape([batch, features]) as tf.Tensor2D;
        const [xz, xr, xh] = tf.split(tf.add(tf.matMul(xt, kernel), inputBias!), 3, 1);
        const [rz, rr, rh] = tf.split(tf.add(tf.matMul(h, recurrentKernel), recurrentBias!), 3, 1);
        const z = tf.sigmoid(tf.add(xz!, rz!));
        const r = tf.sigmoid(tf.add(xr!, rr!));
        const hh = tf.tanh(tf.add(xh!, tf.mul(r, rh!)));
        h = tf.add(tf.mul(z, h), tf.mul(tf.sub(1, z), hh));
        hs.push(h);
      }
      return returnSequences ? tf.stack(hs, 1) : h;
    }),
    setWeights: (ws) => void (w = ws.map((t) => t.clone())),
    getWeights: () => w ?? [],
  };
}

const GRU: TfjsCase[] = [
  {
    name: "gru 1 unit, b¹_h = 0, return_sequences (TF.js GRU, reset_after=false: equal for one unit)",
    layer: { op: "gru", units: 1, return_sequences: true },
    tfLayer: () => tfGru(1, true),
    inputs: [[5, 3]],
    weights: gruWeights(3, 1),
    adjustWeights: zeroResetAfterTerms(1, false),
    tfWeights: resetBeforeWeights(1),
  },
  {
    name: "gru 4 units, U_h = 0, b¹_h = 0 (TF.js GRU, reset_after=false: equal without U_h)",
    layer: { op: "gru", units: 4 },
    tfLayer: () => tfGru(4, false),
    inputs: [[6, 3]],
    weights: gruWeights(3, 4),
    adjustWeights: zeroResetAfterTerms(4, true),
    tfWeights: resetBeforeWeights(4),
  },
  ...[false, true].map((returnSequences): TfjsCase => ({
    name: `gru 3 units, all weights, return_sequences=${returnSequences} (Keras 3 reset_after=true in tf ops: TF.js's GRU lacks it)`,
    layer: { op: "gru", units: 3, return_sequences: returnSequences },
    tfLayer: () => gruResetAfter(3, returnSequences),
    inputs: [[5, 2]],
    weights: gruWeights(2, 3),
  })),
];

// ---------------------------------------------------------------- go_backwards, gru reset_after=false, bidirectional

const RNN_WEIGHTS = {
  simple_rnn: (f: number, u: number): Weights => [["kernel", [f, u]], ["recurrent_kernel", [u, u]], ["bias", [u]]],
  lstm: (f: number, u: number): Weights => [["kernel", [f, 4 * u]], ["recurrent_kernel", [u, 4 * u]], ["bias", [4 * u]]],
  gru: (f: number, u: number): Weights => [["kernel", [f, 3 * u]], ["recurrent_kernel", [u, 3 * u]], ["bias", [3 * u]]],
};
type RnnKind = keyof typeof RNN_WEIGHTS;

/** TF.js's recurrent layer with kiln's semantics (sigmoid recurrent activation; GRU reset_after=false). */
function tfRnn(kind: RnnKind, units: number, returnSequences: boolean, goBackwards: boolean): tf.layers.Layer {
  const common = { units, returnSequences, goBackwards, recurrentInitializer: "zeros" as const };
  if (kind === "simple_rnn") return tf.layers.simpleRNN(common);
  if (kind === "lstm") return tf.layers.lstm({ ...common, recurrentActivation: "sigmoid", unitForgetBias: true });
  return tf.layers.gru({ ...common, recurrentActivation: "sigmoid", ...RESET_BEFORE });
}

/** kiln's attributes of the same layer (gru: reset_after=false, TF.js's only GRU). */
const kilnRnn = (kind: RnnKind, units: number, returnSequences: boolean, goBackwards: boolean) => ({
  op: kind, units, return_sequences: returnSequences, ...(goBackwards ? { go_backwards: true } : {}), ...(kind === "gru" ? { reset_after: false } : {}),
});

const RESET_BEFORE_CASES: TfjsCase[] = [false, true].map((returnSequences) => ({
  name: `gru reset_after=false, all weights, return_sequences=${returnSequences} (TF.js's own GRU)`,
  layer: kilnRnn("gru", 3, returnSequences, false),
  tfLayer: () => tfRnn("gru", 3, returnSequences, false),
  inputs: [[5, 2]],
  weights: RNN_WEIGHTS.gru(2, 3),
}));

const GO_BACKWARDS: TfjsCase[] = (["simple_rnn", "lstm", "gru"] as const).flatMap((kind) => [false, true].map((returnSequences): TfjsCase => ({
  name: `${kind}${kind === "gru" ? " reset_after=false" : ""} go_backwards, return_sequences=${returnSequences} (states in processing order)`,
  layer: kilnRnn(kind, 3, returnSequences, true),
  tfLayer: () => tfRnn(kind, 3, returnSequences, true),
  inputs: [[5, 2]],
  weights: RNN_WEIGHTS[kind](2, 3),
})));

/** [kind, merge_mode, return_sequences, inner go_backwards] */
const BIDIRECTIONAL_VARIANTS: [RnnKind, "concat" | "sum" | "mul" | "ave", boolean, boolean][] = [
  ["lstm", "concat", true, false], ["lstm", "ave", false, false], ["gru", "sum", true, false], ["gru", "concat", false, false],
  ["simple_rnn", "mul", true, false], ["simple_rnn", "concat", false, false], ["lstm", "concat", true, true],
];

const BIDIRECTIONAL: TfjsCase[] = BIDIRECTIONAL_VARIANTS.map(([kind, mergeMode, returnSequences, goBackwards]): TfjsCase => {
  const inner = kind === "lstm" ? "enc" : kind; // a named inner layer, and the default name (its op)
  const weights = RNN_WEIGHTS[kind](3, 2);
  return {
    name: `bidirectional ${kind}${kind === "gru" ? " reset_after=false" : ""} merge_mode=${mergeMode}, return_sequences=${returnSequences}${goBackwards ? ", inner go_backwards" : ""}`,
    layer: { op: "bidirectional", merge_mode: mergeMode, layer: { ...kilnRnn(kind, 2, returnSequences, goBackwards), ...(inner === kind ? {} : { name: inner }) } },
    tfLayer: () => tf.layers.bidirectional({ layer: tfRnn(kind, 2, returnSequences, goBackwards) as never, mergeMode }),
    inputs: [[4, 3]],
    weights: ["forward", "backward"].flatMap((dir) => weights.map(([w, shape]): [string, number[]] => [`${dir}_${inner}/${w}`, shape])),
  };
});

// ---------------------------------------------------------------- attention, position embedding

const MHA_WEIGHTS = ["query", "key", "value", "attention_output"] as const;

/** tfjs-layers' MultiHeadAttention (a port of Keras's), fed kiln's [query, value, key] inputs. */
function tfMultiHeadAttention(args: { numHeads: number; keyDim: number; valueDim?: number }, causal: boolean): TfLayer {
  const m = new MultiHeadAttention(args);
  const sublayers = () => [m._queryDense, m._keyDense, m._valueDense, m._outputDense];
  return {
    apply: (x) => {
      const [query, value, key] = Array.isArray(x) ? x : [x];
      return m.call(query!, { value: value ?? query!, ...(key ? { key } : {}), useCausalMask: causal });
    },
    setWeights: (ws) => sublayers().forEach((l, i) => l.setWeights(ws.slice(2 * i, 2 * i + 2))),
    getWeights: () => sublayers().flatMap((l) => l.getWeights()),
  };
}

function mhaWeights(heads: number, keyDim: number, valueDim: number, dq: number, dv: number, dk: number): Weights {
  const shapes: Record<(typeof MHA_WEIGHTS)[number], [number[], number[]]> = {
    query: [[dq, heads, keyDim], [heads, keyDim]],
    key: [[dk, heads, keyDim], [heads, keyDim]],
    value: [[dv, heads, valueDim], [heads, valueDim]],
    attention_output: [[heads, valueDim, dq], [dq]],
  };
  return MHA_WEIGHTS.flatMap((w): Weights => [[`${w}/kernel`, shapes[w][0]], [`${w}/bias`, shapes[w][1]]]);
}

const ATTENTION: TfjsCase[] = [
  {
    name: "multi_head_attention self-attention",
    layer: { op: "multi_head_attention", num_heads: 2, key_dim: 3 },
    tfLayer: () => tfMultiHeadAttention({ numHeads: 2, keyDim: 3 }, false),
    inputs: [[4, 6]],
    weights: mhaWeights(2, 3, 3, 6, 6, 6),
  },
  {
    name: "multi_head_attention causal self-attention, value_dim ≠ key_dim",
    layer: { op: "multi_head_attention", num_heads: 2, key_dim: 2, value_dim: 3, causal: true },
    tfLayer: () => tfMultiHeadAttention({ numHeads: 2, keyDim: 2, valueDim: 3 }, true),
    inputs: [[5, 4]],
    weights: mhaWeights(2, 2, 3, 4, 4, 4),
  },
  {
    name: "multi_head_attention cross [query, value, key], T ≠ S, causal",
    layer: { op: "multi_head_attention", num_heads: 3, key_dim: 2, value_dim: 4, causal: true },
    tfLayer: () => tfMultiHeadAttention({ numHeads: 3, keyDim: 2, valueDim: 4 }, true),
    inputs: [[3, 4], [5, 6], [5, 2]],
    weights: mhaWeights(3, 2, 4, 4, 6, 2),
  },
];

/**
 * TF.js has no PositionEmbedding layer (keras_hub's): its output is the embedding of positions
 * 0..T-1, so the case runs TF.js's embedding layer on tf.range(T), tiled over the batch.
 */
function tfPositionEmbedding(sequenceLength: number, dim: number): TfLayer {
  const embedding = tf.layers.embedding({ inputDim: sequenceLength, outputDim: dim });
  const positions = (x: tf.Tensor) => tf.tile(tf.range(0, x.shape[1]!, 1, "int32").expandDims(0), [x.shape[0]!, 1]);
  return {
    apply: (x) => embedding.apply(positions(x as tf.Tensor)),
    setWeights: (ws) => embedding.setWeights(ws),
    getWeights: () => embedding.getWeights(),
  };
}

const positionEmbedding = (steps: number, sequenceLength: number): TfjsCase => ({
  name: `position_embedding T=${steps}, sequence_length=${sequenceLength} (TF.js has none: its embedding layer on tf.range(T))`,
  layer: { op: "position_embedding", sequence_length: sequenceLength },
  tfLayer: () => tfPositionEmbedding(sequenceLength, 4),
  inputs: [[steps, 4]],
  weights: [["embeddings", [sequenceLength, 4]]],
});

// ---------------------------------------------------------------- 1-D ops and movement (issue 17)

type Conv1dCase = [string, Record<string, unknown>, Record<string, unknown>];
const CONV1D: Conv1dCase[] = [
  ["valid", { kernel_size: 3 }, { kernelSize: 3 }],
  ["same, stride 2", { kernel_size: 3, strides: 2, padding: "same" }, { kernelSize: 3, strides: 2, padding: "same" }],
  ["same, dilation 2, relu", { kernel_size: [2], dilation_rate: 2, padding: "same", activation: "relu" }, { kernelSize: 2, dilationRate: 2, padding: "same", activation: "relu" }],
];

const conv1d = ([label, kiln, tfa]: Conv1dCase): TfjsCase => {
  const k = Array.isArray(kiln.kernel_size) ? (kiln.kernel_size[0] as number) : (kiln.kernel_size as number);
  return {
    name: `conv1d ${label}`,
    layer: { op: "conv1d", filters: 4, ...kiln },
    tfLayer: () => tf.layers.conv1d({ filters: 4, ...(tfa as { kernelSize: number }) }),
    inputs: [[9, 3]],
    weights: [["kernel", [k, 3, 4]], ["bias", [4]]],
    weightGradients: !kiln.dilation_rate,
  };
};

// Weight gradients are compared where TF.js has them: its conv2D gradient refuses dilation > 1
// ("dilation rates greater than 1 are not yet supported in gradients"), so dilated cases are
// forward only here; test/compile/gradients.test.ts and finite-differences.test.ts cover them.

/** TF.js's conv1d refuses padding "causal" (NotImplementedError): zeros d·(k−1) before the steps, then its valid conv1d. */
function causalConv1d(k: number, dilation: number, strides: number): TfjsCase {
  return {
    name: `conv1d causal k=${k}, dilation ${dilation}, stride ${strides} (TF.js refuses causal: tf.pad before its valid conv1d)`,
    layer: { op: "conv1d", filters: 3, kernel_size: k, dilation_rate: dilation, strides, padding: "causal" },
    tfLayer: () => {
      const inner = tf.layers.conv1d({ filters: 3, kernelSize: k, dilationRate: dilation, strides });
      return {
        apply: (x, kw) => inner.apply(tf.pad(x as tf.Tensor, [[0, 0], [dilation * (k - 1), 0], [0, 0]]), kw),
        setWeights: (ws) => inner.setWeights(ws),
        getWeights: () => inner.getWeights(),
        get trainableWeights() { return inner.trainableWeights; },
      };
    },
    inputs: [[8, 2]],
    weights: [["kernel", [k, 2, 3]], ["bias", [3]]],
    weightGradients: dilation === 1,
  };
}

const POOL1D: [string, Record<string, unknown>, Record<string, unknown>][] = [
  ["default 2 valid", {}, {}],
  ["3 stride 2 same", { pool_size: 3, strides: 2, padding: "same" }, { poolSize: 3, strides: 2, padding: "same" }],
];

const pooling1d = (kind: "max" | "average", [label, kiln, tfa]: (typeof POOL1D)[number]): TfjsCase => {
  const tfArgs = { poolSize: 2, ...tfa } as { poolSize: number };
  return {
    name: `${kind}_pooling1d ${label}`,
    layer: { op: `${kind}_pooling1d`, ...kiln } as TfjsCase["layer"],
    tfLayer: () => (kind === "max" ? tf.layers.maxPooling1d(tfArgs) : tf.layers.averagePooling1d(tfArgs)),
    inputs: [[7, 3]],
  };
};

/** Keras 3 resizes with half-pixel centres; TF.js's upSampling2d bilinear does not (resizeBilinear's legacy grid). */
const bilinear = (size: [number, number], shape: number[]): TfjsCase => ({
  name: `upsampling2d bilinear ${size.join("x")} on ${shape.join("x")} (TF.js's upSampling2d uses the legacy grid: tf.image.resizeBilinear with halfPixelCenters, as Keras 3)`,
  layer: { op: "upsampling2d", size, interpolation: "bilinear" },
  tfLayer: () => weightless(([x]) => tf.image.resizeBilinear(x as tf.Tensor4D, [shape[0]! * size[0], shape[1]! * size[1]], false, true)),
  inputs: [shape],
  tolerance: 1e-6,
});

const MOVEMENT: TfjsCase[] = [
  { name: "global_average_pooling1d", layer: { op: "global_average_pooling1d" }, tfLayer: () => tf.layers.globalAveragePooling1d({}), inputs: [[5, 4]] },
  { name: "global_max_pooling1d", layer: { op: "global_max_pooling1d" }, tfLayer: () => tf.layers.globalMaxPooling1d({}), inputs: [[5, 4]] },
  // tfjs-layers' global pools have no keepdims: its pool, then a reshape to the kept axes of size 1.
  { name: "global_average_pooling2d keepdims (TF.js pool then reshape)", layer: { op: "global_average_pooling2d", keepdims: true }, tfLayer: () => thenReshape(tf.layers.globalAveragePooling2d({}), [1, 1, 3]), inputs: [[4, 5, 3]] },
  { name: "global_max_pooling2d keepdims (TF.js pool then reshape)", layer: { op: "global_max_pooling2d", keepdims: true }, tfLayer: () => thenReshape(tf.layers.globalMaxPooling2d({}), [1, 1, 3]), inputs: [[4, 5, 3]] },
  { name: "global_max_pooling1d keepdims (TF.js pool then reshape)", layer: { op: "global_max_pooling1d", keepdims: true }, tfLayer: () => thenReshape(tf.layers.globalMaxPooling1d({}), [1, 4]), inputs: [[5, 4]] },
  { name: "upsampling2d nearest [2, 3]", layer: { op: "upsampling2d", size: [2, 3] }, tfLayer: () => tf.layers.upSampling2d({ size: [2, 3] }), inputs: [[3, 4, 2]], tolerance: 1e-6 },
  { name: "upsampling2d nearest default 2", layer: { op: "upsampling2d" }, tfLayer: () => tf.layers.upSampling2d({}), inputs: [[2, 3, 2]], tolerance: 1e-6 },
  bilinear([2, 2], [3, 4, 2]),
  bilinear([3, 2], [4, 3, 1]),
  {
    name: "upsampling1d 3 (TF.js has none: its upSampling2d on [T, 1, C])",
    layer: { op: "upsampling1d", size: 3 },
    tfLayer: () => weightless(([x]) => (tf.layers.upSampling2d({ size: [3, 1] }).apply(x!.expandDims(2)) as tf.Tensor).squeeze([2])),
    inputs: [[4, 3]],
    tolerance: 1e-6,
  },
  { name: "zero_padding2d [[1, 2], [0, 3]]", layer: { op: "zero_padding2d", padding: [[1, 2], [0, 3]] }, tfLayer: () => tf.layers.zeroPadding2d({ padding: [[1, 2], [0, 3]] }), inputs: [[3, 4, 2]], tolerance: 1e-6 },
  { name: "zero_padding2d [2, 1] symmetric", layer: { op: "zero_padding2d", padding: [2, 1] }, tfLayer: () => tf.layers.zeroPadding2d({ padding: [2, 1] }), inputs: [[3, 2, 2]], tolerance: 1e-6 },
  { name: "zero_padding2d default 1", layer: { op: "zero_padding2d" }, tfLayer: () => tf.layers.zeroPadding2d({}), inputs: [[2, 2, 3]], tolerance: 1e-6 },
  {
    name: "zero_padding1d [2, 1] (TF.js has none: tf.pad)",
    layer: { op: "zero_padding1d", padding: [2, 1] },
    tfLayer: () => weightless(([x]) => tf.pad(x!, [[0, 0], [2, 1], [0, 0]])),
    inputs: [[4, 3]],
    tolerance: 1e-6,
  },
  { name: "cropping2d [[1, 0], [2, 1]]", layer: { op: "cropping2d", cropping: [[1, 0], [2, 1]] }, tfLayer: () => tf.layers.cropping2D({ cropping: [[1, 0], [2, 1]] }), inputs: [[4, 6, 2]], tolerance: 1e-6 },
  { name: "cropping2d [1, 2] symmetric", layer: { op: "cropping2d", cropping: [1, 2] }, tfLayer: () => tf.layers.cropping2D({ cropping: [1, 2] }), inputs: [[5, 6, 2]], tolerance: 1e-6 },
  {
    name: "cropping1d default [1, 1] (TF.js has none: tf.slice)",
    layer: { op: "cropping1d" },
    tfLayer: () => weightless(([x]) => tf.slice(x!, [0, 1, 0], [-1, x!.shape[1]! - 2, -1])),
    inputs: [[6, 3]],
    tolerance: 1e-6,
  },
  { name: "repeat_vector 4", layer: { op: "repeat_vector", n: 4 }, tfLayer: () => tf.layers.repeatVector({ n: 4 }), inputs: [[5]], tolerance: 1e-6 },
  { name: "permute [2, 1]", layer: { op: "permute", dims: [2, 1] }, tfLayer: () => tf.layers.permute({ dims: [2, 1] }), inputs: [[3, 5]], tolerance: 1e-6 },
  { name: "permute [3, 1, 2]", layer: { op: "permute", dims: [3, 1, 2] }, tfLayer: () => tf.layers.permute({ dims: [3, 1, 2] }), inputs: [[2, 3, 4]], tolerance: 1e-6 },
  {
    name: "time_distributed dense tanh",
    layer: { op: "time_distributed", layer: { op: "dense", units: 3, activation: "tanh" } },
    tfLayer: () => tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 3, activation: "tanh" }) }),
    inputs: [[4, 5]],
    weights: [["dense/kernel", [5, 3]], ["dense/bias", [3]]],
    weightGradients: true,
  },
  {
    name: "time_distributed dense named proj, no bias, on [T, 2, d]",
    layer: { op: "time_distributed", layer: { op: "dense", name: "proj", units: 2, use_bias: false } },
    tfLayer: () => tf.layers.timeDistributed({ layer: tf.layers.dense({ units: 2, useBias: false }) }),
    inputs: [[3, 2, 4]],
    weights: [["proj/kernel", [4, 2]]],
    weightGradients: true,
  },
  // Beyond dense: TF.js's TimeDistributed folds time into the batch, as Keras 3 does.
  {
    name: "time_distributed conv2d 3x3 same relu on [3, 5, 4, 2]",
    layer: { op: "time_distributed", layer: { op: "conv2d", filters: 3, kernel_size: 3, padding: "same", activation: "relu" } },
    tfLayer: () => tf.layers.timeDistributed({ layer: tf.layers.conv2d({ filters: 3, kernelSize: 3, padding: "same", activation: "relu" }) }),
    inputs: [[3, 5, 4, 2]],
    weights: [["conv2d/kernel", [3, 3, 2, 3]], ["conv2d/bias", [3]]],
    weightGradients: true,
  },
  {
    name: "time_distributed max_pooling2d on [2, 4, 5, 3]",
    layer: { op: "time_distributed", layer: { op: "max_pooling2d" } },
    tfLayer: () => tf.layers.timeDistributed({ layer: tf.layers.maxPooling2d({ poolSize: 2 }) }),
    inputs: [[2, 4, 5, 3]],
    tolerance: 1e-6,
  },
  {
    name: "time_distributed global_average_pooling2d on [3, 3, 4, 2]",
    layer: { op: "time_distributed", layer: { op: "global_average_pooling2d" } },
    tfLayer: () => tf.layers.timeDistributed({ layer: tf.layers.globalAveragePooling2d({}) }),
    inputs: [[3, 3, 4, 2]],
  },
  {
    name: "time_distributed flatten on [3, 2, 2, 3]",
    layer: { op: "time_distributed", layer: { op: "flatten" } },
    tfLayer: () => tf.layers.timeDistributed({ layer: tf.layers.flatten() }),
    inputs: [[3, 2, 2, 3]],
    tolerance: 1e-6,
  },
  {
    name: "time_distributed conv1d valid on [2, 6, 3]",
    layer: { op: "time_distributed", layer: { op: "conv1d", filters: 2, kernel_size: 3 } },
    tfLayer: () => tf.layers.timeDistributed({ layer: tf.layers.conv1d({ filters: 2, kernelSize: 3 }) }),
    inputs: [[2, 6, 3]],
    weights: [["conv1d/kernel", [3, 3, 2]], ["conv1d/bias", [2]]],
    weightGradients: true,
  },
];

// ---------------------------------------------------------------- the table

const ACTIVATIONS: [string, string][] = [
  ["relu", "relu"], ["sigmoid", "sigmoid"], ["tanh", "tanh"], ["softmax", "softmax"], ["gelu", "gelu"],
  ["elu", "elu"], ["softplus", "softplus"], ["silu", "swish"], ["swish", "swish"], ["linear", "linear"],
];

const MERGES: [OpName, () => tf.layers.Layer][] = [
  ["add", () => tf.layers.add()], ["multiply", () => tf.layers.multiply()], ["average", () => tf.layers.average()],
  ["maximum", () => tf.layers.maximum()], ["minimum", () => tf.layers.minimum()],
];

export const TFJS_CASES: TfjsCase[] = [
  dense(4, "relu"),
  { ...dense(3), name: "dense on a rank-3 input (last axis)", inputs: [[2, 5]] },
  {
    name: "dense without bias",
    layer: { op: "dense", units: 3, use_bias: false },
    tfLayer: () => tf.layers.dense({ units: 3, useBias: false }),
    inputs: [[4]],
    weights: [["kernel", [4, 3]]],
  },
  ...CONV.map(conv2d),
  ...DEPTHWISE.map(depthwiseConv2d),
  ...SEPARABLE.map(separableConv2d),
  ...TRANSPOSE.map(conv2dTranspose),
  {
    // deconv_output_length: (5 − 1)·2 + 3 − 2·1 + 1 = 10 rows, (4 − 1)·2 + 3 − 2 + 0 = 7 columns
    name: "conv2d_transpose 3x3 stride 2 same, output_padding [1, 0] (tf.conv2dTranspose to Keras's output shape)",
    layer: { op: "conv2d_transpose", filters: 4, kernel_size: 3, strides: 2, padding: "same", output_padding: [1, 0] },
    tfLayer: () => transposeOp([10, 7], 4, [2, 2], "same"),
    inputs: [[5, 4, 3]],
    weights: [["kernel", [3, 3, 4, 3]], ["bias", [4]]],
  },
  {
    // (5 − 1)·2 + 2 + 1 = 11 rows, (4 − 1)·3 + 2 + 2 = 13 columns
    name: "conv2d_transpose 2x2 strides [2, 3] valid, output_padding [1, 2] (tf.conv2dTranspose to Keras's output shape)",
    layer: { op: "conv2d_transpose", filters: 4, kernel_size: 2, strides: [2, 3], output_padding: [1, 2] },
    tfLayer: () => transposeOp([11, 13], 4, [2, 3], "valid"),
    inputs: [[5, 4, 3]],
    weights: [["kernel", [2, 2, 4, 3]], ["bias", [4]]],
  },
  {
    name: "depthwise_conv2d depth_multiplier 3, dilation 2 same, no bias (tf.depthwiseConv2d: the TF.js layer ignores dilation)",
    layer: { op: "depthwise_conv2d", kernel_size: 3, dilation_rate: 2, padding: "same", depth_multiplier: 3, use_bias: false },
    tfLayer: () => depthwiseOp(1, "same", 2),
    inputs: [[8, 7, 3]],
    weights: [["kernel", [3, 3, 3, 3]]],
  },
  {
    name: "depthwise_conv2d dilation [2, 1] valid (tf.depthwiseConv2d: the TF.js layer ignores dilation)",
    layer: { op: "depthwise_conv2d", kernel_size: [2, 3], dilation_rate: [2, 1], use_bias: false },
    tfLayer: () => depthwiseOp(1, "valid", [2, 1]),
    inputs: [[8, 7, 3]],
    weights: [["kernel", [2, 3, 3, 1]]],
  },
  ...POOL.flatMap((p) => [pooling("max", p), pooling("average", p)]),
  { name: "global_average_pooling2d", layer: { op: "global_average_pooling2d" }, tfLayer: () => tf.layers.globalAveragePooling2d({}), inputs: [[4, 3, 5]] },
  { name: "global_max_pooling2d", layer: { op: "global_max_pooling2d" }, tfLayer: () => tf.layers.globalMaxPooling2d({}), inputs: [[4, 3, 5]] },
  { name: "flatten", layer: { op: "flatten" }, tfLayer: () => tf.layers.flatten(), inputs: [[2, 3, 2]] },
  { name: "reshape with -1", layer: { op: "reshape", target_shape: [3, -1] }, tfLayer: () => tf.layers.reshape({ targetShape: [3, 4] }), inputs: [[2, 6]] },
  ...BN_AXES.map(([axis, perm]) => batchNorm(false, axis, perm)),
  ...BN_AXES.map(([axis, perm]) => batchNorm(true, axis, perm)),
  {
    name: "layer_normalization",
    layer: { op: "layer_normalization" },
    tfLayer: () => tf.layers.layerNormalization({ epsilon: 0.001 }),
    inputs: [[3, 5]],
    weights: [["gamma", [5]], ["beta", [5]]],
  },
  {
    name: "embedding",
    layer: { op: "embedding", input_dim: 7, output_dim: 4 },
    tfLayer: () => tf.layers.embedding({ inputDim: 7, outputDim: 4 }),
    inputs: [[5]],
    intInputs: 7,
    weights: [["embeddings", [7, 4]]],
  },
  positionEmbedding(5, 8),
  positionEmbedding(6, 6),
  ...[false, true].flatMap(recurrent),
  ...GRU,
  ...RESET_BEFORE_CASES,
  ...GO_BACKWARDS,
  ...BIDIRECTIONAL,
  ...ATTENTION,
  { name: "dropout in inference mode (the identity)", layer: { op: "dropout", rate: 0.4 }, tfLayer: () => tf.layers.dropout({ rate: 0.4 }), inputs: [[3, 4]] },
  {
    name: "dropout in training mode: TF.js's keep-mask, kept elements scaled by 1/(1 − rate)",
    layer: { op: "dropout", rate: 0.4 },
    tfLayer: () => tf.layers.dropout({ rate: 0.4 }),
    inputs: [[3, 4]],
    training: true,
    maskFromTf: true,
  },
  ...MERGES.map(([op, tfLayer]): TfjsCase => ({ name: `${op} (3 inputs)`, layer: { op }, tfLayer, inputs: [[2, 3], [2, 3], [2, 3]] })),
  { name: "subtract (TF.js has no layer: tf.sub)", layer: { op: "subtract" }, tfLayer: () => weightless(([a, b]) => tf.sub(a!, b!)), inputs: [[4], [4]], tolerance: 1e-6 },
  { name: "concatenate on the last axis", layer: { op: "concatenate" }, tfLayer: () => tf.layers.concatenate(), inputs: [[2, 3], [2, 1], [2, 2]] },
  { name: "concatenate on a middle axis", layer: { op: "concatenate", axis: 1 }, tfLayer: () => tf.layers.concatenate({ axis: 1 }), inputs: [[2, 3], [1, 3]] },
  ...ACTIVATIONS.map(([kiln, tfName]): TfjsCase => ({
    name: `activation ${kiln}${kiln === "gelu" ? " (exact)" : ""}`,
    layer: { op: "activation", activation: kiln },
    tfLayer: () => tf.layers.activation({ activation: tfName as never }),
    inputs: [[2, 5]],
  })),
  { name: "activation leaky_relu", layer: { op: "activation", activation: "leaky_relu" }, tfLayer: () => tf.layers.leakyReLU({ alpha: 0.2 }), inputs: [[6]] },
  { name: "softmax layer on the last axis", layer: { op: "softmax" }, tfLayer: () => tf.layers.softmax({ axis: -1 }), inputs: [[3, 4]] },
  // tfjs softmax supports only the last axis: transpose around it.
  { name: "softmax layer on a middle axis", layer: { op: "softmax", axis: 1 }, tfLayer: () => transposed(tf.layers.softmax({ axis: -1 }), [0, 2, 1]), inputs: [[3, 4]] },
  ...CONV1D.map(conv1d),
  causalConv1d(2, 2, 1),
  causalConv1d(3, 1, 2),
  ...POOL1D.flatMap((p) => [pooling1d("max", p), pooling1d("average", p)]),
  ...MOVEMENT,
  ...ACTIVATION_CASES,
  ...NORMALIZATION_CASES,
  ...MERGE_CASES,
  ...NOISE_CASES,
  ...PREPROCESSING_CASES,
];
