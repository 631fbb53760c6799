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
  // Other axes (Keras 3): moved last by a permuting copy and back (none when they are last already).
  { name: "layer_normalization axis 1 of [3, 6] (not the last)", graph: g("t", [x([3, 6])], [tanh, { name: "ln", op: "layer_normalization", axis: 1 }]) },
  { name: "layer_normalization axis [1, 2] of [3, 4] (every axis of the example)", graph: g("t", [x([3, 4])], [{ name: "ln", op: "layer_normalization", axis: [1, 2] }]) },
  { name: "layer_normalization axis [-1, -3] of [2, 3, 4] (gamma [4, 2], axes apart)", graph: g("t", [x([2, 3, 4])], [{ name: "ln", op: "layer_normalization", axis: [-1, -3] }]) },
  { name: "layer_normalization axis 2 of [3, 4, 2], center=false", graph: g("t", [x([3, 4, 2])], [{ name: "ln", op: "layer_normalization", axis: 2, center: false }]) },
  { name: "group_normalization axis 1 groups 2 of [4, 3] (channels first)", graph: g("t", [x([4, 3])], [{ name: "gn", op: "group_normalization", axis: 1, groups: 2 }]) },
  { name: "group_normalization axis -2 groups 3 of [2, 6, 2]", graph: g("t", [x([2, 6, 2])], [{ name: "gn", op: "group_normalization", axis: -2, groups: 3 }]) },
  { name: "group_normalization groups 2 on [3, 2, 6]", graph: g("t", [x([3, 2, 6])], [{ name: "gn", op: "group_normalization", groups: 2 }]) },
  { name: "group_normalization groups 3 on [4, 6], epsilon 0.01", graph: g("t", [x([4, 6])], [{ name: "gn", op: "group_normalization", groups: 3, epsilon: 0.01 }]) },
  { name: "group_normalization groups 1 on [2, 2, 4]", graph: g("t", [x([2, 2, 4])], [{ name: "gn", op: "group_normalization", groups: 1 }]) },
  { name: "group_normalization groups -1 (instance) on [3, 3, 4]", graph: g("t", [x([3, 3, 4])], [{ name: "gn", op: "group_normalization", groups: -1 }]) },
  { name: "group_normalization groups 4 on [8] (no positions)", graph: g("t", [x([8])], [{ name: "gn", op: "group_normalization", groups: 4 }]) },
  { name: "group_normalization center=false scale=false", graph: g("t", [x([3, 4])], [{ name: "gn", op: "group_normalization", groups: 2, center: false, scale: false }]) },
];
