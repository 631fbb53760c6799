/**
 * TF.js cross-checks of batch and layer normalization without `center` / `scale` (no beta /
 * gamma weight at all, as Keras stores them) and of group normalization, which TF.js lacks: Keras
 * 3's GroupNormalization arithmetic is written with tf ops (tf.moments over the positions and each
 * group's channels).
 */
import * as tf from "@tensorflow/tfjs";
import type { TfjsCase, TfLayer } from "./tfjs-cases.js";
import { composedLayer } from "./tfjs-compose.js";

/** Keras 3 GroupNormalization.call (channels last) in tf ops; weights [gamma?, beta?], both trainable. */
function tfGroupNorm(groups: number, epsilon: number, scale: boolean, center: boolean): TfLayer {
  const trainable = (scale ? 1 : 0) + (center ? 1 : 0);
  return composedLayer((input, w) => tf.tidy(() => {
    const x = input as tf.Tensor;
    const c = x.shape.at(-1)!;
    const grouped = x.reshape([x.shape[0]!, -1, groups, c / groups]);
    const { mean, variance } = tf.moments(grouped, [1, 3], true);
    let y = tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, epsilon))).reshape(x.shape);
    if (scale) y = tf.mul(y, w[0]!);
    if (center) y = tf.add(y, w[scale ? 1 : 0]!);
    return y;
  }), trainable);
}

/**
 * Normalization by given statistics in tf ops, weights [gamma?, beta?, …]: TF.js's batchNorm op has
 * no gradient without gamma or beta (tfjs 4.22 throws reading its missing input), so the gradient
 * cases without them differentiate this. `stats` gives mean and variance from x and the weights.
 */
function tfNormalized(scale: boolean, center: boolean, epsilon: number, stats: (x: tf.Tensor, w: tf.Tensor[]) => { mean: tf.Tensor; variance: tf.Tensor }, hasWeights: boolean): TfLayer {
  return composedLayer((input, w) => {
    const x = input as tf.Tensor;
    const { mean, variance } = stats(x, w);
    let y = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, epsilon)));
    if (scale) y = tf.mul(y, w[0]!);
    if (center) y = tf.add(y, w[scale ? 1 : 0]!);
    return y;
  }, (scale ? 1 : 0) + (center ? 1 : 0), hasWeights);
}

/**
 * Keras 3 GroupNormalization.call on another channel axis (full-tensor number `axis`), in tf ops
 * as Keras writes it: the groups axis inserted before the channel axis by a reshape in place,
 * moments over every axis but the batch and the groups, gamma and beta broadcast along `axis`.
 */
function tfGroupNormOnAxis(groups: number, axis: number): TfLayer {
  return composedLayer((input, w) => tf.tidy(() => {
    const x = input as tf.Tensor;
    const shape = [...x.shape];
    const c = shape[axis]!;
    const grouped = x.reshape([...shape.slice(0, axis), groups, c / groups, ...shape.slice(axis + 1)]);
    const reduce = [...Array(grouped.rank).keys()].filter((i) => i !== 0 && i !== axis);
    const { mean, variance } = tf.moments(grouped, reduce, true);
    const y = tf.div(tf.sub(grouped, mean), tf.sqrt(tf.add(variance, 0.001))).reshape(shape);
    const along = shape.map((d, i) => (i === axis ? d : 1));
    return tf.add(tf.mul(y, w[0]!.reshape(along)), w[1]!.reshape(along));
  }), 2);
}

const groupNorm = (label: string, shape: number[], groups: number, extra: Record<string, unknown>, scale = true, center = true): TfjsCase => {
  const c = shape.at(-1)!;
  const g = groups === -1 ? c : groups;
  return {
    name: `group_normalization ${label} (TF.js has none: Keras 3's arithmetic in tf ops)`,
    layer: { op: "group_normalization", groups, ...extra },
    tfLayer: () => tfGroupNorm(g, (extra.epsilon as number | undefined) ?? 0.001, scale, center),
    inputs: [shape],
    weights: [...(scale ? [["gamma", [c]]] : []), ...(center ? [["beta", [c]]] : [])] as [string, number[]][],
  };
};

/**
 * Training-mode batch normalization over the last axis in tf ops: TF.js's own layer throws without
 * gamma or beta in training mode (tfjs 4.22: "Cannot read properties of undefined (reading
 * 'read')"). Weights [gamma?, beta?, moving_mean, moving_variance]; the moving ones are unused.
 */
