/**
 * Depthwise 2-D convolution (NHWC, kernel [kh, kw, c, m], output channel c·m + j) and its two
 * gradients. The filter gradient runs per chunk of examples like conv2d's (passes/schedule.ts:
 * chunkFilterGradients), so threaded builds split it by examples and sum in chunk order.
 */
import { numel, type Tensor } from "../ir/ir.js";
import { intlit } from "../emit/code.js";
import {
  emitDepthwiseConv2d, emitDepthwiseConv2dGradFilter, emitDepthwiseConv2dGradInput, type DepthwiseSpec,
} from "../emit/depthwise.js";
import { emitChunkedGradFilter } from "../emit/chunks.js";
import type { GradRule, PrimDef } from "./prim.js";

export type DepthwiseConv2dAttrs = DepthwiseSpec;
export type DepthwiseConv2dGradInputAttrs = DepthwiseSpec;
export interface DepthwiseConv2dGradFilterAttrs extends DepthwiseSpec {
  /** Set by chunkFilterGradients: the output holds one partial gradient per chunk of this many examples. */
  chunk?: number;
}

const grad: GradRule<"depthwise_conv2d"> = (node, ctx) => {
  const [x, w] = node.inputs.map((i) => ctx.mod.t(i)) as [Tensor, Tensor];
  const dy = ctx.gradOf(ctx.mod.t(node.outputs[0]!))!;
  // (a fused epilogue belongs to the forward only; autodiff runs before fusion, so there is none yet)
  const { accumulate: _, bias: _b, scale: _s, activation: _a, ...spec } = node.attrs;
  if (ctx.needs(x)) ctx.contribute(x, { full: true, emit: (t, acc) => void ctx.mod.node(ctx.prog, "depthwise_conv2d_grad_input", [dy, w], [t], { ...spec, accumulate: acc }, ctx.layer) });
  if (ctx.needs(w)) ctx.contribute(w, { full: true, emit: (t, acc) => void ctx.mod.node(ctx.prog, "depthwise_conv2d_grad_filter", [x, dy], [t], { ...spec, accumulate: acc }, ctx.layer) });
};

const SECOND_ORDER = "a gradient kernel: kiln takes first derivatives only";

export const depthwise_conv2d: PrimDef<"depthwise_conv2d"> = {
  grad,
  // Fused epilogue inputs (fuse.ts, fold-batch-norm.ts): [x, w, bias, scale].
  select: (node, _ctx, $) => ({
    def: emitDepthwiseConv2d(node.attrs),
    args: {
      x: $.ptr($.in(0)), w: $.ptr($.in(1)), y: $.ptr($.out(0)),
      ...(node.attrs.bias ? { bias: $.ptr($.in(2)) } : {}), ...(node.attrs.scale ? { scale: $.ptr($.in(3)) } : {}), n: $.batch,
    },
  }),
  threads: { batch: (_n, outsBatched) => outsBatched },
};

export const depthwise_conv2d_grad_input: PrimDef<"depthwise_conv2d_grad_input"> = {
  grad: { none: SECOND_ORDER },
  select: (node, _ctx, $) => ({
    def: emitDepthwiseConv2dGradInput(node.attrs),
    args: { dy: $.ptr($.in(0)), w: $.ptr($.in(1)), dx: $.ptr($.out(0)), n: $.batch },
  }),
  threads: { batch: (_n, outsBatched) => outsBatched },
};

export const depthwise_conv2d_grad_filter: PrimDef<"depthwise_conv2d_grad_filter"> = {
  chunkedOverBatch: true,
  grad: { none: SECOND_ORDER },
  select(node, ctx, $) {
    const { chunk, ...spec } = node.attrs;
    const whole = emitDepthwiseConv2dGradFilter(spec);
    const args = { x: $.ptr($.in(0)), dy: $.ptr($.in(1)), dw: $.ptr($.out(0)), scratch: $.scratch, n: $.batch };
    if (!chunk) return { def: whole, args };
    // One partial per chunk of examples, as conv2d_grad_filter: a thread's share starts on a chunk boundary.
    const partialBytes = 4 * $.out(0).shape[1]!;
    const def = emitChunkedGradFilter(whole, chunk, 4 * numel($.in(0).shape), 4 * numel($.in(1).shape), partialBytes);
    if (ctx.batchOffset) args.dw = `${args.dw} + <usize>(${ctx.batchOffset} / ${chunk}) * ${intlit(partialBytes)}`;
    return { def, args };
  },
  threads: { batch: (n) => !!n.attrs.chunk },
};
