/**
 * batch_normalization, layer_normalization and group_normalization. All keep the shape and own
 * per-channel gamma and beta of [C] (C = the size of the normalized axis), each left out when
 * `scale` / `center` is false, as Keras does; batch_normalization also owns its moving statistics,
 * which never train. layer_normalization's `axis` may list several axes (Keras 3): gamma and beta
 * then have those axes' sizes, in the order listed.
 */
import type { JsonSchema, OpContext, OpDef, WeightDecl } from "./op.js";
import type { Attrs } from "../graph-types.js";
import { axisAttr, boolAttr, fmtShape, initAttr, initializer, kerasAxis, normAxis, withDefaults } from "./attrs.js";
import { lowerBatchNorm, lowerGroupNorm, lowerLayerNorm } from "../../passes/lower/layers.js";

/** Keras `center` / `scale`: false creates no beta / gamma weight at all (nothing to store or train). */
const centerScaleAttrs = {
  center: boolAttr("Add the learned offset beta (false: no beta weight).", true),
  scale: boolAttr("Multiply by the learned scale gamma (false: no gamma weight).", true),
};

/** gamma and beta of [C], as `scale` and `center` ask. */
function affineWeights(c: number[], a: Attrs): WeightDecl[] {
  const w: WeightDecl[] = [];
  if (a.scale !== false) w.push({ name: "gamma", shape: c, initializer: initializer(a.gamma_initializer, c) });
  if (a.center !== false) w.push({ name: "beta", shape: c, initializer: initializer(a.beta_initializer, c) });
  return w;
}

/**
 * layer_normalization's `axis`: an int or a list of distinct axes (Keras 3), normalized to the
 * per-example index, or to a list of them (in the order given) when the list has several.
 */
function normalizedAxes(a: Attrs, ctx: OpContext): number | number[] | undefined {
  const rank = ctx.inputShapes[0].length;
  const given = Array.isArray(a.axis) ? (a.axis as number[]) : [a.axis as number];
  const axes: number[] = [];
  for (const [i, v] of given.entries()) {
    const axis = normAxis(v, rank, ctx, Array.isArray(a.axis) ? `axis/${i}` : "axis");
    if (axis === undefined) return undefined;
    if (axes.includes(axis)) {
      ctx.error(`axis ${JSON.stringify(a.axis)} names axis ${kerasAxis(axis)} twice (input shape ${fmtShape(ctx.inputShapes[0])})`, "axis");
      return undefined;
    }
    axes.push(axis);
  }
  return axes.length === 1 ? axes[0]! : axes;
}

/** The per-example axes a layer_normalization normalizes over, in the order given. */
export const layerNormAxes = (a: Attrs): number[] => (Array.isArray(a.axis) ? (a.axis as number[]) : [a.axis as number]);

/** `axis` of layer_normalization: an axis or a list of them. */
function axesAttr(description: string): JsonSchema {
  const s = axisAttr(description);
  Object.assign(s, {
    title: "an integer axis or a list of distinct ones",
    type: ["integer", "array"],
    items: { title: "an integer axis", type: "integer", minimum: s.minimum, maximum: s.maximum },
    minItems: 1,
  });
  return s;
}

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
    ...centerScaleAttrs,
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
      ...affineWeights(c, a),
      { name: "moving_mean", shape: c, initializer: initializer(a.moving_mean_initializer, c), trainable: false },
      { name: "moving_variance", shape: c, initializer: initializer(a.moving_variance_initializer, c), trainable: false },
    ];
    return w;
  },
};

export const layer_normalization: OpDef = {
  lower: lowerLayerNorm,
  name: "layer_normalization",
  description: "Layer normalization of each example over `axis` (the last axis by default, or a list of axes).",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    axis: axesAttr("The normalized axis, or a list of axes normalized together (gamma and beta have their sizes, in the order listed)."),
    epsilon: epsilonAttr,
    ...centerScaleAttrs,
    gamma_initializer: initAttr("ones", "scale gamma"),
    beta_initializer: initAttr("zeros", "offset beta"),
  },
  normalize(raw, ctx) {
    const a = withDefaults(this.attrs, raw);
    const axis = normalizedAxes(a, ctx);
    if (axis === undefined) return undefined;
    a.axis = axis;
    return a;
  },
  shape: ([x]) => [...x],
  weights([x], a) {
    return affineWeights(layerNormAxes(a).map((i) => x[i]!), a);
  },
};

export const group_normalization: OpDef = {
  lower: lowerGroupNorm,
  name: "group_normalization",
  description: "Group normalization (Keras 3): per example, statistics over every position and the channels of each of `groups` channel groups.",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    groups: {
      title: "a positive integer or -1",
      description: "Number of channel groups; must divide the channel count (-1: one group per channel, instance normalization).",
      type: "integer",
      minimum: -1,
      maximum: 2147483647,
      not: { const: 0 },
      default: 32,
    },
    axis: axisAttr("The channel axis, split into the groups."),
    epsilon: epsilonAttr,
    ...centerScaleAttrs,
    gamma_initializer: initAttr("ones", "scale gamma"),
    beta_initializer: initAttr("zeros", "offset beta"),
  },
  normalize(raw, ctx) {
    const a = withDefaults(this.attrs, raw);
    const x = ctx.inputShapes[0];
    const axis = normAxis(a.axis as number, x.length, ctx);
    if (axis === undefined) return undefined;
    a.axis = axis;
    const c = x[a.axis as number];
    if (a.groups === -1) a.groups = c;
    const groups = a.groups as number;
    if (groups > c || c % groups !== 0) {
      ctx.error(`group_normalization needs groups to divide the channel count: input "${ctx.inputNames[0]}" has ${c} channels (shape ${fmtShape(x)}), groups is ${groups}`, "groups");
      return undefined;
    }
    return a;
  },
  shape: ([x]) => [...x],
  weights([x], a) {
    return affineWeights([x[a.axis as number]], a);
  },
};
