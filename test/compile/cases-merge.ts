/**
 * Compiled cases of the merges with Keras 3 broadcasting (a broadcast input is materialized by a
 * strided copy whose gradient sums over the repeats) and of dot; part of CASES (cases.ts).
 */
import type { OpCase } from "./cases.js";

const g = (name: string, inputs: any[], layers: any[]) => ({ format: "kiln.graph/v2", name, seed: 7, inputs, layers });
const x = (shape: number[], name = "x") => ({ name, shape });

export const MERGE_CASES: OpCase[] = [
  ...["add", "multiply", "average", "maximum", "minimum", "subtract"].map((op) => ({
    name: `merge ${op} broadcasting [3, 4, 5] by [1, 1, 5]`,
    graph: g("t", [x([3, 4, 5], "a"), x([1, 1, 5], "b")], [{ name: "m", op, inputs: ["a", "b"] }]),
  })),
  { name: "merge multiply broadcasting by a lower rank [5] (the SE gate after global pooling)", graph: g("t", [x([3, 4, 5], "a"), x([5], "b")], [{ name: "m", op: "multiply", inputs: ["a", "b"] }]) },
  { name: "merge add broadcasting [4, 1] and [1, 3] (both broadcast)", graph: g("t", [x([4, 1], "a"), x([1, 3], "b")], [{ name: "m", op: "add", inputs: ["a", "b"] }]) },
  { name: "merge maximum broadcasting [2, 3, 4], [2, 1, 4] and [4]", graph: g("t", [x([2, 3, 4], "a"), x([2, 1, 4], "b"), x([4], "c")], [{ name: "m", op: "maximum", inputs: ["a", "b", "c"] }]) },
  { name: "merge average broadcasting [3, 1, 2] by [1, 4, 1] (alternating runs)", graph: g("t", [x([3, 1, 2], "a"), x([1, 4, 1], "b")], [{ name: "m", op: "average", inputs: ["a", "b"] }]) },
  // More runs than the strided copy's old 5-loop limit (batch included): refused at check time before.
  { name: "merge add broadcasting [2, 3, 2, 3, 2] by [1, 3, 1, 3, 1] (5 alternating runs)", graph: g("t", [x([2, 3, 2, 3, 2], "a"), x([1, 3, 1, 3, 1], "b")], [{ name: "m", op: "add", inputs: ["a", "b"] }]) },
  { name: "merge multiply broadcasting [2, 2, 2, 2, 2, 3] by [2, 1, 2, 1, 2, 1] (6 runs, rank 6)", graph: g("t", [x([2, 2, 2, 2, 2, 3], "a"), x([2, 1, 2, 1, 2, 1], "b")], [{ name: "m", op: "multiply", inputs: ["a", "b"] }]) },
  { name: "dot axes 1 of [6] and [6]", graph: g("t", [x([6], "a"), x([6], "b")], [{ name: "m", op: "dot", axes: 1, inputs: ["a", "b"] }]) },
  { name: "dot axes 1 normalize of [6] and [6]", graph: g("t", [x([6], "a"), x([6], "b")], [{ name: "m", op: "dot", axes: 1, normalize: true, inputs: ["a", "b"] }]) },
  { name: "dot axes [2, 2] of [3, 4] and [5, 4]", graph: g("t", [x([3, 4], "a"), x([5, 4], "b")], [{ name: "m", op: "dot", axes: [2, 2], inputs: ["a", "b"] }]) },
  { name: "dot axes [1, 2] of [3, 4] and [5, 3]", graph: g("t", [x([3, 4], "a"), x([5, 3], "b")], [{ name: "m", op: "dot", axes: [1, 2], inputs: ["a", "b"] }]) },
  { name: "dot axes 1 of [3, 4] and [3, 2]", graph: g("t", [x([3, 4], "a"), x([3, 2], "b")], [{ name: "m", op: "dot", axes: 1, inputs: ["a", "b"] }]) },
  { name: "dot axes [1, 1] normalize of [3, 4] and [3, 2]", graph: g("t", [x([3, 4], "a"), x([3, 2], "b")], [{ name: "m", op: "dot", axes: [1, 1], normalize: true, inputs: ["a", "b"] }]) },
  { name: "dot axes [1, 2] of [4] and [3, 4]", graph: g("t", [x([4], "a"), x([3, 4], "b")], [{ name: "m", op: "dot", axes: [1, 2], inputs: ["a", "b"] }]) },
];
