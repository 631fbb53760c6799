/**
 * The spec's activation functions on reference tensors (Keras semantics): leaky_relu slope 0.2,
 * elu alpha 1, exact-erf gelu, silu = x·sigmoid(x), softmax over the last axis.
 */

import { Tensor, elu, geluOp, leakyRelu, mul, relu, sigmoid, softmax, softplus, tanh } from "./tensor.js";

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
};

export const ACTIVATION_NAMES = Object.keys(ACTIVATIONS);

export function activate(name: string, x: Tensor): Tensor {
  const f = ACTIVATIONS[name];
  if (!f) throw new Error(`unknown activation "${name}" (known: ${ACTIVATION_NAMES.join(", ")})`);
  return f(x);
}
