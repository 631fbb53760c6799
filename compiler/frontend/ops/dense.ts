/**
 * dense: a matrix product on the last axis ([..., d] -> [..., units]), as Keras Dense does on
 * inputs of any rank ≥ 1. Weights kernel [d, units] and bias [units].
 */
import type { OpDef } from "./op.js";
import { activationAttr, boolAttr, fmtShape, initAttr, initializer, normActivation, sizeAttr, withDefaults } from "./attrs.js";
import { lowerDense } from "../../passes/lower/layers.js";

export const dense: OpDef = {
  lower: lowerDense,
  name: "dense",
  description: "Fully connected layer on the last axis: [..., d] -> [..., units].",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    units: sizeAttr("Number of output units."),
    activation: activationAttr(),
    use_bias: boolAttr("Whether the layer adds a bias.", true),
    kernel_initializer: initAttr("glorot_uniform", "kernel"),
    bias_initializer: initAttr("zeros", "bias"),
  },
  required: ["units"],
  normalize(raw) {
    const a = withDefaults(this.attrs, raw);
    a.activation = normActivation(a.activation);
    return a;
  },
  shape([x], attrs, ctx) {
    if (x.length === 0) {
      ctx.error(`dense expects an input with at least 1 axis [..., d]; input "${ctx.inputNames[0]}" has shape ${fmtShape(x)} (a scalar per example)`);
      return undefined;
    }
    return [...x.slice(0, -1), attrs.units as number];
  },
  weights([x], attrs) {
    const kernel = [x[x.length - 1], attrs.units as number];
    const w = [{ name: "kernel", shape: kernel, initializer: initializer(attrs.kernel_initializer, kernel) }];
    if (attrs.use_bias) w.push({ name: "bias", shape: [kernel[1]], initializer: initializer(attrs.bias_initializer, [kernel[1]]) });
    return w;
  },
};
