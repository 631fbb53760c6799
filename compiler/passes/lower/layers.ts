/**
 * Layer → primitive lowering for the feed-forward ops of spec §2 (recurrent and attention ops
 * live in recurrent.ts and attention.ts). Input: a checked Layer with normalized attributes and
 * its input tensors. Output: its output tensor, built from Builder primitives. Keras semantics.
 */
import type { ActivationName, Layer } from "../../frontend/graph-types.js";
import { numel, type Tensor } from "../../ir/ir.js";
import { Builder } from "./builder.js";
import { broadcastRuns } from "../../frontend/ops/broadcast.js";
import { permuteCopy } from "./shape.js";
import { FULL, SCALAR, X, perCol, perRow, type EwBinary, type EwExpr, type EwInput } from "../../ir/expr.js";

/** How an op becomes primitives: its output tensor from the layer and its input tensors. Declared on the OpDef (`lower`). */
export type Lowering = (b: Builder, layer: Layer, inputs: Tensor[]) => Tensor;

const a = (layer: Layer) => layer.attrs as any;

/** Padding per spec §2: the odd pixel of `same` goes at the bottom/right. */
export function padding(inSize: number, k: number, stride: number, dil: number, mode: string): { out: number; before: number } {
  const span = dil * (k - 1) + 1;
  if (mode === "causal") return { out: Math.ceil(inSize / stride), before: dil * (k - 1) };
  if (mode === "valid") return { out: Math.floor((inSize - span) / stride) + 1, before: 0 };
  const out = Math.ceil(inSize / stride);
  const total = Math.max((out - 1) * stride + span - inSize, 0);
  return { out, before: Math.floor(total / 2) };
}

function window2d(layer: Layer, x: Tensor, k: number[], s: number[], d: number[], pad: string) {
  const [h, w, c] = x.shape as [number, number, number];
  const ph = padding(h, k[0]!, s[0]!, d[0]!, pad);
  const pw = padding(w, k[1]!, s[1]!, d[1]!, pad);
  return { h, w, c, oh: ph.out, ow: pw.out, padTop: ph.before, padLeft: pw.before };
}

export const lowerDense: Lowering = (b, layer, [x]) => {
  const { units, use_bias, activation } = a(layer);
  const d = x!.shape.at(-1)!;
  const y = b.matmul(x!, b.weight(layer, "kernel"), b.act([...x!.shape.slice(0, -1), units]), { m: b.rows(x!), k: d, n: units });
  const z = use_bias ? b.addBias(y, b.weight(layer, "bias")) : y;
  return b.activation(z, activation as ActivationName);
};

export const lowerConv2d: Lowering = (b, layer, [x]) => {
  const { filters, kernel_size, strides, dilation_rate, padding: pad, use_bias, activation } = a(layer);
  const g = window2d(layer, x!, kernel_size, strides, dilation_rate, pad);
  const spec = { ...g, f: filters, kh: kernel_size[0], kw: kernel_size[1], sh: strides[0], sw: strides[1], dh: dilation_rate[0], dw: dilation_rate[1] };
  const y = b.act([g.oh, g.ow, filters]);
  b.mod.node(b.prog, "conv2d", [x!, b.weight(layer, "kernel")], [y], spec, layer.name);
  const z = use_bias ? b.addBias(y, b.weight(layer, "bias")) : y;
  return b.activation(z, activation as ActivationName);
};

/**
 * conv1d is conv2d over a [1, T, C] view of each example, with the kernel [k, C, f] read in place
 * as [1, k, C, f] (the same bytes: conv2d's kernels take the geometry from the attributes), so the
 * forward, both gradients and every kernel choice are conv2d's. `causal` is padLeft = d·(k−1)
 * with nothing after (the right padding is implied by ow).
 */
export const lowerConv1d: Lowering = (b, layer, [x]) => {
  const { filters, kernel_size: k, strides: s, dilation_rate: d, padding: pad, use_bias, activation } = a(layer);
  const [t, c] = x!.shape as [number, number];
  const p = padding(t, k, s, d, pad);
  const spec = { h: 1, w: t, c, f: filters, kh: 1, kw: k, sh: 1, sw: s, dh: 1, dw: d, padTop: 0, padLeft: p.before, oh: 1, ow: p.out };
  const y = b.act([1, p.out, filters]);
  b.mod.node(b.prog, "conv2d", [b.alias(x!, [1, t, c]), b.weight(layer, "kernel")], [y], spec, layer.name);
  const z = use_bias ? b.addBias(y, b.weight(layer, "bias")) : y;
  return b.alias(b.activation(z, activation as ActivationName), [p.out, filters]);
};

