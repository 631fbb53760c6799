/**
 * Compiled cases of the Keras activation layers (relu, leaky_relu, elu, prelu) and of the
 * activations added with them; part of CASES (cases.ts), so the forward, gradient and
 * finite-difference suites run them. Inputs come through a dense layer, so values spread over
 * both sides of each kink (which random values almost never hit exactly).
 */
import type { OpCase } from "./cases.js";

const g = (name: string, inputs: any[], layers: any[]) => ({ format: "kiln.graph/v2", name, seed: 7, inputs, layers });
const x = (shape: number[], name = "x") => ({ name, shape });
const afterDense = (layer: object, units = 6) => [{ name: "d", op: "dense", units }, { name: "a", ...layer }];

export const ACTIVATION_CASES: OpCase[] = [
  ...["relu6", "hard_sigmoid", "hard_sigmoid_legacy", "hard_silu", "hard_swish", "mish", "selu", "exponential", "log_softmax"].map((a) => ({
    name: `activation ${a}`, graph: g("t", [x([2, 5])], afterDense({ op: "activation", activation: a })),
  })),
  { name: "dense with activation log_softmax", graph: g("t", [x([3, 4])], [{ name: "d", op: "dense", units: 7, activation: "log_softmax" }]) },
  { name: "conv2d with activation hard_silu", graph: g("t", [x([5, 5, 2])], [{ name: "c", op: "conv2d", filters: 3, kernel_size: 3, activation: "hard_silu" }]) },
  { name: "relu layer", graph: g("t", [x([2, 5])], afterDense({ op: "relu" })) },
  { name: "relu layer max_value 6 (ReLU6)", graph: g("t", [x([2, 5])], afterDense({ op: "relu", max_value: 6 })) },
  { name: "relu layer max_value 0.5, negative_slope 0.1, threshold -0.5", graph: g("t", [x([2, 5])], afterDense({ op: "relu", max_value: 0.5, negative_slope: 0.1, threshold: -0.5 })) },
  { name: "relu layer negative_slope 0.25, threshold 0.3", graph: g("t", [x([2, 5])], afterDense({ op: "relu", negative_slope: 0.25, threshold: 0.3 })) },
  { name: "leaky_relu layer", graph: g("t", [x([2, 5])], afterDense({ op: "leaky_relu" })) },
  { name: "leaky_relu layer negative_slope 0.05", graph: g("t", [x([2, 5])], afterDense({ op: "leaky_relu", negative_slope: 0.05 })) },
  { name: "elu layer", graph: g("t", [x([2, 5])], afterDense({ op: "elu" })) },
  { name: "elu layer alpha 0.4", graph: g("t", [x([2, 5])], afterDense({ op: "elu", alpha: 0.4 })) },
  { name: "prelu (alpha per element)", graph: g("t", [x([2, 5])], afterDense({ op: "prelu" })) },
  { name: "prelu shared_axes [1, 2] (alpha per channel)", graph: g("t", [x([3, 4, 2])], afterDense({ op: "prelu", shared_axes: [1, 2] }, 3)) },
  { name: "prelu shared_axes [2] (a middle axis: moved first by a copy)", graph: g("t", [x([3, 4, 2])], afterDense({ op: "prelu", shared_axes: [2] }, 3)) },
  // Rank 5 with shared axes among unshared ones: a 6-axis permuting copy (refused at check time before).
  { name: "prelu shared_axes [2, 4] on [2, 3, 2, 3, 2] (6-axis copy)", graph: g("t", [x([2, 3, 2, 3, 2])], afterDense({ op: "prelu", shared_axes: [2, 4] }, 2)) },
  { name: "prelu shared_axes [1, 2, 3] (one alpha)", graph: g("t", [x([3, 4, 2])], afterDense({ op: "prelu", shared_axes: [1, 2, 3] }, 3)) },
];
