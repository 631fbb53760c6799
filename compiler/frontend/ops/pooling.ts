/**
 * Pooling: max/average over 2-D windows (strides default to pool_size, as Keras), and the global
 * pools that reduce [H, W, C] to [C]. No weights.
 */
import type { OpDef } from "./op.js";
import { boolAttr, expectRank, pair, pairAttr, single, singleAttr, withDefaults } from "./attrs.js";
import { PADDING_ATTR, windowShape } from "./conv.js";
import { lowerGlobalPool1d, lowerGlobalPool2d, lowerPool1d, lowerPool2d } from "../../passes/lower/layers.js";

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

/** Keras's keepdims: the pooled axes stay, of size 1 (MobileNetV3's squeeze-and-excitation pools so). */
const KEEPDIMS = boolAttr("Keep the pooled axes with size 1 (Keras keepdims).", false);

function globalPool(name: "global_average_pooling2d" | "global_max_pooling2d", kind: string): OpDef {
  return {
    lower: lowerGlobalPool2d(name === "global_max_pooling2d" ? "max" : "avg"),
    name,
    description: `Global ${kind} pooling over H and W: [H, W, C] -> [C] ([1, 1, C] with keepdims).`,
    minInputs: 1,
    maxInputs: 1,
    attrs: { keepdims: KEEPDIMS },
    normalize(raw) { return withDefaults(this.attrs, raw); },
    shape: ([x], a, ctx) => (expectRank(ctx, name, "[H, W, C]", 3) ? (a.keepdims ? [1, 1, x[2]!] : [x[2]!]) : undefined),
    weights: () => [],
  };
}

export const max_pooling2d = pool2d("max_pooling2d", "Max");
export const average_pooling2d = pool2d("average_pooling2d", "Average");
export const global_average_pooling2d = globalPool("global_average_pooling2d", "average");
export const global_max_pooling2d = globalPool("global_max_pooling2d", "max");

function pool1d(name: "max_pooling1d" | "average_pooling1d", kind: string): OpDef {
  return {
    lower: lowerPool1d(name === "max_pooling1d" ? "max" : "avg"),
    name,
    description: `${kind} pooling over 1-D windows of steps, channels last: [T, C] -> [T', C].`,
    minInputs: 1,
    maxInputs: 1,
    attrs: {
      pool_size: singleAttr("Window length: an int or [p].", 2),
      strides: singleAttr("Stride: an int or [s]; defaults to pool_size."),
      padding: PADDING_ATTR,
    },
    normalize(raw) {
      const a = withDefaults(this.attrs, raw);
      a.pool_size = single(a.pool_size);
      a.strides = a.strides === undefined ? a.pool_size : single(a.strides);
      return a;
    },
    shape([x], a, ctx) {
      if (!expectRank(ctx, name, "[T, C]", 2)) return undefined;
      const t = windowShape(x, [a.pool_size as number], [a.strides as number], [1], a.padding as string, "pool", "pool_size", ctx);
      return t && [t[0]!, x[1]!];
    },
    weights: () => [],
  };
}

function globalPool1d(name: "global_average_pooling1d" | "global_max_pooling1d", kind: string): OpDef {
  return {
    lower: lowerGlobalPool1d(name === "global_max_pooling1d" ? "max" : "avg"),
    name,
    description: `Global ${kind} pooling over the steps: [T, C] -> [C] ([1, C] with keepdims).`,
    minInputs: 1,
    maxInputs: 1,
    attrs: { keepdims: KEEPDIMS },
    normalize(raw) { return withDefaults(this.attrs, raw); },
    shape: ([x], a, ctx) => (expectRank(ctx, name, "[T, C]", 2) ? (a.keepdims ? [1, x[1]!] : [x[1]!]) : undefined),
    weights: () => [],
  };
}

export const max_pooling1d = pool1d("max_pooling1d", "Max");
export const average_pooling1d = pool1d("average_pooling1d", "Average");
export const global_average_pooling1d = globalPool1d("global_average_pooling1d", "average");
export const global_max_pooling1d = globalPool1d("global_max_pooling1d", "max");