/** 1-D pooling is 2-D pooling over a [1, T, C] view (windows 1 × pool_size). */
export function lowerPool1d(kind: "max" | "avg"): Lowering {
  return (b, layer, [x]) => {
    const { pool_size: k, strides: s, padding: pad } = a(layer);
    const [t, c] = x!.shape as [number, number];
    const p = padding(t, k, s, 1, pad);
    const y = b.act([1, p.out, c]);
    const attrs = { kind, h: 1, w: t, c, oh: 1, ow: p.out, padTop: 0, padLeft: p.before, ph: 1, pw: k, sh: 1, sw: s };
    b.mod.node(b.prog, "pool2d", [b.alias(x!, [1, t, c])], [y], attrs, layer.name);
    return b.alias(y, [p.out, c]);
  };
}

/** Global 1-D pooling: one 1 × T window over a [1, T, C] view. */
export function lowerGlobalPool1d(kind: "max" | "avg"): Lowering {
  return (b, layer, [x]) => {
    const [t, c] = x!.shape as [number, number];
    const y = b.act([c]);
    const attrs = { kind, h: 1, w: t, c, oh: 1, ow: 1, padTop: 0, padLeft: 0, ph: 1, pw: t, sh: 1, sw: t };
    b.mod.node(b.prog, "pool2d", [b.alias(x!, [1, t, c])], [y], attrs, layer.name);
    return a(layer).keepdims ? b.alias(y, [1, c]) : y;
  };
}

export function lowerPool2d(kind: "max" | "avg"): Lowering {
  return (b, layer, [x]) => {
    const { pool_size, strides, padding: pad } = a(layer);
    const g = window2d(layer, x!, pool_size, strides, [1, 1], pad);
    const y = b.act([g.oh, g.ow, g.c]);
    b.mod.node(b.prog, "pool2d", [x!], [y], { kind, ...g, ph: pool_size[0], pw: pool_size[1], sh: strides[0], sw: strides[1] }, layer.name);
    return y;
  };
}

/** Global pooling is pooling with one window over the whole image (and the pooling gradient). */
export function lowerGlobalPool2d(kind: "max" | "avg"): Lowering {
  return (b, layer, [x]) => {
    const [h, w, c] = x!.shape as [number, number, number];
    const y = b.act([c]);
    b.mod.node(b.prog, "pool2d", [x!], [y], { kind, h, w, c, oh: 1, ow: 1, padTop: 0, padLeft: 0, ph: h, pw: w, sh: h, sw: w }, layer.name);
    return a(layer).keepdims ? b.alias(y, [1, 1, c]) : y;
  };
}

export const lowerReshape: Lowering = (b, layer, [x]) => b.alias(x!, layer.shape);

export const lowerActivation: Lowering = (b, layer, [x]) => b.activation(x!, a(layer).activation);
export const lowerSoftmax: Lowering = (b, layer, [x]) => b.softmax(x!, a(layer).axis);

export const lowerDropout: Lowering = (b, layer, [x]) => {
  const { rate } = a(layer);
  // Dropout is active in every training step, frozen or not (only batch normalization is special).
  if (b.mode !== "train" || rate === 0) return b.alias(x!, x!.shape);
  const mask = b.act(x!.shape);
  b.mod.node(b.prog, "dropout_mask", [b.state.rng!], [mask], { n: { batch: numel(x!.shape) }, rate, stream: b.state.dropoutStreams++ }, layer.name);
  return b.ew(X.mul(X.in(0), X.in(1)), [[x!, FULL], [mask, FULL]], b.act(x!.shape));
};

/**
 * (x − mean)·rsqrt(var + ε), times γ and plus β when the layer has them (Keras `scale` and
 * `center`), over inputs [x, mean, var, γ?, β?] in that order.
 */
function normalized(eps: number, gamma: boolean, beta: boolean): EwExpr {
  let e = X.mul(X.sub(X.in(0), X.in(1)), X.un("rsqrt", X.add(X.in(2), X.c(eps))));
  if (gamma) e = X.mul(e, X.in(3));
  if (beta) e = X.add(e, X.in(gamma ? 4 : 3));
  return e;
}

