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

/**
 * The window attributes every convolution shares (conv1d, conv2d, conv2d_transpose,
 * depthwise_conv2d, separable_conv2d), after withDefaults: kernel_size, strides and dilation_rate
 * as [h, w] pairs (`spatial` 2) or single ints (1), the activation by its canonical name, and
 * strides > 1 together with dilation_rate > 1 refused, as Keras refuses it. False after reporting.
 */
export function normalizeConvWindow(a: Attrs, ctx: OpContext, spatial: 1 | 2): boolean {
  const norm = spatial === 2 ? pair : single;
  for (const key of ["kernel_size", "strides", "dilation_rate"]) a[key] = norm(a[key]);
  a.activation = normActivation(a.activation);
  const s = [a.strides as number | number[]].flat(), d = [a.dilation_rate as number | number[]].flat();
  if (s.some((v) => v > 1) && d.some((v) => v > 1)) {
    ctx.error(`strides > 1 cannot be combined with dilation_rate > 1; got strides ${s.join("x")} and dilation_rate ${d.join("x")}`, "dilation_rate");
    return false;
  }
  return true;
}

/**
 * Output lengths of a windowed op along the leading axes of x, one per entry of k (2-D: [H', W'];
 * 1-D: [T']); reports when a `valid` window does not fit, naming the window ("kernel", "pool").
 */
export function windowShape(
  x: readonly number[], k: number[], s: number[], d: number[], padding: string, what: string, attr: string, ctx: OpContext,
): number[] | undefined {
  const out = k.map((_, i) => windowOut(x[i]!, k[i]!, s[i]!, d[i]!, padding));
  if (out.every((o) => o !== undefined)) return out as number[];
  const dil = d.some((v) => v > 1) ? ` with dilation ${d.join("x")}` : "";
  const window = k.length === 1 ? `${what} of ${k[0]}` : `${k.join("x")} ${what}`;
  ctx.error(`a ${window}${dil} with padding "${padding}" does not fit input ${fmtDims(x)}`, attr);
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
    return normalizeConvWindow(a, ctx, 2) ? a : undefined;
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
    return normalizeConvWindow(a, ctx, 1) ? a : undefined;
  },
  shape([x], a, ctx) {
    if (!expectRank(ctx, "conv1d", "[T, C]", 2)) return undefined;
    const t = windowShape(x, [a.kernel_size as number], [a.strides as number], [a.dilation_rate as number], a.padding as string, "kernel", "kernel_size", ctx);
    return t && [t[0]!, a.filters as number];
  },
  weights([x], a) {
    const kernel = [a.kernel_size as number, x[1]!, a.filters as number];
    const w = [{ name: "kernel", shape: kernel, initializer: initializer(a.kernel_initializer, kernel) }];
    if (a.use_bias) w.push({ name: "bias", shape: [kernel[2]!], initializer: initializer(a.bias_initializer, [kernel[2]!]) });
    return w;
  },
};
