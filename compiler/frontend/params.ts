/**
 * Parameter counting, as Keras reports it: every weight element counts; moving statistics and the
 * weights of frozen layers are non-trainable; elements Keras keeps and kiln does not
 * (OpDef.kerasOnlyParams: Normalization's count) count as non-trainable too.
 */
import type { Graph, Layer, WeightSpec } from "./graph-types.js";
import { lookupOp } from "./ops/index.js";

export interface ParamCounts {
  trainable: number;
  nonTrainable: number;
  total: number;
}

export function weightSize(w: WeightSpec): number {
  return w.shape.reduce((a, b) => a * b, 1);
}

export function layerParams(layer: Layer): ParamCounts {
  let trainable = 0;
  let nonTrainable = 0;
  for (const w of layer.weights) {
    if (w.trainable) trainable += weightSize(w);
    else nonTrainable += weightSize(w);
  }
  nonTrainable += lookupOp(layer.op)?.kerasOnlyParams?.(layer.attrs) ?? 0;
  return { trainable, nonTrainable, total: trainable + nonTrainable };
}

export function countParams(graph: Graph): ParamCounts {
  const sum: ParamCounts = { trainable: 0, nonTrainable: 0, total: 0 };
  for (const layer of graph.layers) {
    const c = layerParams(layer);
    sum.trainable += c.trainable;
    sum.nonTrainable += c.nonTrainable;
    sum.total += c.total;
  }
  return sum;
}
