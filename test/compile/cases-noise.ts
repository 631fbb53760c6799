/**
 * Compiled cases of the noise layers; part of CASES (cases.ts). Predict is the identity, which
 * the forward suite checks; their training steps draw new noise every step, so the gradient and
 * finite-difference suites leave them out (training-graph.ts: RANDOM_IN_TRAINING) and
 * test/training/noise-layers.test.ts recomputes the noise and checks those steps.
 */
import type { OpCase } from "./cases.js";

const g = (name: string, inputs: any[], layers: any[]) => ({ format: "kiln.graph/v2", name, seed: 7, inputs, layers });
const x = (shape: number[], name = "x") => ({ name, shape });

export const NOISE_CASES: OpCase[] = [
  { name: "spatial_dropout1d", graph: g("t", [x([5, 4])], [{ name: "d", op: "dense", units: 6 }, { name: "s", op: "spatial_dropout1d", rate: 0.4 }]) },
  { name: "spatial_dropout2d", graph: g("t", [x([3, 4, 2])], [{ name: "c", op: "conv2d", filters: 5, kernel_size: 2 }, { name: "s", op: "spatial_dropout2d", rate: 0.3 }]) },
  { name: "gaussian_noise", graph: g("t", [x([6])], [{ name: "d", op: "dense", units: 4 }, { name: "n", op: "gaussian_noise", stddev: 0.5 }]) },
  { name: "time_distributed dropout (the whole tensor's mask)", graph: g("t", [x([3, 6])], [{ name: "d", op: "dense", units: 4 }, { name: "td", op: "time_distributed", layer: { op: "dropout", rate: 0.5 } }]) },
  { name: "gaussian_dropout", graph: g("t", [x([6])], [{ name: "d", op: "dense", units: 4 }, { name: "n", op: "gaussian_dropout", rate: 0.3 }]) },
];
