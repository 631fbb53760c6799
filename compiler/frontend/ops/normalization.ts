/**
 * batch_normalization and layer_normalization. Both keep the shape and own per-channel gamma and
 * beta of [C] (C = the size of the normalized axis); batch_normalization also owns its moving
 * statistics, which never train. layer_normalization normalizes over the last axis only (spec §2.1).
 */
import type { OpDef, WeightDecl } from "./op.js";
import { axisAttr, fmtShape, initAttr, initializer, kerasAxis, normAxis, withDefaults } from "./attrs.js";
import { lowerBatchNorm, lowerLayerNorm } from "../../passes/lower/layers.js";

const epsilonAttr = {
  title: "a number > 0",
  description: "Small constant added to the variance inside the square root.",
  type: "number",
  exclusiveMinimum: 0,
  default: 0.001,
};

export const batch_normalization: OpDef = {
  lower: lowerBatchNorm,
  name: "batch_normalization",
  description: "Batch normalization over every axis but `axis` (batch statistics in training, moving ones otherwise).",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    axis: axisAttr("The feature (channel) axis that keeps its own statistics."),
    momentum: {
      title: "a number in [0, 1]",
      description: "Moving statistics: moving = momentum·moving + (1−momentum)·batch.",
      type: "number",
      minimum: 0,
      maximum: 1,
      default: 0.99,
    },
    epsilon: epsilonAttr,
    gamma_initializer: initAttr("ones", "scale gamma"),
    beta_initializer: initAttr("zeros", "offset beta"),
    moving_mean_initializer: initAttr("zeros", "moving mean"),
    moving_variance_initializer: initAttr("ones", "moving variance"),
  },
  normalize(raw, ctx) {
    const a = withDefaults(this.attrs, raw);
    const axis = normAxis(a.axis as number, ctx.inputShapes[0].length, ctx);
    if (axis === undefined) return undefined;
    a.axis = axis;
    return a;
  },
  shape: ([x]) => [...x],
  weights([x], a) {
    const c = [x[a.axis as number]];
    const w: WeightDecl[] = [
      { name: "gamma", shape: c, initializer: initializer(a.gamma_initializer, c) },
      { name: "beta", shape: c, initializer: initializer(a.beta_initializer, c) },
      { name: "moving_mean", shape: c, initializer: initializer(a.moving_mean_initializer, c), trainable: false },
      { name: "moving_variance", shape: c, initializer: initializer(a.moving_variance_initializer, c), trainable: false },
    ];
    return w;
  },
};

export const layer_normalization: OpDef = {
  lower: lowerLayerNorm,
  name: "layer_normalization",
  description: "Layer normalization of each example over the last axis.",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    axis: axisAttr("The normalized axis; must be the last one."),
    epsilon: epsilonAttr,
    gamma_initializer: initAttr("ones", "scale gamma"),
    beta_initializer: initAttr("zeros", "offset beta"),
  },
  normalize(raw, ctx) {
    const a = withDefaults(this.attrs, raw);
    const x = ctx.inputShapes[0];
    const axis = normAxis(a.axis as number, x.length, ctx);
    if (axis === undefined) return undefined;
    if (axis !== x.length - 1) {
      ctx.error(`layer_normalization normalizes over the last axis only (-1 or ${kerasAxis(x.length - 1)} for input shape ${fmtShape(x)}, counting the batch axis as 0); got axis ${a.axis as number}`, "axis");
      return undefined;
    }
    a.axis = axis;
    return a;
  },
  shape: ([x]) => [...x],
  weights([x], a) {
    const c = [x[a.axis as number]];
    return [
      { name: "gamma", shape: c, initializer: initializer(a.gamma_initializer, c) },
      { name: "beta", shape: c, initializer: initializer(a.beta_initializer, c) },
    ];
  },
};
