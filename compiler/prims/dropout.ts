/** dropout_mask: the keep mask (0 or 1/(1 − rate)) of one dropout layer for one step, from the counter-based RNG state. */
import type { Dim } from "../ir/ir.js";
import { emitDropoutMask } from "../emit/dropout.js";
import type { PrimDef } from "./prim.js";

export interface DropoutMaskAttrs { n: Dim; rate: number; stream: number }

export const dropout_mask: PrimDef<"dropout_mask"> = {
  grad: { none: "a random mask: its only input is the RNG state" },
  select: (node, _ctx, $) => ({
    def: emitDropoutMask({ n: $.dim(node.attrs.n), rate: node.attrs.rate, stream: node.attrs.stream }),
    args: { mask: $.ptr($.out(0)), rng: $.ptr($.in(0)) },
  }),
  threads: {},
};