/** A layer's gamma and beta, each absent when `scale` / `center` is false (Keras creates no weight then). */
function affineWeights(b: Builder, layer: Layer): { gamma?: Tensor; beta?: Tensor } {
  const { scale, center } = a(layer);
  return { gamma: scale === false ? undefined : b.weight(layer, "gamma"), beta: center === false ? undefined : b.weight(layer, "beta") };
}

/** The ew of `normalized` with x full, the statistics through `stats`, γ and β through `channel`. */
function normalizeEw(b: Builder, layer: Layer, x: Tensor, mean: Tensor, variance: Tensor, stats: EwInput, channel: EwInput, cols: number): Tensor {
  const { gamma, beta } = affineWeights(b, layer);
  const inputs: [Tensor, EwInput][] = [[x, FULL], [mean, stats], [variance, stats]];
  if (gamma) inputs.push([gamma, channel]);
  if (beta) inputs.push([beta, channel]);
  return b.ew(normalized(a(layer).epsilon, !!gamma, !!beta), inputs, b.act(x.shape), cols);
}

/** Normalization over the last axis `c` of a [rows, c] view: y = (x − mean)·rsqrt(var + ε)·γ + β. */
function normalize(b: Builder, layer: Layer, x: Tensor, mean: Tensor, meanIn: EwInput, variance: Tensor): Tensor {
  const c = x.shape.at(-1)!;
  return normalizeEw(b, layer, x, mean, variance, meanIn, perCol(c), c);
}

/**
 * `fn` on x with the per-example axes `axes` (sorted) moved last, in order, and its result moved
 * back: one permuting copy each way (their gradients are the reverse copies), none when the axes
 * are last already.
 */
export function onAxesLast(b: Builder, x: Tensor, axes: readonly number[], fn: (moved: Tensor) => Tensor): Tensor {
  const perm = [...x.shape.keys()].filter((i) => !axes.includes(i)).concat(axes);
  if (perm.every((p, i) => p === i)) return fn(x);
  const inverse = perm.map((_, i) => perm.indexOf(i));
  const moved = permuteCopy(b, x, perm);
  return permuteCopy(b, fn(moved), inverse);
}

/** Batch normalization (Keras): statistics per channel of `axis`, over the batch and every other axis. */
export const lowerBatchNorm: Lowering = (b, layer, [x]) => {
  const axis: number = a(layer).axis;
  if (axis === x!.shape.length - 1) return batchNormLastAxis(b, layer, x!);
  // Per example, x is [P, C, Q] with C on `axis`.
  const pre = numel(x!.shape.slice(0, axis)), c = x!.shape[axis]!, post = numel(x!.shape.slice(axis + 1));
  if (!b.training(layer)) return batchNormMoving(b, layer, x!, { div: post, mod: c }, pre * c * post);
  // Batch statistics: move the channel axis last ([P, C, Q] → [P, Q, C]), normalize there, move it
  // back. Two strided copies, whose gradients are the reverse copies, reuse the last-axis
  // lowering and its gradient unchanged.
  const toLast = { shape: [{ batch: pre }, c, post], srcStrides: [c * post, post, 1], dstStrides: [post * c, 1, c] };
  const moved = b.act([pre, post, c]);
  b.copy(x!, moved, toLast);
  const y = batchNormLastAxis(b, layer, moved);
  const out = b.act(x!.shape);
  b.copy(y, out, { shape: toLast.shape, srcStrides: toLast.dstStrides, dstStrides: toLast.srcStrides });
  return out;
};

/** Inference-mode batch normalization with the moving statistics, channel `channel` of each element. */
function batchNormMoving(b: Builder, layer: Layer, x: Tensor, channel: EwInput, cols: number): Tensor {
  return normalizeEw(b, layer, x, b.weight(layer, "moving_mean"), b.weight(layer, "moving_variance"), channel, channel, cols);
}

