/**
 * depthwise_conv2d and separable_conv2d (Keras DepthwiseConv2D / SeparableConv2D), channels last.
 * Each input channel c is convolved with its own depth_multiplier (m) filters, kernel
 * [kh, kw, C, m]; output channel c·m + j is channel c's filter j. separable_conv2d follows that
 * with a 1×1 convolution over the C·m channels (pointwise_kernel [1, 1, C·m, filters]), then the
 * bias [filters] and the activation. Padding, strides and dilation as conv2d (spec §2 "Padding").
 */
import type { ActivationName, Attrs, Layer } from "../graph-types.js";
import type { OpDef } from "./op.js";
import type { Tensor } from "../../ir/ir.js";
import type { Builder } from "../../passes/lower/builder.js";
import type { Lowering } from "../../passes/lower/layers.js";
import { padding } from "../../passes/lower/layers.js";
import {
  activationAttr, boolAttr, expectRank, initAttr, initializer, pairAttr, sizeAttr, withDefaults,
} from "./attrs.js";
import { normalizeConvWindow, PADDING_ATTR, windowShape } from "./conv.js";

/** The attributes depthwise_conv2d and separable_conv2d share (Keras names and defaults). */
const DEPTHWISE_ATTRS = {
  kernel_size: pairAttr("Kernel height and width: an int (square) or [kh, kw]."),
  strides: pairAttr("Stride: an int or [sh, sw].", 1),
  padding: PADDING_ATTR,
  depth_multiplier: sizeAttr("Filters per input channel: the depthwise step has C·depth_multiplier output channels.", { default: 1 }),
  dilation_rate: pairAttr("Dilation: an int or [dh, dw]; cannot be combined with strides > 1.", 1),
  activation: activationAttr(),
  use_bias: boolAttr("Whether the layer adds a bias.", true),
  depthwise_initializer: initAttr("glorot_uniform", "depthwise kernel"),
  bias_initializer: initAttr("zeros", "bias"),
};

function normalizeWindow(this: OpDef, raw: Attrs, ctx: Parameters<OpDef["normalize"]>[1]): Attrs | undefined {
  const a = withDefaults(this.attrs, raw);
  return normalizeConvWindow(a, ctx, 2) ? a : undefined;
}

/** [H', W'] of the depthwise step, or undefined after reporting. */
function depthwiseHW(op: string, x: readonly number[], a: Attrs, ctx: Parameters<OpDef["shape"]>[2]): [number, number] | undefined {
  if (!expectRank(ctx, op, "[H, W, C]", 3)) return undefined;
  return windowShape(x, a.kernel_size as number[], a.strides as number[], a.dilation_rate as number[], a.padding as string, "kernel", "kernel_size", ctx) as [number, number] | undefined;
}

const depthwiseKernelShape = (x: readonly number[], a: Attrs): number[] => {
  const k = a.kernel_size as number[];
  return [k[0]!, k[1]!, x[2]!, a.depth_multiplier as number];
};

const attrsOf = (layer: Layer) => layer.attrs as any;

/** The depthwise step of a layer: x [H, W, C] ⊛ kernel [kh, kw, C, m] → [H', W', C·m]. */
function depthwiseStep(b: Builder, layer: Layer, x: Tensor, kernel: Tensor): Tensor {
  const { kernel_size: k, strides: s, dilation_rate: d, padding: pad, depth_multiplier: m } = attrsOf(layer);
  const [h, w, c] = x.shape as [number, number, number];
  const ph = padding(h, k[0], s[0], d[0], pad), pw = padding(w, k[1], s[1], d[1], pad);
  const spec = { h, w, c, m, kh: k[0], kw: k[1], sh: s[0], sw: s[1], dh: d[0], dw: d[1], padTop: ph.before, padLeft: pw.before, oh: ph.out, ow: pw.out };
  const y = b.act([ph.out, pw.out, c * m]);
  b.mod.node(b.prog, "depthwise_conv2d", [x, kernel], [y], spec, layer.name);
  return y;
}

