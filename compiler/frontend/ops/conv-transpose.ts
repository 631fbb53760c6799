/**
 * conv2d_transpose (Keras Conv2DTranspose), channels last: the input gradient of a conv2d whose
 * input is this layer's output. Kernel [kh, kw, filters, C] (Keras's order: the conv it reverses
 * maps filters channels to C). Output size per axis as Keras's `deconv_output_length`; the
 * padding before is TensorFlow's rule for that conv (spec §2.1). It lowers to the
 * `conv2d_grad_input` primitive, whose gradients are a conv2d and a conv2d filter gradient.
 */
import type { ActivationName, Attrs } from "../graph-types.js";
import type { JsonSchema, OpContext, OpDef } from "./op.js";
import type { Lowering } from "../../passes/lower/layers.js";
import {
  activationAttr, boolAttr, expectRank, fmtDims, initAttr, initializer, MAX_DIM, pair, pairAttr, sizeAttr, withDefaults,
} from "./attrs.js";
import { normalizeConvWindow, PADDING_ATTR } from "./conv.js";

const OUTPUT_PADDING_ATTR: JsonSchema = {
  title: "null, a non-negative integer or a list of 2 non-negative integers",
  description: "Extra rows/columns at the bottom/right of the output, each less than its stride; null (default): Keras infers the size (deconv_output_length).",
  type: ["null", "integer", "array"],
  minimum: 0,
  maximum: MAX_DIM,
  items: { title: "a non-negative integer", type: "integer", minimum: 0, maximum: MAX_DIM },
  minItems: 2,
  maxItems: 2,
  default: null,
};

/** One axis of a transposed convolution: the output length and the padding before (rows cut at the top/left). */
export interface TransposeAxis { out: number; before: number }

/**
 * Keras `deconv_output_length` (kernel dilated to (k−1)·d + 1), and TensorFlow's padding before
 * for the conv from that length back to `input`: `same` floor(max((in−1)·s + k_eff − out, 0) / 2),
 * `valid` 0.
 */
export function transposeAxis(input: number, k: number, stride: number, dilation: number, padding: string, outputPadding: number | null): TransposeAxis {
  const span = (k - 1) * dilation + 1;
  let out: number;
  if (outputPadding === null) out = padding === "valid" ? input * stride + Math.max(span - stride, 0) : input * stride;
  else out = (input - 1) * stride + span - 2 * (padding === "same" ? Math.floor(span / 2) : 0) + outputPadding;
  const before = padding === "same" ? Math.floor(Math.max((input - 1) * stride + span - out, 0) / 2) : 0;
  return { out, before };
}

function axes(x: readonly number[], a: Attrs): [TransposeAxis, TransposeAxis] {
  const k = a.kernel_size as number[], s = a.strides as number[], d = a.dilation_rate as number[];
  const op = a.output_padding as number[] | null;
  return [0, 1].map((i) => transposeAxis(x[i]!, k[i]!, s[i]!, d[i]!, a.padding as string, op ? op[i]! : null)) as [TransposeAxis, TransposeAxis];
}

/** output_padding must be below the stride on each axis, as Keras requires. */
function checkOutputPadding(a: Attrs, ctx: OpContext): boolean {
  const op = a.output_padding as number[] | null, s = a.strides as number[];
  if (op === null || (op[0]! < s[0]! && op[1]! < s[1]!)) return true;
  ctx.error(`output_padding must be less than strides on each axis; got output_padding ${op.join("x")} and strides ${s.join("x")}`, "output_padding");
  return false;
}

export const lowerConv2dTranspose: Lowering = (b, layer, [x]) => {
  const { filters, kernel_size: k, strides: s, dilation_rate: d, use_bias, activation } = layer.attrs as any;
  const [h, w, c] = x!.shape as [number, number, number];
  const [ah, aw] = axes(x!.shape, layer.attrs);
  // The conv this one reverses reads the [oh, ow, filters] output and writes x's [h, w, c].
  const spec = { h: ah.out, w: aw.out, c: filters, f: c, kh: k[0], kw: k[1], sh: s[0], sw: s[1], dh: d[0], dw: d[1], padTop: ah.before, padLeft: aw.before, oh: h, ow: w };
  const y = b.act([ah.out, aw.out, filters]);
  b.mod.node(b.prog, "conv2d_grad_input", [x!, b.weight(layer, "kernel")], [y], spec, layer.name);
  const z = use_bias ? b.addBias(y, b.weight(layer, "bias")) : y;
  return b.activation(z, activation as ActivationName);
};

export const conv2d_transpose: OpDef = {
  lower: lowerConv2dTranspose,
  name: "conv2d_transpose",
  description: "Transposed 2-D convolution, channels last: [H, W, C] -> [H', W', filters] with H' as Keras's deconv_output_length.",
  minInputs: 1,
  maxInputs: 1,
  attrs: {
    filters: sizeAttr("Number of output channels."),
    kernel_size: pairAttr("Kernel height and width: an int (square) or [kh, kw]."),
    strides: pairAttr("Stride: an int or [sh, sw].", 1),
    padding: PADDING_ATTR,
    output_padding: OUTPUT_PADDING_ATTR,
    dilation_rate: pairAttr("Dilation: an int or [dh, dw]; cannot be combined with strides > 1.", 1),
    activation: activationAttr(),
    use_bias: boolAttr("Whether the layer adds a bias.", true),
    kernel_initializer: initAttr("glorot_uniform", "kernel"),
    bias_initializer: initAttr("zeros", "bias"),
  },
  required: ["filters", "kernel_size"],
  normalize(raw, ctx) {
    const a = withDefaults(this.attrs, raw);
    a.output_padding = a.output_padding === null ? null : pair(a.output_padding);
    return normalizeConvWindow(a, ctx, 2) && checkOutputPadding(a, ctx) ? a : undefined;
  },
  shape([x], a, ctx) {
    if (!expectRank(ctx, "conv2d_transpose", "[H, W, C]", 3)) return undefined;
    const [h, w] = axes(x!, a);
    if (h.out >= 1 && w.out >= 1) return [h.out, w.out, a.filters as number];
    const k = a.kernel_size as number[];
    ctx.error(`a ${k.join("x")} transposed convolution with padding "${a.padding}" and output_padding ${(a.output_padding as number[]).join("x")} gives an empty output (${h.out}x${w.out}) for input ${fmtDims(x!)}`, "output_padding");
    return undefined;
  },
  weights([x], a) {
    const k = a.kernel_size as number[];
    const kernel = [k[0]!, k[1]!, a.filters as number, x![2]!];
    const w = [{ name: "kernel", shape: kernel, initializer: initializer(a.kernel_initializer, kernel) }];
    if (a.use_bias) w.push({ name: "bias", shape: [a.filters as number], initializer: initializer(a.bias_initializer, [a.filters as number]) });
    return w;
  },
};
