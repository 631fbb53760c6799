/**
 * Regularization layers that act in training steps only and are the identity in predict,
 * evaluate and validation (Keras `training=True` only): `spatial_dropout1d` / `spatial_dropout2d`
 * (dropout of whole channels: one keep-mask value per example and channel, Keras noise_shape
 * (batch, 1, C) / (batch, 1, 1, C)), `gaussian_noise` (x + N(0, stddev²)) and `gaussian_dropout`
 * (x · N(1, rate/(1 − rate))). Masks and noise come from the module's seeded counter-based RNG,
 * one stream per random layer (emit/dropout.ts), like dropout's.
 */
import type { OpDef } from "./op.js";
import type { Layer } from "../graph-types.js";
import { expectRank, withDefaults } from "./attrs.js";
import { FULL, X } from "../../ir/expr.js";
import { numel, type Tensor } from "../../ir/ir.js";
import { broadcastTo, type Lowering } from "../../passes/lower/layers.js";
import type { Builder } from "../../passes/lower/builder.js";

const rateAttr = (what: string) => ({ title: "a number in [0, 1)", description: what, type: "number", minimum: 0, exclusiveMaximum: 1 });

/** Is this a training step (the only place these layers do anything)? Frozen or not, as dropout. */
const active = (b: Builder): boolean => b.mode === "train";

/** x · mask, the keep-mask drawn per example and channel and repeated over the positions. */
const lowerSpatialDropout: Lowering = (b, layer, [x]) => {
  const rate = (layer.attrs as { rate: number }).rate;
  if (!active(b) || rate === 0) return b.alias(x!, x!.shape);
  const c = x!.shape.at(-1)!;
  const mask = b.act([c]);
  b.mod.node(b.prog, "dropout_mask", [b.state.rng!], [mask], { n: { batch: c }, rate, stream: b.state.dropoutStreams++ }, layer.name);
  const full = broadcastTo(b, mask, x!.shape);
  return b.ew(X.mul(X.in(0), X.in(1)), [[x!, FULL], [full, FULL]], b.act(x!.shape));
};

function spatialDropout(name: "spatial_dropout1d" | "spatial_dropout2d", layout: string, rank: number): OpDef {
  return {
    lower: lowerSpatialDropout,
    name,
    description: `Drops whole channels of ${layout} inputs in training steps (kept ones scaled by 1/(1-rate)); identity in predict/evaluate.`,
    minInputs: 1,
    maxInputs: 1,
    attrs: { rate: rateAttr("Fraction of the channels to drop (per example).") },
    required: ["rate"],
    normalize: (raw) => ({ rate: raw.rate }),
    shape([x], _a, ctx) {
      return expectRank(ctx, name, layout, rank) ? [...x!] : undefined;
    },
    weights: () => [],
  };
}

export const spatial_dropout1d = spatialDropout("spatial_dropout1d", "[T, C]", 2);
export const spatial_dropout2d = spatialDropout("spatial_dropout2d", "[H, W, C]", 3);

/** Normal noise of x's size (per example), drawn for this step: mean + stddev·z. */
function noise(b: Builder, layer: Layer, x: Tensor, mean: number, stddev: number): Tensor {
  const out = b.act(x.shape);
  b.mod.node(b.prog, "random_normal", [b.state.rng!], [out], { n: { batch: numel(x.shape) }, mean, stddev, stream: b.state.dropoutStreams++ }, layer.name);
  return out;
}

export const gaussian_noise: OpDef = {
  lower: (b, layer, [x]) => {
    const stddev = (layer.attrs as { stddev: number }).stddev;
    if (!active(b) || stddev === 0) return b.alias(x!, x!.shape);
    return b.ew(X.add(X.in(0), X.in(1)), [[x!, FULL], [noise(b, layer, x!, 0, stddev), FULL]], b.act(x!.shape));
  },
  name: "gaussian_noise",
  description: "Adds normal noise of standard deviation `stddev` in training steps; identity in predict/evaluate.",
  minInputs: 1,
  maxInputs: 1,
  attrs: { stddev: { title: "a number ≥ 0", description: "Standard deviation of the added noise.", type: "number", minimum: 0 } },
  required: ["stddev"],
  normalize(raw) { return withDefaults(this.attrs, raw); },
  shape: ([x]) => [...x!],
  weights: () => [],
};

export const gaussian_dropout: OpDef = {
  lower: (b, layer, [x]) => {
    const rate = (layer.attrs as { rate: number }).rate;
    if (!active(b) || rate === 0) return b.alias(x!, x!.shape);
    return b.ew(X.mul(X.in(0), X.in(1)), [[x!, FULL], [noise(b, layer, x!, 1, Math.sqrt(rate / (1 - rate))), FULL]], b.act(x!.shape));
  },
  name: "gaussian_dropout",
  description: "Multiplies by normal noise of mean 1 and standard deviation sqrt(rate/(1-rate)) in training steps; identity in predict/evaluate.",
  minInputs: 1,
  maxInputs: 1,
  attrs: { rate: rateAttr("Drop probability the noise's variance rate/(1-rate) stands for.") },
  required: ["rate"],
  normalize(raw) { return withDefaults(this.attrs, raw); },
  shape: ([x]) => [...x!],
  weights: () => [],
};
