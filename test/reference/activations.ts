/**
 * The spec's activation functions on reference tensors (Keras 3 semantics): leaky_relu slope 0.2,
 * elu alpha 1, exact-erf gelu, silu = x·sigmoid(x), softmax and log_softmax over the last axis,
 * relu6 = min(max(x, 0), 6), hard_sigmoid = relu6(x + 3)/6 (hard_sigmoid_legacy: Keras 2 and
 * TF.js's clip(0.2·x + 0.5, 0, 1)), hard_silu = x·hard_sigmoid(x), mish = x·tanh(softplus(x)),
 * selu with TensorFlow's constants, exponential = e^x. Written as scalar functions with their own
 * derivatives (not built from the compiler's expressions).
 */

import { Tensor, elu, exp, geluOp, leakyRelu, logSoftmax, mul, relu, sigmoid, softmax, softplus, tanh, unary } from "./tensor.js";

const SELU_ALPHA = 1.6732632423543772848170429916717;
const SELU_SCALE = 1.0507009873554804934193349852946;

const hardSigmoid = (v: number) => Math.min(Math.max(v / 6 + 0.5, 0), 1);
const hardSigmoidSlope = (v: number) => (v > -3 && v < 3 ? 1 / 6 : 0);
const softplusScalar = (v: number) => Math.max(v, 0) + Math.log1p(Math.exp(-Math.abs(v)));

/** Keras 3 ReLU(max_value, negative_slope, threshold) on one value, and its derivative away from the kinks. */
export function reluScalar(v: number, maxValue: number | null, slope: number, threshold: number): number {
  let p = v > threshold ? v : 0;
  if (maxValue !== null) p = Math.min(Math.max(p, 0), maxValue);
  return p - slope * Math.max(threshold - v, 0);
}
export function reluSlope(v: number, maxValue: number | null, slope: number, threshold: number): number {
  let d = v > threshold ? 1 : 0;
  if (maxValue !== null && (v <= 0 || v >= maxValue)) d = 0;
  return d + (v < threshold ? slope : 0);
}

const ACTIVATIONS: Record<string, (x: Tensor) => Tensor> = {
  linear: (x) => x,
  relu,
  sigmoid,
  tanh,
  softmax: (x) => softmax(x, x.shape.length - 1),
  gelu: geluOp,
  leaky_relu: (x) => leakyRelu(x, 0.2),
  elu,
  silu: (x) => mul(x, sigmoid(x)),
  swish: (x) => mul(x, sigmoid(x)),
  softplus,
  relu6: (x) => unary("relu6", x, (v) => Math.min(Math.max(v, 0), 6), (v) => (v > 0 && v < 6 ? 1 : 0)),
  hard_sigmoid: (x) => unary("hard_sigmoid", x, hardSigmoid, hardSigmoidSlope),
  hard_sigmoid_legacy: (x) => unary("hard_sigmoid_legacy", x, (v) => Math.min(Math.max(0.2 * v + 0.5, 0), 1), (v) => (v > -2.5 && v < 2.5 ? 0.2 : 0)),
  hard_silu: (x) => unary("hard_silu", x, (v) => v * hardSigmoid(v), (v) => hardSigmoid(v) + v * hardSigmoidSlope(v)),
  hard_swish: (x) => ACTIVATIONS.hard_silu!(x),
  mish: (x) => unary("mish", x, (v) => v * Math.tanh(softplusScalar(v)), (v) => {
    const t = Math.tanh(softplusScalar(v));
    return t + v * (1 - t * t) / (1 + Math.exp(-v));
  }),
  selu: (x) => unary("selu", x, (v) => SELU_SCALE * (v > 0 ? v : SELU_ALPHA * Math.expm1(v)), (v) => SELU_SCALE * (v > 0 ? 1 : SELU_ALPHA * Math.exp(v))),
  exponential: exp,
  log_softmax: (x) => logSoftmax(x, x.shape.length - 1),
};

export const ACTIVATION_NAMES = Object.keys(ACTIVATIONS);

export function activate(name: string, x: Tensor): Tensor {
  const f = ACTIVATIONS[name];
  if (!f) throw new Error(`unknown activation "${name}" (known: ${ACTIVATION_NAMES.join(", ")})`);
  return f(x);
}
