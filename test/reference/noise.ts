/**
 * Reference noise layers: spatial dropout (the keep-mask, one value per element as for dropout,
 * must be the same at every position of a channel: Keras noise_shape (batch, 1, …, C)), gaussian
 * noise (x + noise) and gaussian dropout (x · factor), the noise given by the caller. All are the
 * identity outside training.
 */

import { fail, num } from "./attrs.js";
import { LayerContext, LayerFn, single } from "./layers.js";
import { Tensor, add, mul, tensor } from "./tensor.js";

function spatialDropout(rank: number) {
  return (ctx: LayerContext): Tensor => {
    const x = single(ctx);
    if (x.shape.length !== rank + 1) fail(ctx.layer, `expects inputs of ${rank} axes per example, got [${x.shape.slice(1)}]`);
    const rate = num(ctx.layer, "rate");
    if (rate < 0 || rate >= 1) fail(ctx.layer, `rate must be in [0, 1), got ${rate}`);
    if (!ctx.training || rate === 0) return x;
    const m = ctx.dropoutMask;
    if (!m || m.length !== x.size) fail(ctx.layer, `training needs a keep-mask of ${x.size} elements, got ${m?.length ?? "none"}`);
    const c = x.shape[rank];
    const perExample = x.size / x.shape[0];
    for (let i = 0; i < x.size; i++) {
      const first = Math.floor(i / perExample) * perExample + (i % c);
      if (m[i] !== m[first]) fail(ctx.layer, `the keep-mask differs within channel ${i % c} (element ${i}): spatial dropout drops whole channels`);
    }
    return mul(x, tensor(x.shape, m.map((v) => v / (1 - rate))));
  };
}

function gaussian(kind: "noise" | "dropout") {
  return (ctx: LayerContext): Tensor => {
    const x = single(ctx);
    const amount = num(ctx.layer, kind === "noise" ? "stddev" : "rate");
    if (!ctx.training || amount === 0) return x;
    const z = ctx.noise;
    if (!z || z.length !== x.size) fail(ctx.layer, `training needs ${x.size} noise values, got ${z?.length ?? "none"}`);
    const t = tensor(x.shape, z);
    return kind === "noise" ? add(x, t) : mul(x, t);
  };
}

export const NOISE_LAYERS: Record<string, LayerFn> = {
  spatial_dropout1d: spatialDropout(2),
  spatial_dropout2d: spatialDropout(3),
  gaussian_noise: gaussian("noise"),
  gaussian_dropout: gaussian("dropout"),
};
