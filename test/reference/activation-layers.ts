/**
 * Reference Keras activation layers: ReLU (max_value, negative_slope, threshold), LeakyReLU
 * (negative_slope 0.3), ELU (alpha) and PReLU (alpha of the example's shape with 1 on each shared
 * axis, broadcast over the batch): y = relu(x) − alpha·relu(−x).
 */

import { RawLayer, fail, num } from "./attrs.js";
import { reluScalar, reluSlope } from "./activations.js";
import { LayerContext, LayerFn, single } from "./layers.js";
import { Tensor, affine, mul, relu, sub, unary } from "./tensor.js";

function maxValue(layer: RawLayer): number | null {
  const v = layer.max_value;
  if (v === undefined || v === null) return null;
  return num(layer, "max_value");
}

function reluLayer(ctx: LayerContext): Tensor {
  const [mv, slope, threshold] = [maxValue(ctx.layer), num(ctx.layer, "negative_slope", 0), num(ctx.layer, "threshold", 0)];
  return unary("relu_layer", single(ctx), (v) => reluScalar(v, mv, slope, threshold), (v) => reluSlope(v, mv, slope, threshold));
}

function leakyReluLayer(ctx: LayerContext): Tensor {
  const slope = num(ctx.layer, "negative_slope", 0.3);
  return unary("leaky_relu_layer", single(ctx), (v) => (v > 0 ? v : slope * v), (v) => (v > 0 ? 1 : slope));
}

function eluLayer(ctx: LayerContext): Tensor {
  const alpha = num(ctx.layer, "alpha", 1);
  return unary("elu_layer", single(ctx), (v) => (v > 0 ? v : alpha * Math.expm1(v)), (v) => (v > 0 ? 1 : alpha * Math.exp(v)));
}

function preluLayer(ctx: LayerContext): Tensor {
  const x = single(ctx);
  const rank = x.shape.length;
  const raw = ctx.layer.shared_axes ?? [];
  if (!Array.isArray(raw)) fail(ctx.layer, `shared_axes must be a list of axes, got ${JSON.stringify(raw)}`);
  const shared = raw.map((a: number) => (a < 0 ? a + rank : a));
  if (shared.some((a: number) => !Number.isInteger(a) || a < 1 || a >= rank)) fail(ctx.layer, `shared_axes ${JSON.stringify(raw)} are not axes of one example`);
  const alpha = ctx.weight("alpha", x.shape.slice(1).map((d, i) => (shared.includes(i + 1) ? 1 : d)));
  return sub(relu(x), mul(alpha, relu(affine(x, -1))));
}

export const ACTIVATION_LAYERS: Record<string, LayerFn> = {
  relu: reluLayer,
  leaky_relu: leakyReluLayer,
  elu: eluLayer,
  prelu: preluLayer,
};
