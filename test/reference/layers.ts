/**
 * Reference implementations of the spec §2 layer ops on full tensors (batch axis first), built
 * from the tape's primitives so gradients come for free. Keras semantics throughout: `same`
 * padding puts the odd pixel bottom/right, batch norm uses the biased batch variance, etc.
 * Recurrent layers live in recurrent.ts, attention in attention.ts.
 */

import { activate } from "./activations.js";
import { RawLayer, bool, exampleAxis, fail, int, num, pair, str } from "./attrs.js";
import { Window2d, avgPool2d, conv2d, conv2dTranspose, gather, maxPool2d } from "./nn-ops.js";
import {
  Tensor, add, affine, broadcastShapes, broadcastTo, concat, div, matmul, maximum, mean, minimum, mul, permute,
  reduceMax, reshape, sizeOf, slice, softmax, sqrt, square, sub, tensor,
} from "./tensor.js";

export interface LayerContext {
  layer: RawLayer;
  /** Full tensors of the layer's inputs, batch axis first. */
  inputs: Tensor[];
  /** The weight `<layer>/<name>`, checked against the shape this op expects. */
  weight(name: string, shape: number[]): Tensor;
  /** Training-mode forward (batch statistics, dropout masks); false for frozen batch norm. */
  training: boolean;
  /** This layer's dropout keep-mask (0 or 1 per element), when training. */
  dropoutMask?: Float64Array;
  /** This layer's noise (gaussian_noise: added; gaussian_dropout: the factor), per element, when training. */
  noise?: Float64Array;
  /** Records updated non-trainable state (moving statistics) by short weight name. */
  setState(name: string, data: Float64Array): void;
}

export type LayerFn = (ctx: LayerContext) => Tensor;

// ---------------------------------------------------------------- dense and conv

export function dense(ctx: LayerContext): Tensor {
  const x = single(ctx);
  const units = int(ctx.layer, "units");
  const d = x.shape[x.shape.length - 1];
  let y = matmul(reshape(x, [x.size / d, d]), ctx.weight("kernel", [d, units]));
  if (bool(ctx.layer, "use_bias", true)) y = add(y, ctx.weight("bias", [units]));
  y = reshape(y, [...x.shape.slice(0, -1), units]);
  return activate(str(ctx.layer, "activation", "linear"), y);
}

