/** Softmax over the middle axis of [outer, mid, inner] (optionally causal, for attention scores) and its gradient. */
import type { Dim } from "../ir/ir.js";
import { emitSoftmax, emitSoftmaxGrad } from "../emit/softmax.js";
import { isBatchDim, type GradRule, type PrimDef } from "./prim.js";

export interface SoftmaxAttrs {
  outer: Dim; mid: number; inner: number;
  /** Attention scores [·, t, s]: key j > query i + (s − t) is masked out. */
  causal?: { t: number; s: number };
  accumulate?: boolean;
}

const grad: GradRule<"softmax"> = (node, ctx) => {
  const x = ctx.mod.t(node.inputs[0]!);
  const y = ctx.mod.t(node.outputs[0]!);
  const dy = ctx.gradOf(y)!;
  ctx.contribute(x, { full: true, emit: (t, acc) => void ctx.mod.node(ctx.prog, "softmax_grad", [y, dy], [t], { ...node.attrs, accumulate: acc }, ctx.layer) });
};

export const softmax: PrimDef<"softmax"> = {
  grad,
  select: (node, _ctx, $) => ({ def: emitSoftmax({ ...node.attrs, outer: $.dim(node.attrs.outer) }), args: { x: $.ptr($.in(0)), y: $.ptr($.out(0)) } }),
  threads: { batch: (n, outsBatched) => outsBatched && isBatchDim(n.attrs.outer) },
};

export const softmax_grad: PrimDef<"softmax_grad"> = {
  grad: { none: "a gradient kernel: kiln takes first derivatives only" },
  select: (node, _ctx, $) => ({
    def: emitSoftmaxGrad({ ...node.attrs, outer: $.dim(node.attrs.outer) }),
    args: { y: $.ptr($.in(0)), dy: $.ptr($.in(1)), dx: $.ptr($.out(0)) },
  }),
  threads: { batch: (n, outsBatched) => outsBatched && isBatchDim(n.attrs.outer) },
};
