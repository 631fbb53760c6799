/**
 * Reference Keras preprocessing layers, written from Keras 3's source
 * (keras/src/layers/preprocessing/rescaling.py, normalization.py), independently of the compiler:
 *  - Rescaling: inputs·scale + offset, numpy broadcasting (a list is one value per index of the last axis);
 *  - Normalization: the kept axes keep their own mean and variance, broadcast over the others
 *    (a list given as an argument lies on the last kept axis, Keras's right-to-left alignment);
 *    (x − mean) / max(√variance, 1e-7), inverted mean + x·max(√variance, 1e-7).
 */

import { fail } from "./attrs.js";
import { LayerContext, LayerFn, single } from "./layers.js";
import { Tensor, add, div, maximum, mul, reshape, scalar, sqrt, sub, tensor } from "./tensor.js";

/** Keras's backend.epsilon(). */
const EPSILON = 1e-7;

/** A number → a scalar; a list → a [n] tensor (numpy broadcasts it against the last axis). */
function values(ctx: LayerContext, key: string, dflt?: number): Tensor {
  const v = ctx.layer[key] ?? dflt;
  if (typeof v === "number") return scalar(v);
  if (Array.isArray(v) && v.length > 0 && v.every((e) => typeof e === "number")) return tensor([v.length], v);
  fail(ctx.layer, `attribute ${key} must be a number or a list of numbers, got ${JSON.stringify(v)}`);
}

function rescaling(ctx: LayerContext): Tensor {
  return add(mul(single(ctx), values(ctx, "scale")), values(ctx, "offset", 0));
}

/** Keras's `_keep_axis`: the axes (of the full tensor, batch = 0) that keep their own statistics, sorted. */
function keepAxes(ctx: LayerContext, rank: number): number[] {
  const raw = ctx.layer.axis === undefined ? -1 : ctx.layer.axis;
  const list = raw === null ? [] : Array.isArray(raw) ? raw : [raw];
  const keep = list.map((a: unknown) => {
    if (typeof a !== "number" || !Number.isInteger(a) || a < -rank || a >= rank) fail(ctx.layer, `axis ${JSON.stringify(raw)} is out of range for rank ${rank}`);
    return a < 0 ? a + rank : a;
  });
  if (keep.includes(0)) fail(ctx.layer, "axis 0 is the batch axis");
  return keep.sort((p, q) => p - q);
}

function normalization(ctx: LayerContext): Tensor {
  const x = single(ctx);
  const rank = x.shape.length;
  const keep = keepAxes(ctx, rank);
  const broadcastShape = x.shape.map((d, i) => (keep.includes(i) ? d : 1));
  let mean: Tensor, variance: Tensor;
  if (ctx.layer.mean === undefined || ctx.layer.mean === null) {
    const shape = keep.map((i) => x.shape[i]);
    mean = reshape(ctx.weight("mean", shape), broadcastShape);
    variance = reshape(ctx.weight("variance", shape), broadcastShape);
  } else {
    // Keras build(): a scalar broadcasts everywhere; a list is reshaped onto the last kept axis.
    const placed = (t: Tensor) => (t.shape.length === 0 ? t : reshape(t, x.shape.map((_, i) => (i === keep.at(-1) ? t.size : 1))));
    mean = placed(values(ctx, "mean"));
    variance = placed(values(ctx, "variance"));
  }
  const spread = maximum(sqrt(variance), scalar(EPSILON));
  return ctx.layer.invert === true ? add(mean, mul(x, spread)) : div(sub(x, mean), spread);
}

export const PREPROCESSING_LAYERS: Record<string, LayerFn> = { rescaling, normalization };