/** Keras padding → explicit [before, after] for one spatial axis. */
export function padAxis(layer: RawLayer, size: number, k: number, stride: number, dil: number): [number, number] {
  const padding = str(layer, "padding", "valid");
  if (padding === "valid") {
    if (Math.floor((size - dil * (k - 1) - 1) / stride) + 1 < 1) fail(layer, `window ${k} (dilation ${dil}) does not fit an input of ${size}`);
    return [0, 0];
  }
  if (padding !== "same") fail(layer, `padding must be "valid" or "same", got "${padding}"`);
  const out = Math.ceil(size / stride);
  const total = Math.max((out - 1) * stride + dil * (k - 1) + 1 - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function window(layer: RawLayer, x: Tensor, kernel: [number, number], strides: [number, number], dilation: [number, number]): Window2d {
  if (x.shape.length !== 4) fail(layer, `expects [H, W, C] inputs, got per-example shape [${x.shape.slice(1)}]`);
  if ((strides[0] > 1 || strides[1] > 1) && (dilation[0] > 1 || dilation[1] > 1)) fail(layer, "strides > 1 with dilation_rate > 1");
  const [ph0, ph1] = padAxis(layer, x.shape[1], kernel[0], strides[0], dilation[0]);
  const [pw0, pw1] = padAxis(layer, x.shape[2], kernel[1], strides[1], dilation[1]);
  return { kernel, strides, dilation, padding: [ph0, ph1, pw0, pw1] };
}

export function conv2dLayer(ctx: LayerContext): Tensor {
  const x = single(ctx);
  const filters = int(ctx.layer, "filters");
  const k = pair(ctx.layer, "kernel_size");
  const win = window(ctx.layer, x, k, pair(ctx.layer, "strides", 1), pair(ctx.layer, "dilation_rate", 1));
  let y = conv2d(x, ctx.weight("kernel", [k[0], k[1], x.shape[3], filters]), win);
  if (bool(ctx.layer, "use_bias", true)) y = add(y, ctx.weight("bias", [filters]));
  return activate(str(ctx.layer, "activation", "linear"), y);
}

/**
 * Keras DepthwiseConv2D as kiln's reference sees it: channel c alone through an ordinary conv2d
 * with its m filters k[:, :, c, :], the C results concatenated in channel order, so output
 * channel c·m + j is channel c's filter j.
 */
function depthwise(x: Tensor, k: Tensor, win: Window2d): Tensor {
  const c = x.shape[3];
  const per = Array.from({ length: c }, (_, ci) => conv2d(slice(x, 3, ci, ci + 1), slice(k, 2, ci, ci + 1), win));
  return c === 1 ? per[0] : concat(per, 3);
}

export function depthwiseConv2dLayer(ctx: LayerContext): Tensor {
  const x = single(ctx);
  const m = int(ctx.layer, "depth_multiplier", 1);
  const k = pair(ctx.layer, "kernel_size");
  const win = window(ctx.layer, x, k, pair(ctx.layer, "strides", 1), pair(ctx.layer, "dilation_rate", 1));
  let y = depthwise(x, ctx.weight("kernel", [k[0], k[1], x.shape[3], m]), win);
  if (bool(ctx.layer, "use_bias", true)) y = add(y, ctx.weight("bias", [x.shape[3] * m]));
  return activate(str(ctx.layer, "activation", "linear"), y);
}

/** Keras SeparableConv2D: the depthwise step, then a 1×1 convolution over its C·m channels, bias, activation. */
export function separableConv2dLayer(ctx: LayerContext): Tensor {
  const x = single(ctx);
  const m = int(ctx.layer, "depth_multiplier", 1);
  const filters = int(ctx.layer, "filters");
  const k = pair(ctx.layer, "kernel_size");
  const c = x.shape[3];
  const win = window(ctx.layer, x, k, pair(ctx.layer, "strides", 1), pair(ctx.layer, "dilation_rate", 1));
  const d = depthwise(x, ctx.weight("depthwise_kernel", [k[0], k[1], c, m]), win);
  const pointwise: Window2d = { kernel: [1, 1], strides: [1, 1], dilation: [1, 1], padding: [0, 0, 0, 0] };
  let y = conv2d(d, ctx.weight("pointwise_kernel", [1, 1, c * m, filters]), pointwise);
  if (bool(ctx.layer, "use_bias", true)) y = add(y, ctx.weight("bias", [filters]));
  return activate(str(ctx.layer, "activation", "linear"), y);
}

/**
 * One axis of Keras Conv2DTranspose, derived as Keras's JAX backend does
 * (`_convert_conv_transpose_padding_args_from_keras_to_jax`): the input dilated by the stride and
 * padded by [left, right] is correlated with the flipped kernel, so the output has
 * (size − 1)·s + left + right − k_eff + 2 positions and input pixel i reaches output
 * i·s + t·d − (k_eff − 1 − left) with kernel tap t. The length must agree with the one Keras
 * reports (`deconv_output_length`), which is checked here.
 */
function transposeAxis(layer: RawLayer, size: number, k: number, s: number, d: number, outputPadding: number | null): { cut: number; length: number } {
  const span = (k - 1) * d + 1;
  const padding = str(layer, "padding", "valid");
  let left: number, right: number;
  if (padding === "valid") {
    const op = outputPadding ?? Math.max(span, s) - span;
    left = span - 1;
    right = span - 1 + op;
  } else if (padding === "same") {
    const padLen = outputPadding === null ? s + span - 2 : span + (span % 2) - 2 + outputPadding;
    left = Math.min(Math.floor(padLen / 2) + (padLen % 2), span - 1);
    right = padLen - left;
  } else fail(layer, `padding must be "valid" or "same", got "${padding}"`);
  const length = (size - 1) * s + left + right - span + 2;
  const keras = outputPadding === null
    ? (padding === "valid" ? size * s + Math.max(span - s, 0) : size * s)
    : (size - 1) * s + span - 2 * (padding === "same" ? Math.floor(span / 2) : 0) + outputPadding;
  if (length !== keras) fail(layer, `transposed length ${length} differs from deconv_output_length ${keras}`);
  if (length < 1) fail(layer, `the transposed convolution gives an empty output (${length})`);
  return { cut: span - 1 - left, length };
}

export function conv2dTransposeLayer(ctx: LayerContext): Tensor {
  const x = single(ctx);
  if (x.shape.length !== 4) fail(ctx.layer, `expects [H, W, C] inputs, got per-example shape [${x.shape.slice(1)}]`);
  const filters = int(ctx.layer, "filters");
  const k = pair(ctx.layer, "kernel_size");
  const s = pair(ctx.layer, "strides", 1), d = pair(ctx.layer, "dilation_rate", 1);
  if ((s[0] > 1 || s[1] > 1) && (d[0] > 1 || d[1] > 1)) fail(ctx.layer, "strides > 1 with dilation_rate > 1");
  const raw = ctx.layer.output_padding;
  const op: [number, number] | null = raw === undefined || raw === null ? null : Array.isArray(raw) ? [raw[0], raw[1]] : [raw, raw];
  if (op && !op.every((v) => Number.isInteger(v) && v >= 0)) fail(ctx.layer, `output_padding must be non-negative integers, got ${JSON.stringify(raw)}`);
  if (op && (op[0] >= s[0] || op[1] >= s[1])) fail(ctx.layer, "output_padding must be less than strides");
  const ah = transposeAxis(ctx.layer, x.shape[1], k[0], s[0], d[0], op && op[0]);
  const aw = transposeAxis(ctx.layer, x.shape[2], k[1], s[1], d[1], op && op[1]);
  let y = conv2dTranspose(x, ctx.weight("kernel", [k[0], k[1], filters, x.shape[3]]), s, d, [ah.cut, aw.cut], [ah.length, aw.length]);
  if (bool(ctx.layer, "use_bias", true)) y = add(y, ctx.weight("bias", [filters]));
  return activate(str(ctx.layer, "activation", "linear"), y);
}

function pool(ctx: LayerContext, op: typeof maxPool2d): Tensor {
  const x = single(ctx);
  const size = pair(ctx.layer, "pool_size", 2);
  return op(x, window(ctx.layer, x, size, pair(ctx.layer, "strides", size), [1, 1]));
}

function globalPool(ctx: LayerContext, kind: "max" | "avg"): Tensor {
  const x = single(ctx);
  if (x.shape.length !== 4) fail(ctx.layer, `expects [H, W, C] inputs, got [${x.shape.slice(1)}]`);
  const [b, h, w, c] = x.shape;
  const flat = reshape(x, [b, h * w, c]);
  const y = kind === "max" ? reduceMax(flat, 1) : mean(flat, [1]);
  return ctx.layer.keepdims === true ? reshape(y, [b, 1, 1, c]) : y;
}

// ---------------------------------------------------------------- shape and elementwise

function flatten(ctx: LayerContext): Tensor {
  const x = single(ctx);
  return reshape(x, [x.shape[0], x.size / x.shape[0]]);
}

function reshapeLayer(ctx: LayerContext): Tensor {
  const x = single(ctx);
  const target = ctx.layer.target_shape;
  if (!Array.isArray(target) || !target.every((d) => Number.isInteger(d) && (d > 0 || d === -1))) {
    fail(ctx.layer, `target_shape must be a list of positive integers (one may be -1), got ${JSON.stringify(target)}`);
  }
  const per = x.size / x.shape[0];
  const known = sizeOf(target.filter((d: number) => d !== -1));
  const shape = target.map((d: number) => (d === -1 ? per / known : d));
  if (target.filter((d: number) => d === -1).length > 1 || sizeOf(shape) !== per || !shape.every(Number.isInteger)) {
    fail(ctx.layer, `cannot reshape [${x.shape.slice(1)}] to ${JSON.stringify(target)}`);
  }
  return reshape(x, [x.shape[0], ...shape]);
}

function dropout(ctx: LayerContext): Tensor {
  const x = single(ctx);
  const rate = num(ctx.layer, "rate");
  if (rate < 0 || rate >= 1) fail(ctx.layer, `rate must be in [0, 1), got ${rate}`);
  if (!ctx.training || rate === 0) return x;
  const m = ctx.dropoutMask;
  if (!m || m.length !== x.size) fail(ctx.layer, `training needs a dropout mask of ${x.size} elements, got ${m?.length ?? "none"}`);
  return mul(x, tensor(x.shape, m.map((v) => v / (1 - rate))));
}

// ---------------------------------------------------------------- normalization

/** Applies fn to x viewed as [N, C] with `axis` last, then restores the layout. */
function onAxisLast(x: Tensor, axis: number, fn: (x2: Tensor) => Tensor): Tensor {
  return onAxesLast(x, [axis], fn);
}

/** fn on x viewed as [rows, C] with the `axes` (full-tensor numbers, sorted) last, in their order; the result moved back. */
function onAxesLast(x: Tensor, axes: number[], fn: (x2: Tensor) => Tensor): Tensor {
  const r = x.shape.length;
  const perm = [...Array(r).keys()].filter((a) => !axes.includes(a)).concat(axes);
  const inv = new Array<number>(r);
  perm.forEach((p, i) => (inv[p] = i));
  const identity = perm.every((p, i) => p === i);
  const moved = identity ? x : permute(x, perm);
  const c = axes.reduce((n, a) => n * x.shape[a], 1);
  const y = reshape(fn(reshape(moved, [x.size / c, c])), moved.shape);
  return identity ? y : permute(y, inv);
}

/** gamma·y + beta with each factor left out when the layer has no such weight (Keras `scale` / `center` false). */
function scaleShift(ctx: LayerContext, y: Tensor, c: number, shape = [c]): Tensor {
  // A weight of several axes (layer normalization over a list) broadcasts as its flat [c] values.
  const w = (name: string) => (shape.length === 1 ? ctx.weight(name, shape) : reshape(ctx.weight(name, shape), [c]));
  const scaled = bool(ctx.layer, "scale", true) ? mul(y, w("gamma")) : y;
  return bool(ctx.layer, "center", true) ? add(scaled, w("beta")) : scaled;
}

function batchNormalization(ctx: LayerContext): Tensor {
  const x = single(ctx);
  const axis = exampleAxis(ctx.layer, "axis", -1, x.shape.length);
  const eps = num(ctx.layer, "epsilon", 0.001);
  const momentum = num(ctx.layer, "momentum", 0.99);
  const c = x.shape[axis];
  const movingMean = ctx.weight("moving_mean", [c]);
  const movingVar = ctx.weight("moving_variance", [c]);
  return onAxisLast(x, axis, (x2) => {
    if (!ctx.training) return scaleShift(ctx, div(sub(x2, movingMean), sqrt(affine(movingVar, 1, eps))), c);
    const mu = mean(x2, [0]);
    const centered = sub(x2, mu);
    const variance = mean(square(centered), [0]); // biased: divides by N
    ctx.setState("moving_mean", blend(movingMean.data, mu.data, momentum));
    ctx.setState("moving_variance", blend(movingVar.data, variance.data, momentum));
    return scaleShift(ctx, div(centered, sqrt(affine(variance, 1, eps))), c);
  });
}

function blend(moving: Float64Array, batch: Float64Array, momentum: number): Float64Array {
  return moving.map((m, i) => momentum * m + (1 - momentum) * batch[i]);
}

/**
 * Keras 3 LayerNormalization: `axis` an int or a list; statistics per example over those axes.
 * gamma and beta have the axes' sizes in the order listed (Keras's build), and Keras reshapes them
 * to the input's rank with those sizes in axis order: their flat values follow the sorted axes.
 */
function layerNormalization(ctx: LayerContext): Tensor {
  const x = single(ctx);
  const listed = Array.isArray(ctx.layer.axis) ? (ctx.layer.axis as number[]) : [ctx.layer.axis ?? -1];
  const axes = listed.map((v, i) => exampleAxis({ ...ctx.layer, [`axis${i}`]: v }, `axis${i}`, -1, x.shape.length));
  if (new Set(axes).size !== axes.length) fail(ctx.layer, `axis ${JSON.stringify(ctx.layer.axis)} names an axis twice`);
  const eps = num(ctx.layer, "epsilon", 0.001);
  const c = axes.reduce((n, a) => n * x.shape[a], 1);
  return onAxesLast(x, [...axes].sort((p, q) => p - q), (x2) => {
    const centered = sub(x2, mean(x2, [1], true));
    const variance = mean(square(centered), [1], true);
    return scaleShift(ctx, div(centered, sqrt(affine(variance, 1, eps))), c, axes.map((a) => x.shape[a]));
  });
}

/**
 * Keras 3 GroupNormalization, channels last: x as [B, positions, G, C/G]; mean and biased variance
 * per (example, group) over the positions and the group's channels; then gamma, beta per channel.
 */
function groupNormalization(ctx: LayerContext): Tensor {
  const x0 = single(ctx);
  const axis = exampleAxis(ctx.layer, "axis", -1, x0.shape.length);
  // Another channel axis: the same on x with that axis moved last (Keras reshapes along it in place).
  if (axis !== x0.shape.length - 1) return onAxisMovedLast(x0, axis, (x) => groupNormLast(ctx, x));
  return groupNormLast(ctx, x0);
}

/** fn on x with axis `axis` moved last (other axes in order), the result moved back. */
function onAxisMovedLast(x: Tensor, axis: number, fn: (moved: Tensor) => Tensor): Tensor {
  const r = x.shape.length;
  const perm = [...Array(r).keys()].filter((a) => a !== axis).concat(axis);
  const inv = new Array<number>(r);
  perm.forEach((p, i) => (inv[p] = i));
  return permute(fn(permute(x, perm)), inv);
}

function groupNormLast(ctx: LayerContext, x: Tensor): Tensor {
  const axis = x.shape.length - 1;
  const eps = num(ctx.layer, "epsilon", 0.001);
  const c = x.shape[axis];
  let groups = int(ctx.layer, "groups", 32);
  if (groups === -1) groups = c;
  if (groups < 1 || c % groups !== 0) fail(ctx.layer, `groups ${groups} does not divide ${c} channels`);
  const batch = x.shape[0];
  const grouped = reshape(x, [batch, x.size / (batch * c), groups, c / groups]);
  const mu = mean(grouped, [1, 3], true);
  const centered = sub(grouped, mu);
  const variance = mean(square(centered), [1, 3], true);
  const y = reshape(div(centered, sqrt(affine(variance, 1, eps))), x.shape);
  return scaleShift(ctx, y, c);
}

// ---------------------------------------------------------------- embeddings

function embedding(ctx: LayerContext): Tensor {
  const ids = single(ctx);
  const n = int(ctx.layer, "input_dim");
  const d = int(ctx.layer, "output_dim");
  for (let i = 0; i < ids.size; i++) {
    const id = ids.data[i];
    if (!Number.isInteger(id) || id < 0 || id >= n) fail(ctx.layer, `token id ${id} at flat index ${i} is outside [0, ${n})`);
  }
  return gather(ctx.weight("embeddings", [n, d]), ids.data, ids.shape);
}

function positionEmbedding(ctx: LayerContext): Tensor {
  const x = single(ctx);
  const r = x.shape.length;
  if (r < 3) fail(ctx.layer, `expects [T, D] inputs, got [${x.shape.slice(1)}]`);
  const len = int(ctx.layer, "sequence_length");
  const [t, d] = x.shape.slice(r - 2);
  if (t > len) fail(ctx.layer, `sequence of ${t} is longer than sequence_length ${len}`);
  const table = ctx.weight("embeddings", [len, d]);
  return broadcastTo(t === len ? table : slice(table, 0, 0, t), [...x.shape]);
}

// ---------------------------------------------------------------- merges

/**
 * The merge inputs as Keras 3 feeds its merge function: a lower-rank input gets axes of size 1
 * inserted after the batch axis until the ranks agree (expand_dims at axis 1); the tape's
 * elementwise ops then broadcast (numpy rules), and their backward passes sum over the repeats.
 */
function mergeInputs(ctx: LayerContext, min: number, max = Infinity): Tensor[] {
  const xs = ctx.inputs;
  if (xs.length < min || xs.length > max) fail(ctx.layer, `takes ${max === min ? min : `${min} or more`} inputs, got ${xs.length}`);
  const rank = Math.max(...xs.map((t) => t.shape.length));
  const ranked = xs.map((t) => (t.shape.length === rank ? t : reshape(t, [t.shape[0], ...new Array<number>(rank - t.shape.length).fill(1), ...t.shape.slice(1)])));
  ranked.reduce((shape, t) => {
    try {
      return broadcastShapes(shape, t.shape);
    } catch {
      return fail(ctx.layer, `input shapes do not broadcast: [${shape.slice(1)}] vs [${t.shape.slice(1)}]`);
    }
  }, ranked[0].shape);
  return ranked;
}

const fold = (f: (a: Tensor, b: Tensor) => Tensor) => (ctx: LayerContext) => mergeInputs(ctx, 2).reduce((a, b) => f(a, b));

function concatenate(ctx: LayerContext): Tensor {
  const xs = ctx.inputs;
  if (xs.length < 2) fail(ctx.layer, `takes 2 or more inputs, got ${xs.length}`);
  const axis = exampleAxis(ctx.layer, "axis", -1, xs[0].shape.length);
  for (const t of xs) {
    if (t.shape.length !== xs[0].shape.length || t.shape.some((d, i) => i !== axis && d !== xs[0].shape[i])) {
      fail(ctx.layer, `input shapes [${xs[0].shape.slice(1)}] and [${t.shape.slice(1)}] differ off axis ${axis - 1}`);
    }
  }
  return concat(xs, axis);
}

export function single(ctx: LayerContext): Tensor {
  if (ctx.inputs.length !== 1) fail(ctx.layer, `takes exactly one input, got ${ctx.inputs.length}`);
  return ctx.inputs[0];
}

export const BASIC_LAYERS: Record<string, LayerFn> = {
  dense,
  conv2d: conv2dLayer,
  depthwise_conv2d: depthwiseConv2dLayer,
  separable_conv2d: separableConv2dLayer,
  conv2d_transpose: conv2dTransposeLayer,
  max_pooling2d: (ctx) => pool(ctx, maxPool2d),
  average_pooling2d: (ctx) => pool(ctx, avgPool2d),
  global_average_pooling2d: (ctx) => globalPool(ctx, "avg"),
  global_max_pooling2d: (ctx) => globalPool(ctx, "max"),
  flatten,
  reshape: reshapeLayer,
  activation: (ctx) => activate(str(ctx.layer, "activation", "linear"), single(ctx)),
  softmax: (ctx) => {
    const x = single(ctx);
    return softmax(x, exampleAxis(ctx.layer, "axis", -1, x.shape.length));
  },
  dropout,
  batch_normalization: batchNormalization,
  layer_normalization: layerNormalization,
  group_normalization: groupNormalization,
  embedding,
  position_embedding: positionEmbedding,
  add: fold(add),
  multiply: fold(mul),
  maximum: fold(maximum),
  minimum: fold(minimum),
  average: (ctx) => affine(mergeInputs(ctx, 2).reduce((a, b) => add(a, b)), 1 / ctx.inputs.length),
  subtract: (ctx) => {
    const [a, b] = mergeInputs(ctx, 2, 2);
    return sub(a, b);
  },
  concatenate,
};
