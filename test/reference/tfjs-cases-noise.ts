/**
 * TF.js cross-checks of the noise layers. Spatial dropout in training mode takes its keep-mask
 * from TF.js's output (non-zero = kept), so the case checks the 1/(1 − rate) scale and that TF.js
 * drops whole channels as the reference requires (it fails on a mask that varies within a
 * channel); TF.js has no spatialDropout2d layer, so that case runs tf.dropout with Keras's noise
 * shape [batch, 1, 1, C]. The Gaussian layers are checked in inference mode (the identity): their
 * training-mode noise is kiln's own stream, checked in test/training/noise-layers.test.ts.
 */
import * as tf from "@tensorflow/tfjs";
import type { TfjsCase, TfLayer } from "./tfjs-cases.js";

/** tf.dropout with a noise shape, in training mode only (as a Keras layer). */
function tfSpatialDropout2d(rate: number): TfLayer {
  return {
    apply: (x, kw) => {
      const t = x as tf.Tensor;
      return kw?.training ? tf.dropout(t, rate, [t.shape[0]!, 1, 1, t.shape[3]!], 11) : t;
    },
    setWeights() {},
    getWeights: () => [],
  };
}

export const NOISE_CASES: TfjsCase[] = [
  { name: "spatial_dropout1d in inference mode (the identity)", layer: { op: "spatial_dropout1d", rate: 0.4 }, tfLayer: () => tf.layers.spatialDropout1d({ rate: 0.4 }), inputs: [[5, 6]] },
  {
    name: "spatial_dropout1d in training mode: TF.js's channel keep-mask, kept channels scaled by 1/(1 − rate)",
    layer: { op: "spatial_dropout1d", rate: 0.4 },
    tfLayer: () => tf.layers.spatialDropout1d({ rate: 0.4, seed: 3 }),
    inputs: [[5, 6]],
    training: true,
    maskFromTf: true,
  },
  { name: "spatial_dropout2d in inference mode (TF.js has no layer: the identity)", layer: { op: "spatial_dropout2d", rate: 0.3 }, tfLayer: () => tfSpatialDropout2d(0.3), inputs: [[3, 4, 6]] },
  {
    name: "spatial_dropout2d in training mode (TF.js has no layer: tf.dropout with noise shape [batch, 1, 1, C])",
    layer: { op: "spatial_dropout2d", rate: 0.5 },
    tfLayer: () => tfSpatialDropout2d(0.5),
    inputs: [[3, 4, 6]],
    training: true,
    maskFromTf: true,
  },
  { name: "gaussian_noise in inference mode (the identity)", layer: { op: "gaussian_noise", stddev: 0.3 }, tfLayer: () => tf.layers.gaussianNoise({ stddev: 0.3 }), inputs: [[3, 4]] },
  { name: "gaussian_dropout in inference mode (the identity)", layer: { op: "gaussian_dropout", rate: 0.3 }, tfLayer: () => tf.layers.gaussianDropout({ rate: 0.3 }), inputs: [[3, 4]] },
];
