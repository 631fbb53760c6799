/**
 * Pooling: max/average over 2-D windows (strides default to pool_size, as Keras), and the global
 * pools that reduce [H, W, C] to [C]. No weights.
 */
import type { OpDef } from "./op.js";
import { expectRank, pair, pairAttr, withDefaults } from "./attrs.js";
import { PADDING_ATTR, windowShape } from "./conv.js";
import { lowerGlobalPool2d, lowerPool2d } from "../../passes/lower/layers.js";

function pool2d(name: "max_pooling2d" | "average_pooling2d", kind: string): OpDef {
  return {
    lower: lowerPool2d(name === "max_pooling2d" ? "max" : "avg"),
    name,
    description: `${kind} pooling over 2-D windows, channels last: [H, W, C] -> [H', W', C].`,
    minInputs: 1,
    maxInputs: 1,
    attrs: {
      pool_size: pairAttr("Window size: an int or [ph, pw].", 2),
      strides: pairAttr("Stride: an int or [sh, sw]; defaults to pool_size."),
      padding: PADDING_ATTR,
    },
    normalize(raw) {
      const a = withDefaults(this.attrs, raw);
      a.pool_size = pair(a.pool_size);
      a.strides = a.strides === undefined ? [...(a.pool_size as number[])] : pair(a.strides);
      return a;
    },
    shape([x], a, ctx) {
      if (!expectRank(ctx, name, "[H, W, C]", 3)) return undefined;
      const hw = windowShape(x, a.pool_size as number[], a.strides as number[], [1, 1], a.padding as string, "pool", "pool_size", ctx);
      return hw && [...hw, x[2]];
    },
    weights: () => [],
  };
}

function globalPool(name: "global_average_pooling2d" | "global_max_pooling2d", kind: string): OpDef {
  return {
    lower: lowerGlobalPool2d(name === "global_max_pooling2d" ? "max" : "avg"),
    name,
    description: `Global ${kind} pooling over H and W: [H, W, C] -> [C].`,
    minInputs: 1,
    maxInputs: 1,
    attrs: {},
    normalize: () => ({}),
    shape: ([x], _a, ctx) => (expectRank(ctx, name, "[H, W, C]", 3) ? [x[2]] : undefined),
    weights: () => [],
  };
}

export const max_pooling2d = pool2d("max_pooling2d", "Max");
export const average_pooling2d = pool2d("average_pooling2d", "Average");
export const global_average_pooling2d = globalPool("global_average_pooling2d", "average");
export const global_max_pooling2d = globalPool("global_max_pooling2d", "max");
