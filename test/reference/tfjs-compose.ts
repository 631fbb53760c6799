/**
 * Helpers for TF.js cross-check cases written as compositions of tf ops (tfjs-cases-*.ts); kept
 * apart from tfjs-cases.ts, which imports those case files.
 */
import * as tf from "@tensorflow/tfjs";
import type { TfLayer } from "./tfjs-cases.js";

/**
 * A TF.js computation of x and weights as a layer whose first `trainable` weights become
 * tf.Variables exposed like a TF.js layer's trainableWeights (so their gradients can be taken).
 */
export function composedLayer(f: (x: tf.Tensor | tf.Tensor[], w: tf.Tensor[]) => tf.Tensor, trainable = 0, hasWeights = trainable > 0): TfLayer & { trainableWeights: { read(): tf.Variable; name: string }[] } {
  let w: tf.Tensor[] = [];
  const layer = {
    trainableWeights: [] as { read(): tf.Variable; name: string }[],
    apply: (x: tf.Tensor | tf.Tensor[]) => (w.length === 0 && layer.expectsWeights ? (Array.isArray(x) ? x[0]! : x) : f(x, w)),
    expectsWeights: hasWeights,
    setWeights(ws: tf.Tensor[]) {
      w = ws.map((t, i) => (i < trainable ? tf.variable(t.clone()) : t.clone()));
      layer.trainableWeights = w.slice(0, trainable).map((v) => ({ read: () => v as tf.Variable, name: (v as tf.Variable).name }));
    },
    getWeights: () => w,
  };
  return layer;
}

/** x with the tape cut (a fresh tensor of the same values): masks computed from it need no gradient of Greater. */
export const detached = (x: tf.Tensor): tf.Tensor => tf.tensor(x.dataSync(), x.shape, x.dtype);
