/**
 * TF.js cross-checks of the merges with Keras 3 broadcasting (TF.js's merge layers broadcast the
 * same way: aligned on the last axis, a lower-rank input expanded after the batch axis) and of
 * dot (tf.layers.dot, axes counted with the batch axis as 0, as kiln.graph/v2 counts them).
 */
import * as tf from "@tensorflow/tfjs";
import type { OpName } from "../../compiler/frontend/graph-types.js";
import type { TfjsCase, TfLayer } from "./tfjs-cases.js";

/** TF.js has no subtract layer export in every version: tf.sub broadcasts as numpy does once the ranks agree. */
const subtract: TfLayer = {
  apply: (x) => {
    const [a, b] = x as tf.Tensor[];
    const rank = Math.max(a!.rank, b!.rank);
    const up = (t: tf.Tensor) => (t.rank === rank ? t : t.reshape([t.shape[0]!, ...new Array<number>(rank - t.rank).fill(1), ...t.shape.slice(1)]));
    return tf.sub(up(a!), up(b!));
  },
  setWeights() {},
  getWeights: () => [],
};

const MERGES: [OpName, () => TfLayer][] = [
  ["add", () => tf.layers.add()], ["multiply", () => tf.layers.multiply()], ["average", () => tf.layers.average()],
  ["maximum", () => tf.layers.maximum()], ["minimum", () => tf.layers.minimum()], ["subtract", () => subtract],
];

/** Keras's rank expansion, tf.broadcastTo the common shape, then a left fold of f. */
function broadcastThen(f: (a: tf.Tensor, b: tf.Tensor) => tf.Tensor): TfLayer {
  return {
    apply: (x) => {
      const xs = x as tf.Tensor[];
      const rank = Math.max(...xs.map((t) => t.rank));
      const up = xs.map((t) => (t.rank === rank ? t : t.reshape([t.shape[0]!, ...new Array<number>(rank - t.rank).fill(1), ...t.shape.slice(1)])));
      const shape = up.map((t) => t.shape).reduce((a, b) => a.map((d, i) => Math.max(d!, b[i]!)));
      return up.map((t) => tf.broadcastTo(t, shape as number[])).reduce((a, b) => f(a, b));
    },
    setWeights() {},
    getWeights: () => [],
  };
}

const SHAPES: [string, number[][]][] = [
  ["[H, W, C] by [1, 1, C] (the squeeze-and-excitation gate)", [[3, 4, 5], [1, 1, 5]]],
  ["[H, W, C] by [C] (lower rank: expanded after the batch axis)", [[3, 4, 5], [5]]],
  ["[4, 1] and [1, 3] (both broadcast)", [[4, 1], [1, 3]]],
  ["[2, 3, 4], [2, 1, 4] and [4] (three inputs)", [[2, 3, 4], [2, 1, 4], [4]]],
];

export const MERGE_CASES: TfjsCase[] = [
  ...MERGES.flatMap(([op, layer]) => SHAPES.filter(([, shapes]) => op !== "subtract" || shapes.length === 2).map(([label, shapes]): TfjsCase => ({
    name: `${op} broadcasting ${label}${op === "subtract" ? " (tf.sub after Keras's rank expansion)" : ""}`,
    layer: { op },
    tfLayer: layer,
    // TF.js's Maximum/Minimum gradients do not reduce over broadcast axes (tfjs 4.22 throws a shape
    // error): their gradient is taken of the inputs broadcast first (tf.broadcastTo sums back).
    ...(op === "maximum" || op === "minimum" ? { tfGrad: () => broadcastThen(op === "maximum" ? tf.maximum : tf.minimum) } : {}),
    inputs: shapes,
  }))),
  { name: "dot axes 1 of two vectors [6] (→ [1])", layer: { op: "dot", axes: 1 }, tfLayer: () => tf.layers.dot({ axes: 1 }), inputs: [[6], [6]] },
  { name: "dot axes 1 normalize (cosine similarity)", layer: { op: "dot", axes: 1, normalize: true }, tfLayer: () => tf.layers.dot({ axes: 1, normalize: true }), inputs: [[6], [6]] },
  { name: "dot axes [2, 2] of [3, 4] and [5, 4] (→ [3, 5])", layer: { op: "dot", axes: [2, 2] }, tfLayer: () => tf.layers.dot({ axes: [2, 2] }), inputs: [[3, 4], [5, 4]] },
  { name: "dot axes [1, 2] of [3, 4] and [5, 3] (→ [4, 5])", layer: { op: "dot", axes: [1, 2] }, tfLayer: () => tf.layers.dot({ axes: [1, 2] }), inputs: [[3, 4], [5, 3]] },
  { name: "dot axes 1 of [3, 4] and [3, 2] (→ [4, 2])", layer: { op: "dot", axes: 1 }, tfLayer: () => tf.layers.dot({ axes: 1 }), inputs: [[3, 4], [3, 2]] },
  { name: "dot axes -1 normalize of [3, 4] and [2, 4]", layer: { op: "dot", axes: -1, normalize: true }, tfLayer: () => tf.layers.dot({ axes: -1, normalize: true }), inputs: [[3, 4], [2, 4]] },
  { name: "dot axes [1, 1] normalize of [3, 4] and [3, 2] (normalized along a non-last axis)", layer: { op: "dot", axes: [1, 1], normalize: true }, tfLayer: () => tf.layers.dot({ axes: [1, 1], normalize: true }), inputs: [[3, 4], [3, 2]] },
  { name: "dot axes [1, 2] of [4] and [3, 4] (→ [3])", layer: { op: "dot", axes: [1, 2] }, tfLayer: () => tf.layers.dot({ axes: [1, 2] }), inputs: [[4], [3, 4]] },
];