function tfBatchNormTraining(scale: boolean, center: boolean): TfLayer {
  let w: tf.Tensor[] = [];
  return {
    apply: (input) => tf.tidy(() => {
      const x = input as tf.Tensor;
      const { mean, variance } = tf.moments(x, [...Array(x.rank - 1).keys()]);
      let y = tf.div(tf.sub(x, mean), tf.sqrt(tf.add(variance, 0.001)));
      if (scale && w.length) y = tf.mul(y, w[0]!);
      if (center && w.length) y = tf.add(y, w[scale ? 1 : 0]!);
      return y;
    }),
    setWeights: (ws) => void (w = ws.map((t) => t.clone())),
    getWeights: () => w,
  };
}

export const NORMALIZATION_CASES: TfjsCase[] = [
  ...[[false, true], [true, false], [false, false]].flatMap(([center, scale]) => [false, true].map((training): TfjsCase => ({
    name: `batch_normalization center=${center} scale=${scale}, ${training ? "training mode (in tf ops: TF.js's layer throws there without gamma or beta)" : "inference mode"}`,
    layer: { op: "batch_normalization", momentum: 0.9, center, scale },
    tfLayer: () => (training ? tfBatchNormTraining(scale!, center!) : tf.layers.batchNormalization({ momentum: 0.9, center, scale })),
    tfGrad: () => tfNormalized(scale!, center!, 0.001, (_x, w) => ({ mean: w.at(-2)!, variance: w.at(-1)! }), true),
    inputs: [[4, 3]],
    weights: [...(scale ? ["gamma"] : []), ...(center ? ["beta"] : []), "moving_mean", "moving_variance"].map((w) => [w, [3]] as [string, number[]]),
    positive: ["moving_variance"],
    training,
  }))),
  ...[[false, true], [true, false], [false, false]].map(([center, scale]): TfjsCase => ({
    name: `layer_normalization center=${center} scale=${scale}`,
    layer: { op: "layer_normalization", center, scale },
    tfLayer: () => tf.layers.layerNormalization({ epsilon: 0.001, center, scale }),
    tfGrad: () => tfNormalized(scale!, center!, 0.001, (x) => tf.moments(x, [x.rank - 1], true), !!(scale || center)),
    inputs: [[3, 5]],
    weights: [...(scale ? ["gamma"] : []), ...(center ? ["beta"] : [])].map((w) => [w, [5]] as [string, number[]]),
  })),
  // Keras 3 / TF.js LayerNormalization with other axes: gamma and beta of the axes' sizes in the order listed.
  ...([[1, [3, 5]], [[1, 2], [3, 4]], [[-1, -3], [2, 3, 4]], [2, [3, 4, 2]]] as [number | number[], number[]][]).map(([axis, shape]): TfjsCase => {
    const axes = (Array.isArray(axis) ? axis : [axis]).map((a) => (a < 0 ? a + shape.length + 1 : a));
    const param = axes.map((a) => shape[a - 1]!);
    return {
      name: `layer_normalization axis ${JSON.stringify(axis)} on [${shape.join(", ")}]`,
      layer: { op: "layer_normalization", axis },
      tfLayer: () => tf.layers.layerNormalization({ epsilon: 0.001, axis }),
      inputs: [shape],
      weights: [["gamma", param], ["beta", param]],
      weightGradients: true,
    };
  }),
  {
    name: "group_normalization axis 1 groups 2 on [4, 3, 2] (channels first; Keras 3's arithmetic in tf ops)",
    layer: { op: "group_normalization", axis: 1, groups: 2 },
    tfLayer: () => tfGroupNormOnAxis(2, 1),
    inputs: [[4, 3, 2]],
    weights: [["gamma", [4]], ["beta", [4]]],
  },
  {
    name: "group_normalization axis -2 groups 3 on [2, 6, 2] (Keras 3's arithmetic in tf ops)",
    layer: { op: "group_normalization", axis: -2, groups: 3 },
    tfLayer: () => tfGroupNormOnAxis(3, 2),
    inputs: [[2, 6, 2]],
    weights: [["gamma", [6]], ["beta", [6]]],
  },
  groupNorm("groups 2 on [4, 3, 6]", [4, 3, 6], 2, {}),
  groupNorm("groups 3 on [5, 6], epsilon 0.01", [5, 6], 3, { epsilon: 0.01 }),
  groupNorm("groups 1 (layer norm over the whole example) on [2, 2, 4]", [2, 2, 4], 1, {}),
  groupNorm("groups -1 (one per channel: instance normalization) on [3, 3, 4]", [3, 3, 4], -1, {}),
  groupNorm("groups 4 on [8] (no positions)", [8], 4, {}),
  groupNorm("groups 2, center=false", [3, 4], 2, { center: false }, true, false),
  groupNorm("groups 2, scale=false", [3, 4], 2, { scale: false }, false, true),
];