export const lowerDepthwiseConv2d: Lowering = (b, layer, [x]) => {
  const y = depthwiseStep(b, layer, x!, b.weight(layer, "kernel"));
  const z = attrsOf(layer).use_bias ? b.addBias(y, b.weight(layer, "bias")) : y;
  return b.activation(z, attrsOf(layer).activation as ActivationName);
};

export const depthwise_conv2d: OpDef = {
  lower: lowerDepthwiseConv2d,
  name: "depthwise_conv2d",
  description: "Depthwise 2-D convolution, channels last: [H, W, C] -> [H', W', C*depth_multiplier]; output channel c*m + j is input channel c's filter j.",
  minInputs: 1,
  maxInputs: 1,
  attrs: DEPTHWISE_ATTRS,
  required: ["kernel_size"],
  normalize: normalizeWindow,
  shape([x], a, ctx) {
    const hw = depthwiseHW("depthwise_conv2d", x!, a, ctx);
    return hw && [...hw, x![2]! * (a.depth_multiplier as number)];
  },
  weights([x], a) {
    const kernel = depthwiseKernelShape(x!, a);
    const w = [{ name: "kernel", shape: kernel, initializer: initializer(a.depthwise_initializer, kernel) }];
    const out = x![2]! * (a.depth_multiplier as number);
    if (a.use_bias) w.push({ name: "bias", shape: [out], initializer: initializer(a.bias_initializer, [out]) });
    return w;
  },
};

/**
 * separable_conv2d: the depthwise step, then a 1×1 conv2d over its C·m channels (kiln's conv2d
 * primitive, so the bias and activation fuse into that kernel as for any conv2d).
 */
export const lowerSeparableConv2d: Lowering = (b, layer, [x]) => {
  const { filters, use_bias, activation } = attrsOf(layer);
  const d = depthwiseStep(b, layer, x!, b.weight(layer, "depthwise_kernel"));
  const [h, w, c] = d.shape as [number, number, number];
  const spec = { h, w, c, f: filters, kh: 1, kw: 1, sh: 1, sw: 1, dh: 1, dw: 1, padTop: 0, padLeft: 0, oh: h, ow: w };
  const y = b.act([h, w, filters]);
  b.mod.node(b.prog, "conv2d", [d, b.weight(layer, "pointwise_kernel")], [y], spec, layer.name);
  const z = use_bias ? b.addBias(y, b.weight(layer, "bias")) : y;
  return b.activation(z, activation as ActivationName);
};

export const separable_conv2d: OpDef = {
  lower: lowerSeparableConv2d,
  name: "separable_conv2d",
  description: "Depthwise separable 2-D convolution, channels last: depthwise [kh, kw, C, m], then pointwise 1x1 [C*m -> filters]: [H, W, C] -> [H', W', filters].",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    filters: sizeAttr("Number of output channels (of the pointwise step)."),
    ...DEPTHWISE_ATTRS,
    pointwise_initializer: initAttr("glorot_uniform", "pointwise kernel"),
  },
  required: ["filters", "kernel_size"],
  normalize: normalizeWindow,
  shape([x], a, ctx) {
    const hw = depthwiseHW("separable_conv2d", x!, a, ctx);
    return hw && [...hw, a.filters as number];
  },
  weights([x], a) {
    const depthwise = depthwiseKernelShape(x!, a);
    const pointwise = [1, 1, x![2]! * (a.depth_multiplier as number), a.filters as number];
    const w = [
      { name: "depthwise_kernel", shape: depthwise, initializer: initializer(a.depthwise_initializer, depthwise) },
      { name: "pointwise_kernel", shape: pointwise, initializer: initializer(a.pointwise_initializer, pointwise) },
    ];
    if (a.use_bias) w.push({ name: "bias", shape: [a.filters as number], initializer: initializer(a.bias_initializer, [a.filters as number]) });
    return w;
  },
};
