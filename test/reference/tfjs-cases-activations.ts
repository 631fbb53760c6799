/**
 * TF.js cross-checks of the Keras activation layers (relu, leaky_relu, elu, prelu) and of the
 * activations added with them (relu6, hard_sigmoid, hard_sigmoid_legacy, hard_silu, mish, selu,
 * exponential, log_softmax). TF.js's `hardSigmoid` is the Keras 2 formula (kiln's
 * hard_sigmoid_legacy); Keras 3's hard_sigmoid, hard_silu, exponential and the ReLU layer's
 * negative_slope/threshold (TF.js's ReLU has max_value only) are composed from tf ops, and the
 * case names say so.
 */
import * as tf from "@tensorflow/tfjs";
import type { TfjsCase, TfLayer } from "./tfjs-cases.js";
import { detached } from "./tfjs-compose.js";

/** A weightless TF.js computation as a layer. */
function weightless(f: (x: tf.Tensor) => tf.Tensor): TfLayer {
  return { apply: (x) => f(Array.isArray(x) ? x[0]! : x), setWeights() {}, getWeights: () => [] };
}

const keras3HardSigmoid = (x: tf.Tensor) => tf.div(tf.relu6(tf.add(x, 3)), 6);

/** Keras 3 activations.relu(x, negative_slope, max_value, threshold) in tf ops. */
function keras3Relu(maxValue: number | null, slope: number, threshold: number) {
  return (x: tf.Tensor) => {
    let p = threshold !== 0 ? tf.mul(x, tf.cast(tf.greater(detached(x), threshold), "float32")) : tf.relu(x);
    if (maxValue !== null) p = tf.clipByValue(p, 0, maxValue);
    return slope !== 0 ? tf.sub(p, tf.mul(slope, tf.relu(tf.sub(threshold, x)))) : p;
  };
}

const activation = (kiln: string, tfName: string): TfjsCase => ({
  name: `activation ${kiln} (TF.js ${tfName})`,
  layer: { op: "activation", activation: kiln },
  tfLayer: () => tf.layers.activation({ activation: tfName as never }),
  inputs: [[2, 5]],
});

const composed = (kiln: string, f: (x: tf.Tensor) => tf.Tensor, how: string): TfjsCase => ({
  name: `activation ${kiln} (TF.js has none: ${how})`,
  layer: { op: "activation", activation: kiln },
  tfLayer: () => weightless(f),
  inputs: [[2, 5]],
});