/** Batch normalization over the last axis: the channels are the columns of a [rows, c] view. */
function batchNormLastAxis(b: Builder, layer: Layer, x: Tensor): Tensor {
  const { momentum } = a(layer);
  const c = x!.shape.at(-1)!;
  const [mm, mv] = ["moving_mean", "moving_variance"].map((n) => b.weight(layer, n)) as Tensor[];
  if (!b.training(layer)) return normalize(b, layer, x!, mm!, perCol(c), mv!);
  const rows = numel(x!.shape) / c;
  const r = b.recipBatch(rows);
  const red = { outer: { batch: rows }, mid: 1, inner: c, axis: "outer", op: "sum" } as const;
  const mean = b.act([c], false);
  b.mod.node(b.prog, "reduce", [x!, r], [mean], { ...red, inputs: [FULL, SCALAR], pre: X.mul(X.in(0), X.in(1)) }, layer.name);
  const variance = b.act([c], false);
  const centered = X.sub(X.in(0), X.in(1));
  b.mod.node(b.prog, "reduce", [x!, mean, r], [variance], { ...red, inputs: [FULL, perCol(c), SCALAR], pre: X.mul(X.mul(centered, centered), X.in(2)) }, layer.name);
  // moving = momentum·moving + (1 − momentum)·batch, with the same biased variance (Keras).
  const ema = X.add(X.mul(X.c(momentum), X.in(0)), X.mul(X.c(1 - momentum), X.in(1)));
  b.ew(ema, [[mm!, FULL], [mean, FULL]], mm!, c);
  b.ew(ema, [[mv!, FULL], [variance, FULL]], mv!, c);
  return normalize(b, layer, x!, mean, perCol(c), variance);
}

/** Per row of a [rows, cols] view: mean and biased variance over the row, each of `shape` (rows elements). */
function rowMoments(b: Builder, layer: Layer, x: Tensor, cols: number, shape: number[]): { mean: Tensor; variance: Tensor } {
  const red = { outer: { batch: numel(shape) }, mid: cols, inner: 1, axis: "mid", op: "sum", scale: 1 / cols } as const;
  const mean = b.act(shape);
  b.mod.node(b.prog, "reduce", [x], [mean], { ...red, inputs: [FULL], pre: X.in(0) }, layer.name);
  const variance = b.act(shape);
  const centered = X.sub(X.in(0), X.in(1));
  b.mod.node(b.prog, "reduce", [x, mean], [variance], { ...red, inputs: [FULL, perRow(cols)], pre: X.mul(centered, centered) }, layer.name);
  return { mean, variance };
}

/**
 * Layer normalization over the per-example axes `axis` (one or a list): those axes are moved last
 * (sorted, which is also the order of gamma's and beta's flat values, as Keras reshapes them),
 * each example's positions of the other axes are rows of a [rows, cols] view, cols the product of
 * the normalized sizes; the statistics are row moments, gamma and beta apply per column.
 */
export const lowerLayerNorm: Lowering = (b, layer, [x]) => {
  const given: number | number[] = a(layer).axis;
  const axes = (Array.isArray(given) ? [...given] : [given]).sort((p, q) => p - q);
  return onAxesLast(b, x!, axes, (moved) => {
    const cols = numel(axes.map((i) => x!.shape[i]!));
    const { mean, variance } = rowMoments(b, layer, moved, cols, [numel(moved.shape) / cols, 1]);
    return normalizeEw(b, layer, moved, mean, variance, perRow(cols), perCol(cols), cols);
  });
};

/**
 * Group normalization (Keras 3 GroupNormalization, channels last): the C channels are split into
 * `groups` runs of C/groups; each example's statistics are taken per group over every position
 * and the group's channels. Per example x is [S, G, k] (S positions, k = C/G); a strided copy
 * makes it [G, S·k], whose rows are the groups, the moments are row reductions there, and the
 * normalized rows are copied back to [S, C] (the copies' gradients are the reverse copies), where
 * gamma and beta apply per channel.
 */
export const lowerGroupNorm: Lowering = (b, layer, [x]) => {
  // Another channel axis: the same with that axis moved last.
  return onAxesLast(b, x!, [a(layer).axis], (moved) => groupNormLastAxis(b, layer, moved));
};

function groupNormLastAxis(b: Builder, layer: Layer, x: Tensor | undefined): Tensor {
  const groups: number = a(layer).groups;
  const c = x!.shape.at(-1)!, k = c / groups, positions = numel(x!.shape) / c;
  let rowsIn = x!;
  const toGroups = { shape: [{ batch: 1 }, positions, groups, k], srcStrides: [positions * c, c, k, 1], dstStrides: [positions * c, k, positions * k, 1] };
  if (positions > 1 && groups > 1) {
    rowsIn = b.act([groups, positions * k]);
    b.copy(x!, rowsIn, toGroups);
  }
  const cols = positions * k;
  const { mean, variance } = rowMoments(b, layer, rowsIn, cols, [groups, 1]);
  const eps: number = a(layer).epsilon;
  const inGroups = b.ew(normalized(eps, false, false), [[rowsIn, FULL], [mean, perRow(cols)], [variance, perRow(cols)]], b.act(rowsIn.shape), cols);
  let y = inGroups;
  if (rowsIn !== x!) {
    y = b.act(x!.shape);
    b.copy(inGroups, y, { shape: toGroups.shape, srcStrides: toGroups.dstStrides, dstStrides: toGroups.srcStrides });
  }
  const { gamma, beta } = affineWeights(b, layer);
  if (!gamma && !beta) return y;
  let e = X.in(0);
  const inputs: [Tensor, EwInput][] = [[y, FULL]];
  if (gamma) { e = X.mul(e, X.in(1)); inputs.push([gamma, perCol(c)]); }
  if (beta) { e = X.add(e, X.in(inputs.length)); inputs.push([beta, perCol(c)]); }
  return b.ew(e, inputs, b.act(x!.shape), c);
}

