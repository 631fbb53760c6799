/**
 * Float64 reference of the 1-D convolution and pooling ops, the spatial movement ops (padding,
 * cropping, upsampling), repeat_vector, permute and time_distributed, from the tape's primitives
 * (independent of the compiler): conv1d and the 1-D pools are the 2-D ones on [B, 1, T, C];
 * padding concatenates zeros; cropping slices; nearest upsampling broadcasts; bilinear upsampling
 * multiplies by the interpolation matrix of each axis, written from the resize formula.
 */
import { activate } from "./activations.js";
import { RawLayer, bool, fail, int, pair, str } from "./attrs.js";
import { dense, single, type LayerContext, type LayerFn } from "./layers.js";
import { avgPool2d, conv2d, maxPool2d, type Window2d } from "./nn-ops.js";
import { Tensor, add, broadcastTo, concat, matmul, mean, permute, reduceMax, reshape, slice, tensor } from "./tensor.js";

/** An int or [v] attribute. */
function one(layer: RawLayer, key: string, dflt?: number): number {
  const v = layer[key] ?? dflt;
  if (Array.isArray(v) && v.length === 1 && Number.isInteger(v[0]) && v[0] > 0) return v[0];
  if (Number.isInteger(v) && (v as number) > 0) return v as number;
  fail(layer, `attribute ${key} must be a positive integer or [k], got ${JSON.stringify(v)}`);
}

