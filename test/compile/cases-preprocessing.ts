/**
 * Compiled cases of the preprocessing layers rescaling and normalization; part of CASES
 * (cases.ts). Scalars become constants of the elementwise expression, lists a `constant`
 * primitive read per column; normalization's statistics are attributes or (null there) its
 * non-trainable weights `mean` and `variance`, read per column, through a ⌊e/inner⌋ mod n map
 * (kept axes together but not last) or after moving the kept axes last (kept axes apart).
 */
import type { OpCase } from "./cases.js";

const g = (name: string, inputs: any[], layers: any[]) => ({ format: "kiln.graph/v2", name, seed: 7, inputs, layers });
const x = (shape: number[], name = "x") => ({ name, shape });

export const PREPROCESSING_CASES: OpCase[] = [
  { name: "rescaling scale 1/127.5 offset -1 (MobileNetV3's)", graph: g("t", [x([3, 4])], [{ name: "r", op: "rescaling", scale: 1 / 127.5, offset: -1 }]) },
  { name: "rescaling per-channel scale and offset", graph: g("t", [x([2, 2, 3])], [{ name: "r", op: "rescaling", scale: [0.5, -2, 3], offset: [0.1, 0.2, -0.3] }]) },
  { name: "rescaling per-channel scale, offset a list of one", graph: g("t", [x([3, 4])], [{ name: "r", op: "rescaling", scale: [1.5, 0.25, -1, 2], offset: [0.75] }]) },
  { name: "normalization adapted weights, axis -1", graph: g("t", [x([3, 4])], [{ name: "n", op: "normalization" }]) },
  { name: "normalization mean/variance per channel as attributes", graph: g("t", [x([2, 2, 3])], [{ name: "n", op: "normalization", mean: [0.485, 0.456, 0.406], variance: [0.052441, 0.050176, 0.050625] }]) },
  { name: "normalization axis null, mean/variance numbers", graph: g("t", [x([3, 4])], [{ name: "n", op: "normalization", axis: null, mean: 0.3, variance: 2 }]) },
  { name: "normalization axis null, adapted weights of shape []", graph: g("t", [x([5])], [{ name: "n", op: "normalization", axis: null }]) },
  { name: "normalization axis [1, 2] of [3, 4, 2] (kept axes not last)", graph: g("t", [x([3, 4, 2])], [{ name: "n", op: "normalization", axis: [1, 2] }]) },
  { name: "normalization axis [3, 1] of [3, 4, 2] (kept axes apart)", graph: g("t", [x([3, 4, 2])], [{ name: "n", op: "normalization", axis: [3, 1] }]) },
  { name: "normalization axis [1, 2] with a mean list on the last kept axis", graph: g("t", [x([3, 4, 2])], [{ name: "n", op: "normalization", axis: [1, 2], mean: [0.5, -0.25, 1, 0], variance: [0.5, 2, 1, 4] }]) },
  { name: "normalization invert, adapted weights", graph: g("t", [x([2, 3])], [{ name: "n", op: "normalization", invert: true }]) },
  { name: "normalization invert, per-channel attributes", graph: g("t", [x([2, 3])], [{ name: "n", op: "normalization", invert: true, mean: [1, 2, 3], variance: [4, 0.25, 1] }]) },
];