export const lowerEmbedding: Lowering = (b, layer, [ids]) => {
  const { input_dim, output_dim } = a(layer);
  const y = b.act([...ids!.shape, output_dim]);
  b.mod.node(b.prog, "gather", [ids!, b.weight(layer, "embeddings")], [y], { rows: { batch: numel(ids!.shape) }, dim: output_dim, vocab: input_dim }, layer.name);
  return y;
};

export const lowerPositionEmbedding: Lowering = (b, layer, [x]) => {
  // Decode: the row of each example's position, looked up like a token id.
  if (b.decode) {
    const y = b.act(x!.shape);
    b.mod.node(b.prog, "gather", [b.decode.position, b.weight(layer, "embeddings")], [y], { rows: { batch: 1 }, dim: x!.shape[1]!, vocab: a(layer).sequence_length }, layer.name);
    return y;
  }
  // The first T rows of the table, the same for every example: a [T·D] vector repeated per example.
  const n = numel(x!.shape);
  return b.ew(X.in(0), [[b.weight(layer, "embeddings"), perCol(n)]], b.act(x!.shape), n);
};

const MERGE_OPS = { add: "add", multiply: "mul", average: "add", maximum: "max", minimum: "min", subtract: "sub" } as const satisfies Record<string, EwBinary>;

export function lowerMerge(kind: keyof typeof MERGE_OPS): Lowering {
  return (b, layer, xs) => {
    const op = MERGE_OPS[kind];
    let expr = X.in(0);
    for (let i = 1; i < xs.length; i++) expr = X.bin(op, expr, X.in(i));
    if (kind === "average") expr = X.mul(expr, X.c(1 / xs.length));
    const full = xs.map((x) => broadcastTo(b, x, layer.shape));
    return b.ew(expr, full.map((x) => [x, FULL] as [Tensor, typeof FULL]), b.act(layer.shape));
  };
}

/**
 * A batched tensor in the layout of the per-example shape `out` it broadcasts to (Keras 3
 * merges): itself when it has as many elements (only leading 1s differ), else a strided copy that
 * repeats it along each broadcast run (stride 0 in the source). The copy's gradient is the reverse
 * copy accumulating into those repeated elements, i.e. the sum over the broadcast axes.
 */
export function broadcastTo(b: Builder, x: Tensor, out: readonly number[]): Tensor {
  const n = numel([...out]), own = numel(x.shape);
  if (own === n) return x;
  const runs = broadcastRuns(x.shape, out);
  const sizes = runs.map((r) => r.size);
  const srcStrides: number[] = [], dstStrides: number[] = [];
  let src = 1, dst = 1;
  for (let k = runs.length - 1; k >= 0; k--) {
    dstStrides[k] = dst;
    dst *= runs[k]!.size;
    srcStrides[k] = runs[k]!.broadcast ? 0 : src;
    if (!runs[k]!.broadcast) src *= runs[k]!.size;
  }
  const y = b.act([...out]);
  b.copy(x, y, { shape: [{ batch: 1 }, ...sizes], srcStrides: [own, ...srcStrides], dstStrides: [n, ...dstStrides] });
  return y;
}

export const lowerConcatenate: Lowering = (b, layer, xs) => {
  const axis: number = a(layer).axis;
  const y = b.act(layer.shape);
  const pre = numel(layer.shape.slice(0, axis));
  const inner = numel(layer.shape.slice(axis + 1));
  const total = layer.shape[axis]! * inner;
  let offset = 0;
  for (const x of xs) {
    const run = x.shape[axis]! * inner;
    b.copy(x, y, { shape: [{ batch: 1 }, pre, run], srcStrides: [pre * run, run, 1], dstStrides: [pre * total, total, 1], dstOffset: offset });
    offset += run;
  }
  return y;
};