export const ACTIVATION_CASES: TfjsCase[] = [
  activation("relu6", "relu6"),
  activation("selu", "selu"),
  activation("mish", "mish"),
  activation("log_softmax", "logSoftmax"),
  activation("hard_sigmoid_legacy", "hardSigmoid"),
  // Inputs lie in [−2, 2]; scaled by 3 they reach both clipped ends of the hard sigmoids.
  { ...composed("hard_sigmoid", keras3HardSigmoid, "relu6(x + 3)/6 in tf ops"), name: "dense with activation hard_sigmoid, outputs past both clipped ends (TF.js has none: relu6(x + 3)/6 in tf ops)", layer: { op: "dense", units: 6, activation: "hard_sigmoid", use_bias: false }, tfLayer: () => denseThen(keras3HardSigmoid), inputs: [[5]], weights: [["kernel", [5, 6]]] },
  composed("hard_sigmoid", keras3HardSigmoid, "relu6(x + 3)/6 in tf ops"),
  composed("hard_silu", (x) => tf.mul(x, keras3HardSigmoid(x)), "x·relu6(x + 3)/6 in tf ops"),
  composed("hard_swish", (x) => tf.mul(x, keras3HardSigmoid(x)), "the alias of hard_silu, in tf ops"),
  composed("exponential", (x) => tf.exp(x), "tf.exp"),
  { name: "relu layer (defaults)", layer: { op: "relu" }, tfLayer: () => tf.layers.reLU(), inputs: [[3, 4]] },
  { name: "relu layer max_value 6 (ReLU6)", layer: { op: "relu", max_value: 6 }, tfLayer: () => tf.layers.reLU({ maxValue: 6 }), inputs: [[3, 4]] },
  { name: "relu layer max_value 0.5", layer: { op: "relu", max_value: 0.5 }, tfLayer: () => tf.layers.reLU({ maxValue: 0.5 }), inputs: [[3, 4]] },
  // TF.js has no gradient for Greater, which thresholdedReLU uses: its gradient is taken of Keras 3's relu in tf ops.
  { name: "relu layer threshold 0.5 (TF.js thresholdedReLU)", layer: { op: "relu", threshold: 0.5 }, tfLayer: () => tf.layers.thresholdedReLU({ theta: 0.5 }), tfGrad: () => weightless(keras3Relu(null, 0, 0.5)), inputs: [[3, 4]] },
  {
    name: "relu layer max_value 1.5, negative_slope 0.1, threshold -0.5 (Keras 3 relu in tf ops: TF.js's ReLU has max_value only)",
    layer: { op: "relu", max_value: 1.5, negative_slope: 0.1, threshold: -0.5 },
    tfLayer: () => weightless(keras3Relu(1.5, 0.1, -0.5)),
    inputs: [[3, 4]],
  },
  {
    name: "relu layer negative_slope 0.25, threshold 0.3 (Keras 3 relu in tf ops)",
    layer: { op: "relu", negative_slope: 0.25, threshold: 0.3 },
    tfLayer: () => weightless(keras3Relu(null, 0.25, 0.3)),
    inputs: [[3, 4]],
  },
  { name: "leaky_relu layer (default negative_slope 0.3)", layer: { op: "leaky_relu" }, tfLayer: () => tf.layers.leakyReLU({ alpha: 0.3 }), inputs: [[6]] },
  { name: "leaky_relu layer negative_slope 0.05", layer: { op: "leaky_relu", negative_slope: 0.05 }, tfLayer: () => tf.layers.leakyReLU({ alpha: 0.05 }), inputs: [[6]] },
  { name: "elu layer (default alpha 1)", layer: { op: "elu" }, tfLayer: () => tf.layers.elu(), inputs: [[2, 3]] },
  {
    name: "elu layer alpha 0.4 (TF.js's ELU refuses alpha ≠ 1: x or alpha·(e^x − 1) in tf ops)",
    layer: { op: "elu", alpha: 0.4 },
    tfLayer: () => weightless((x) => tf.where(tf.greater(detached(x), 0), x, tf.mul(0.4, tf.expm1(x)))),
    inputs: [[2, 3]],
  },
  { name: "prelu (alpha per element)", layer: { op: "prelu" }, tfLayer: () => tf.layers.prelu(), inputs: [[3, 4]], weights: [["alpha", [3, 4]]] },
  { name: "prelu shared_axes [1, 2] (one alpha per channel of an image)", layer: { op: "prelu", shared_axes: [1, 2] }, tfLayer: () => tf.layers.prelu({ sharedAxes: [1, 2] }), inputs: [[3, 4, 2]], weights: [["alpha", [1, 1, 2]]] },
  { name: "prelu shared_axes [2] (a middle axis)", layer: { op: "prelu", shared_axes: [2] }, tfLayer: () => tf.layers.prelu({ sharedAxes: [2] }), inputs: [[3, 4, 2]], weights: [["alpha", [3, 1, 2]]] },
  { name: "prelu shared_axes [-1] (the last axis)", layer: { op: "prelu", shared_axes: [-1] }, tfLayer: () => tf.layers.prelu({ sharedAxes: [2] }), inputs: [[3, 4]], weights: [["alpha", [3, 1]]] },
];

/** A bias-free TF.js dense layer followed by f (scales the inputs past the hard sigmoid's clipped ends). */
function denseThen(f: (x: tf.Tensor) => tf.Tensor): TfLayer {
  const inner = tf.layers.dense({ units: 6, useBias: false });
  return {
    apply: (x, kw) => f(inner.apply(x as tf.Tensor, kw) as tf.Tensor),
    setWeights: (ws) => inner.setWeights(ws),
    getWeights: () => inner.getWeights(),
  };
}