/** Keras 1-D padding → [before, after] steps. */
function pad1d(layer: RawLayer, t: number, k: number, s: number, d: number): [number, number] {
  const padding = str(layer, "padding", "valid");
  const span = d * (k - 1) + 1;
  if (padding === "causal") return [d * (k - 1), 0];
  if (padding === "valid") {
    if (Math.floor((t - span) / s) + 1 < 1) fail(layer, `window ${k} (dilation ${d}) does not fit ${t} steps`);
    return [0, 0];
  }
  if (padding !== "same") fail(layer, `padding must be "valid", "same" or "causal", got "${padding}"`);
  const total = Math.max((Math.ceil(t / s) - 1) * s + span - t, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function rank(ctx: LayerContext, r: number, layout: string): Tensor {
  const x = single(ctx);
  if (x.shape.length !== r + 1) fail(ctx.layer, `expects ${layout} inputs, got [${x.shape.slice(1)}]`);
  return x;
}

function conv1d(ctx: LayerContext): Tensor {
  const x = rank(ctx, 2, "[T, C]");
  const [b, t, c] = x.shape;
  const f = int(ctx.layer, "filters"), k = one(ctx.layer, "kernel_size"), s = one(ctx.layer, "strides", 1), d = one(ctx.layer, "dilation_rate", 1);
  if (s > 1 && d > 1) fail(ctx.layer, "strides > 1 with dilation_rate > 1");
  const [p0, p1] = pad1d(ctx.layer, t, k, s, d);
  const win: Window2d = { kernel: [1, k], strides: [1, s], dilation: [1, d], padding: [0, 0, p0, p1] };
  let y = conv2d(reshape(x, [b, 1, t, c]), reshape(ctx.weight("kernel", [k, c, f]), [1, k, c, f]), win);
  y = reshape(y, [b, y.shape[2], f]);
  if (bool(ctx.layer, "use_bias", true)) y = add(y, ctx.weight("bias", [f]));
  return activate(str(ctx.layer, "activation", "linear"), y);
}

function pool1d(ctx: LayerContext, op: typeof maxPool2d): Tensor {
  const x = rank(ctx, 2, "[T, C]");
  const [b, t, c] = x.shape;
  const k = one(ctx.layer, "pool_size", 2), s = one(ctx.layer, "strides", k);
  const [p0, p1] = pad1d(ctx.layer, t, k, s, 1);
  const y = op(reshape(x, [b, 1, t, c]), { kernel: [1, k], strides: [1, s], dilation: [1, 1], padding: [0, 0, p0, p1] });
  return reshape(y, [b, y.shape[2], c]);
}

function globalPool1d(ctx: LayerContext, kind: "max" | "avg"): Tensor {
  const x = rank(ctx, 2, "[T, C]");
  const y = kind === "max" ? reduceMax(x, 1) : mean(x, [1]);
  return ctx.layer.keepdims === true ? reshape(y, [x.shape[0], 1, x.shape[2]]) : y;
}

/** [[before, after] per spatial axis] from an int, [a, b] (1-D: before/after; 2-D: symmetric h, w) or [[t, b], [l, r]]. */
function amounts(layer: RawLayer, key: string, dflt: unknown, axes: number): number[][] {
  const v = layer[key] ?? dflt;
  const ok = (n: unknown) => Number.isInteger(n) && (n as number) >= 0;
  if (ok(v)) return Array.from({ length: axes }, () => [v as number, v as number]);
  if (Array.isArray(v) && v.length === 2 && v.every(ok)) return axes === 1 ? [[v[0], v[1]]] : [[v[0], v[0]], [v[1], v[1]]];
  if (axes === 2 && Array.isArray(v) && v.length === 2 && v.every((p) => Array.isArray(p) && p.length === 2 && p.every(ok))) return v;
  fail(layer, `attribute ${key} must be an int, a pair or a pair of pairs, got ${JSON.stringify(v)}`);
}

function zeroPad(ctx: LayerContext, axes: number): Tensor {
  let x = rank(ctx, axes + 1, axes === 1 ? "[T, C]" : "[H, W, C]");
  amounts(ctx.layer, "padding", 1, axes).forEach(([before, after], i) => {
    const zeros = (n: number) => {
      const shape = [...x.shape];
      shape[i + 1] = n;
      return tensor(shape, new Float64Array(shape.reduce((p, q) => p * q, 1)));
    };
    const parts = [...(before ? [zeros(before)] : []), x, ...(after ? [zeros(after)] : [])];
    x = parts.length === 1 ? x : concat(parts, i + 1);
  });
  return x;
}

function crop(ctx: LayerContext, axes: number): Tensor {
  let x = rank(ctx, axes + 1, axes === 1 ? "[T, C]" : "[H, W, C]");
  amounts(ctx.layer, "cropping", axes === 1 ? [1, 1] : 0, axes).forEach(([before, after], i) => {
    const n = x.shape[i + 1];
    if (n - before - after < 1) fail(ctx.layer, `cropping ${before} + ${after} of ${n} leaves nothing`);
    x = slice(x, i + 1, before, n - after);
  });
  return x;
}

/** Nearest: each element repeated along the axes after the batch one. */
function repeatAxes(x: Tensor, factors: number[]): Tensor {
  const [b, ...dims] = x.shape;
  const spread = [b, ...dims.flatMap((d, i) => (i < factors.length ? [d, 1] : [d]))];
  const full = [b, ...dims.flatMap((d, i) => (i < factors.length ? [d, factors[i]] : [d]))];
  return reshape(broadcastTo(reshape(x, spread), full), [b, ...dims.map((d, i) => d * (factors[i] ?? 1))]);
}

/**
 * The [n·s, n] matrix of half-pixel bilinear resizing (tf.image.resize, half_pixel_centers, no
 * antialiasing): output o samples in = (o + ½)/s − ½, between floor(in) and floor(in) + 1, each
 * clamped into [0, n − 1].
 */
export function bilinearMatrix(n: number, s: number): Tensor {
  const m = new Float64Array(n * s * n);
  for (let o = 0; o < n * s; o++) {
    const at = (o + 0.5) / s - 0.5;
    const lo = Math.floor(at), frac = at - lo;
    const clamp = (i: number) => Math.min(Math.max(i, 0), n - 1);
    m[o * n + clamp(lo)] += 1 - frac;
    m[o * n + clamp(lo + 1)] += frac;
  }
  return tensor([n * s, n], m);
}

/** y = M·x along full-tensor axis `axis` (moved first, multiplied, moved back). */
function alongAxis(x: Tensor, axis: number, m: Tensor): Tensor {
  const perm = [axis, ...x.shape.keys()].filter((a, i) => i === 0 || a !== axis);
  const moved = permute(x, perm);
  const rest = moved.shape.slice(1);
  const y = matmul(m, reshape(moved, [moved.shape[0], moved.size / moved.shape[0]]));
  const back = perm.map((_, i) => perm.indexOf(i));
  return permute(reshape(y, [m.shape[0], ...rest]), back);
}

function upsampling2d(ctx: LayerContext): Tensor {
  const x = rank(ctx, 3, "[H, W, C]");
  const [sh, sw] = pair(ctx.layer, "size", 2);
  const interpolation = str(ctx.layer, "interpolation", "nearest");
  if (interpolation === "nearest") return repeatAxes(x, [sh, sw]);
  if (interpolation !== "bilinear") fail(ctx.layer, `interpolation must be "nearest" or "bilinear", got "${interpolation}"`);
  return alongAxis(alongAxis(x, 1, bilinearMatrix(x.shape[1], sh)), 2, bilinearMatrix(x.shape[2], sw));
}

function repeatVector(ctx: LayerContext): Tensor {
  const x = rank(ctx, 1, "[D]");
  const n = int(ctx.layer, "n");
  return broadcastTo(reshape(x, [x.shape[0], 1, x.shape[1]]), [x.shape[0], n, x.shape[1]]);
}

function permuteLayer(ctx: LayerContext): Tensor {
  const x = single(ctx);
  const dims = ctx.layer.dims;
  if (!Array.isArray(dims)) fail(ctx.layer, "dims must be a list");
  return permute(x, [0, ...dims.map((d: number) => d)]);
}

/**
 * time_distributed as Keras 3 computes it (layers/rnn/time_distributed.py): the inner layer (any
 * op of `layers`) called on each step [B, ...] in turn with the one set of weights, and the step
 * outputs stacked on axis 1. Its weights are `<wrapper>/<inner name>/…`.
 */
export function timeDistributed(ctx: LayerContext, layers: Record<string, LayerFn>): Tensor {
  const inner = ctx.layer.layer as RawLayer | undefined;
  const fn = inner && typeof inner.op === "string" && Object.hasOwn(layers, inner.op) ? layers[inner.op]! : undefined;
  if (!inner || !fn) fail(ctx.layer, `layer must be a layer config with a known op, got ${JSON.stringify(inner)}`);
  const innerName = typeof inner.name === "string" ? inner.name : inner.op;
  const x = single(ctx);
  if (x.shape.length < 3) fail(ctx.layer, "expects [T, ...] inputs with at least one axis after T");
  const [b, t, ...step] = x.shape;
  const ys: Tensor[] = [];
  for (let i = 0; i < t; i++) {
    // The dropout mask of the whole output, when training: this step's part of it.
    const y = fn({
      ...ctx,
      layer: { ...inner, name: `${ctx.layer.name}/${innerName}` },
      inputs: [reshape(slice(x, 1, i, i + 1), [b, ...step])],
      weight: (name, shape) => ctx.weight(`${innerName}/${name}`, shape),
      setState: (name, data) => ctx.setState(`${innerName}/${name}`, data),
      dropoutMask: ctx.dropoutMask && stepOf(ctx.dropoutMask, b, t, i),
    });
    ys.push(reshape(y, [b, 1, ...y.shape.slice(1)]));
  }
  return concat(ys, 1);
}

/** Step i of a per-element array laid out as [b, t, ...]. */
function stepOf(data: Float64Array, b: number, t: number, i: number): Float64Array {
  const n = data.length / (b * t);
  const out = new Float64Array(b * n);
  for (let e = 0; e < b; e++) out.set(data.subarray((e * t + i) * n, (e * t + i + 1) * n), e * n);
  return out;
}

export const SHAPE_LAYERS: Record<string, LayerFn> = {
  conv1d,
  max_pooling1d: (ctx) => pool1d(ctx, maxPool2d),
  average_pooling1d: (ctx) => pool1d(ctx, avgPool2d),
  global_average_pooling1d: (ctx) => globalPool1d(ctx, "avg"),
  global_max_pooling1d: (ctx) => globalPool1d(ctx, "max"),
  upsampling1d: (ctx) => repeatAxes(rank(ctx, 2, "[T, C]"), [int(ctx.layer, "size", 2)]),
  upsampling2d,
  zero_padding1d: (ctx) => zeroPad(ctx, 1),
  zero_padding2d: (ctx) => zeroPad(ctx, 2),
  cropping1d: (ctx) => crop(ctx, 1),
  cropping2d: (ctx) => crop(ctx, 2),
  repeat_vector: repeatVector,
  permute: permuteLayer,
};
