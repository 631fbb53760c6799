/** random_normal: normal noise (mean, stddev) of one noise layer for one step, from the counter-based RNG state. */
import type { Dim } from "../ir/ir.js";
import { emitRandomNormal } from "../emit/dropout.js";
import type { PrimDef } from "./prim.js";

export interface RandomNormalAttrs { n: Dim; mean: number; stddev: number; stream: number }

export const random_normal: PrimDef<"random_normal"> = {
  grad: { none: "random noise: its only input is the RNG state" },
  select: (node, _ctx, $) => ({
    def: emitRandomNormal({ n: $.dim(node.attrs.n), mean: node.attrs.mean, stddev: node.attrs.stddev, stream: node.attrs.stream }),
    args: { out: $.ptr($.out(0)), rng: $.ptr($.in(0)) },
  }),
  threads: {},
};
