/**
 * Shape-preserving activation layers: `activation` (any activation by name) and `softmax` on an
 * axis (normalized to a non-negative per-example index). No weights.
 */
import type { OpDef } from "./op.js";
import { activationAttr, axisAttr, normActivation, normAxis } from "./attrs.js";
import { lowerActivation, lowerSoftmax } from "../../passes/lower/layers.js";

export const activation: OpDef = {
  lower: lowerActivation,
  name: "activation",
  description: "Applies an activation function elementwise; same shape.",
  minInputs: 1,
  maxInputs: 1,
  attrs: { activation: activationAttr() },
  required: ["activation"],
  normalize: (raw) => ({ activation: normActivation(raw.activation) }),
  shape: ([x]) => [...x],
  weights: () => [],
};

export const softmax: OpDef = {
  lower: lowerSoftmax,
  name: "softmax",
  description: "Softmax along one axis; same shape.",
  minInputs: 1,
  maxInputs: 1,
  attrs: { axis: axisAttr("Axis the softmax normalizes over.") },
  normalize(raw, ctx) {
    const axis = normAxis((raw.axis ?? -1) as number, ctx.inputShapes[0].length, ctx);
    return axis === undefined ? undefined : { axis };
  },
  shape: ([x]) => [...x],
  weights: () => [],
};
