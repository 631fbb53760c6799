/**
 * Compiled cases of batch and layer normalization without `center` / `scale` and of group
 * normalization; part of CASES (cases.ts).
 */
import type { OpCase } from "./cases.js";

const g = (name: string, inputs: any[], layers: any[]) => ({ format: "kiln.graph/v2", name, seed: 7, inputs, layers });
const x = (shape: number[], name = "x") => ({ name, shape });

/**
 * A tanh in front of batch normalization: the input projection's bias (gradient.test's
 * withInputProjections) then has a gradient that is not zero in exact arithmetic, which its f32
 * rounding noise would be measured against otherwise (without beta, nothing else sets the scale).
 */
const tanh = { name: "t", op: "activation", activation: "tanh" };

export const NORMALIZATION_CASES: OpCase[] = [
  { name: "batch_normalization center=false", graph: g("t", [x([3, 4])], [tanh, { name: "bn", op: "batch_normalization", center: false }]) },
  { name: "batch_normalization scale=false", graph: g("t", [x([3, 4])], [tanh, { name: "bn", op: "batch_normalization", scale: false }]) },
  // Only moving statistics: the train step still normalizes with batch statistics (no trainable weight of its own).
  { name: "batch_normalization center=false scale=false axis 1", graph: g("t", [x([3, 4])], [{ name: "bn", op: "batch_normalization", axis: 1, center: false, scale: false }]) },
  { name: "layer_normalization center=false", graph: g("t", [x([3, 6])], [{ name: "ln", op: "layer_normalization", center: false }]) },
  { name: "layer_normalization scale=false", graph: g("t", [x([3, 6])], [{ name: "ln", op: "layer_normalization", scale: false }]) },
  { name: "layer_normalization center=false scale=false", graph: g("t", [x([3, 6])], [{ name: "ln", op: "layer_normalization", center: false, scale: false }]) },
  { name: "group_normalization groups 2 on [3, 2, 6]", graph: g("t", [x([3, 2, 6])], [{ name: "gn", op: "group_normalization", groups: 2 }]) },
  { name: "group_normalization groups 3 on [4, 6], epsilon 0.01", graph: g("t", [x([4, 6])], [{ name: "gn", op: "group_normalization", groups: 3, epsilon: 0.01 }]) },
  { name: "group_normalization groups 1 on [2, 2, 4]", graph: g("t", [x([2, 2, 4])], [{ name: "gn", op: "group_normalization", groups: 1 }]) },
  { name: "group_normalization groups -1 (instance) on [3, 3, 4]", graph: g("t", [x([3, 3, 4])], [{ name: "gn", op: "group_normalization", groups: -1 }]) },
  { name: "group_normalization groups 4 on [8] (no positions)", graph: g("t", [x([8])], [{ name: "gn", op: "group_normalization", groups: 4 }]) },
  { name: "group_normalization center=false scale=false", graph: g("t", [x([3, 4])], [{ name: "gn", op: "group_normalization", groups: 2, center: false, scale: false }]) },
];
