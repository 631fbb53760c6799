/**
 * conv2d: channels-last 2-D convolution with TensorFlow's `same`/`valid` padding arithmetic
 * (spec §2 "Padding"). Weights kernel [kh, kw, C, filters] (Keras fans kh·kw·C, kh·kw·filters).
 */
import type { Attrs } from "../graph-types.js";
import type { OpContext, OpDef } from "./op.js";
import {
  activationAttr, boolAttr, expectRank, fmtDims, initAttr, initializer, normActivation, pair, pairAttr, single, singleAttr, sizeAttr, withDefaults,
} from "./attrs.js";
import { lowerConv1d, lowerConv2d } from "../../passes/lower/layers.js";

export const PADDING_ATTR = {
  title: 'one of "valid", "same"',
  description: '"valid": no padding; "same": ceil(in/stride) outputs, the odd padding pixel after (TensorFlow rule).',
  enum: ["valid", "same"],
  default: "valid",
};

/** Output length along one axis, or undefined when a `valid` window does not fit. */
export function windowOut(input: number, k: number, stride: number, dilation: number, padding: string): number | undefined {
  // `causal` (1-D only) pads dilation·(k−1) before: the same count as `same`.
  if (padding === "same" || padding === "causal") return Math.ceil(input / stride);
  const out = Math.floor((input - dilation * (k - 1) - 1) / stride) + 1;
  return out >= 1 ? out : undefined;
}

/** strides > 1 together with dilation > 1 is rejected, as Keras does. */
export function checkStridesDilation(a: Attrs, ctx: OpContext): boolean {
  const s = a.strides as number[];
  const d = a.dilation_rate as number[];
  if ((s[0] > 1 || s[1] > 1) && (d[0] > 1 || d[1] > 1)) {
    ctx.error(`strides > 1 cannot be combined with dilation_rate > 1; got strides ${s.join("x")} and dilation_rate ${d.join("x")}`, "dilation_rate");
    return false;
  }
  return true;
}

/** Spatial output [H', W'] of a windowed op; reports when a `valid` window does not fit. */
export function windowShape(
  x: readonly number[], k: number[], s: number[], d: number[], padding: string, what: string, attr: string, ctx: OpContext,
): [number, number] | undefined {
  const h = windowOut(x[0], k[0], s[0], d[0], padding);
  const w = windowOut(x[1], k[1], s[1], d[1], padding);
  if (h !== undefined && w !== undefined) return [h, w];
  const dil = d[0] > 1 || d[1] > 1 ? ` with dilation ${d.join("x")}` : "";
  ctx.error(`a ${k.join("x")} ${what}${dil} with padding "${padding}" does not fit input ${fmtDims(x)}`, attr);
  return undefined;
}

export const conv2d: OpDef = {
  lower: lowerConv2d,
  name: "conv2d",
  description: "2-D convolution, channels last: [H, W, C] -> [H', W', filters].",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    filters: sizeAttr("Number of output channels."),
    kernel_size: pairAttr("Kernel height and width: an int (square) or [kh, kw]."),
    strides: pairAttr("Stride: an int or [sh, sw].", 1),
    padding: PADDING_ATTR,
    dilation_rate: pairAttr("Dilation: an int or [dh, dw]; cannot be combined with strides > 1.", 1),
    activation: activationAttr(),
    use_bias: boolAttr("Whether the layer adds a bias.", true),
    kernel_initializer: initAttr("glorot_uniform", "kernel"),
    bias_initializer: initAttr("zeros", "bias"),
  },
  required: ["filters", "kernel_size"],
  normalize(raw, ctx) {
    const a = withDefaults(this.attrs, raw);
    a.kernel_size = pair(a.kernel_size);
    a.strides = pair(a.strides);
    a.dilation_rate = pair(a.dilation_rate);
    a.activation = normActivation(a.activation);
    return checkStridesDilation(a, ctx) ? a : undefined;
  },
  shape([x], a, ctx) {
    if (!expectRank(ctx, "conv2d", "[H, W, C]", 3)) return undefined;
    const hw = windowShape(x, a.kernel_size as number[], a.strides as number[], a.dilation_rate as number[], a.padding as string, "kernel", "kernel_size", ctx);
    return hw && [...hw, a.filters as number];
  },
  weights([x], a) {
    const k = a.kernel_size as number[];
    const kernel = [k[0], k[1], x[2], a.filters as number];
    const w = [{ name: "kernel", shape: kernel, initializer: initializer(a.kernel_initializer, kernel) }];
    if (a.use_bias) w.push({ name: "bias", shape: [kernel[3]], initializer: initializer(a.bias_initializer, [kernel[3]]) });
    return w;
  },
};

export const CONV1D_PADDING_ATTR = {
  title: 'one of "valid", "same", "causal"',
  description: '"valid": no padding; "same": ceil(in/stride) outputs, the odd padding step after; "causal": dilation·(k−1) steps of zeros before, none after (output t sees inputs ≤ t).',
  enum: ["valid", "same", "causal"],
  default: "valid",
};

/** strides > 1 with dilation_rate > 1 is refused, as Keras does. */
function checkStridesDilation1d(a: Attrs, ctx: OpContext): boolean {
  if ((a.strides as number) > 1 && (a.dilation_rate as number) > 1) {
    ctx.error(`strides > 1 cannot be combined with dilation_rate > 1; got strides ${a.strides} and dilation_rate ${a.dilation_rate}`, "dilation_rate");
    return false;
  }
  return true;
}

export const conv1d: OpDef = {
  lower: lowerConv1d,
  name: "conv1d",
  description: "1-D convolution over steps, channels last: [T, C] -> [T', filters].",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    filters: sizeAttr("Number of output channels."),
    kernel_size: singleAttr("Kernel length: an int or [k]."),
    strides: singleAttr("Stride: an int or [s].", 1),
    padding: CONV1D_PADDING_ATTR,
    dilation_rate: singleAttr("Dilation: an int or [d]; cannot be combined with strides > 1.", 1),
    activation: activationAttr(),
    use_bias: boolAttr("Whether the layer adds a bias.", true),
    kernel_initializer: initAttr("glorot_uniform", "kernel"),
    bias_initializer: initAttr("zeros", "bias"),
  },
  required: ["filters", "kernel_size"],
  normalize(raw, ctx) {
    const a = withDefaults(this.attrs, raw);
    a.kernel_size = single(a.kernel_size);
    a.strides = single(a.strides);
    a.dilation_rate = single(a.dilation_rate);
    a.activation = normActivation(a.activation);
    return checkStridesDilation1d(a, ctx) ? a : undefined;
  },
  shape([x], a, ctx) {
    if (!expectRank(ctx, "conv1d", "[T, C]", 2)) return undefined;
    const k = a.kernel_size as number, d = a.dilation_rate as number;
    const t = windowOut(x[0]!, k, a.strides as number, d, a.padding as string);
    if (t === undefined) {
      ctx.error(`a kernel of ${k}${d > 1 ? ` with dilation ${d}` : ""} with padding "valid" does not fit input ${fmtDims(x)}`, "kernel_size");
      return undefined;
    }
    return [t, a.filters as number];
  },
  weights([x], a) {
    const kernel = [a.kernel_size as number, x[1]!, a.filters as number];
    const w = [{ name: "kernel", shape: kernel, initializer: initializer(a.kernel_initializer, kernel) }];
    if (a.use_bias) w.push({ name: "bias", shape: [kernel[2]!], initializer: initializer(a.bias_initializer, [kernel[2]!]) });
    return w;
  },
};
