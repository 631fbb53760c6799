/**
 * TF.js cross-checks of the preprocessing layers. Rescaling is tfjs-layers' own layer (its
 * tf.mul / tf.add broadcast a per-channel list against the last axis, as numpy does in Keras).
 * tfjs-layers has no Normalization layer: those cases compute Keras 3's Normalization.call in tf
 * ops ((x − mean) / max(√variance, 1e-7), or mean + x·max(√variance, 1e-7) inverted), from the
 * adapted weights or from mean/variance placed on the last kept axis, and their names say so.
 */
import * as tf from "@tensorflow/tfjs";
import type { TfjsCase, TfLayer } from "./tfjs-cases.js";
import { composedLayer } from "./tfjs-compose.js";

/** Keras 3 Normalization.call in tf ops; `keep` are full-tensor axes (batch = 0), `given` the argument form. */
function tfNormalization(keep: number[], invert: boolean, given?: { mean: number[]; variance: number[] }): TfLayer {
  return composedLayer((input, w) => tf.tidy(() => {
    const x = input as tf.Tensor;
    const broadcast = x.shape.map((d, i) => (keep.includes(i) ? d : 1));
    const last = keep.at(-1)!;
    const [mean, variance] = given
      ? [given.mean, given.variance].map((v) => tf.tensor(v, x.shape.map((_, i) => (i === last ? v.length : 1))))
      : [w[0]!.reshape(broadcast), w[1]!.reshape(broadcast)];
    const spread = tf.maximum(tf.sqrt(variance!), 1e-7);
    return invert ? tf.add(mean!, tf.mul(x, spread)) : tf.div(tf.sub(x, mean!), spread);
  }), 0, !given);
}

export const PREPROCESSING_CASES: TfjsCase[] = [
  { name: "rescaling scale 1/255", layer: { op: "rescaling", scale: 1 / 255 }, tfLayer: () => tf.layers.rescaling({ scale: 1 / 255 }), inputs: [[3, 4]] },
  { name: "rescaling scale 1/127.5 offset -1", layer: { op: "rescaling", scale: 1 / 127.5, offset: -1 }, tfLayer: () => tf.layers.rescaling({ scale: 1 / 127.5, offset: -1 }), inputs: [[2, 2, 3]] },
  {
    name: "rescaling per-channel scale and offset (tfjs-layers' Rescaling with lists)",
    layer: { op: "rescaling", scale: [0.5, -2, 3], offset: [0.1, 0.2, -0.3] },
    // RescalingArgs types scale and offset as numbers; the layer passes them to tf.mul / tf.add, which take lists.
    tfLayer: () => tf.layers.rescaling({ scale: [0.5, -2, 3] as unknown as number, offset: [0.1, 0.2, -0.3] as unknown as number }),
    inputs: [[2, 2, 3]],
  },
  {
    name: "normalization adapted weights, axis -1 (TF.js has no Normalization layer: Keras 3's call in tf ops)",
    layer: { op: "normalization" },
    tfLayer: () => tfNormalization([2], false),
    inputs: [[3, 4]],
    weights: [["mean", [4]], ["variance", [4]]],
    positive: ["variance"],
  },
  {
    name: "normalization adapted weights, axis [1, 2] of [3, 4, 2] (tf ops)",
    layer: { op: "normalization", axis: [1, 2] },
    tfLayer: () => tfNormalization([1, 2], false),
    inputs: [[3, 4, 2]],
    weights: [["mean", [3, 4]], ["variance", [3, 4]]],
    positive: ["variance"],
  },
  {
    name: "normalization ImageNet mean/variance attributes (tf ops)",
    layer: { op: "normalization", mean: [0.485, 0.456, 0.406], variance: [0.052441, 0.050176, 0.050625] },
    tfLayer: () => tfNormalization([3], false, { mean: [0.485, 0.456, 0.406], variance: [0.052441, 0.050176, 0.050625] }),
    inputs: [[2, 2, 3]],
  },
  {
    name: "normalization invert, adapted weights (tf ops)",
    layer: { op: "normalization", invert: true },
    tfLayer: () => tfNormalization([2], true),
    inputs: [[2, 3]],
    weights: [["mean", [3]], ["variance", [3]]],
    positive: ["variance"],
  },
];
