/** 2-D max/average pooling (NHWC) and its gradient. */
import type { Tensor } from "../ir/ir.js";
import { emitPool2d, emitPool2dGrad } from "../emit/pool.js";
import type { GradRule, PrimDef } from "./prim.js";

export interface Pool2dAttrs {
  kind: "max" | "avg";
  h: number; w: number; c: number;
  /** Window and strides. */
  ph: number; pw: number; sh: number; sw: number;
  /** Padding before (top/left); the rest is implied by oh/ow. */
  padTop: number; padLeft: number;
  oh: number; ow: number;
}

export interface Pool2dGradAttrs extends Pool2dAttrs {
  /** Fused by fuse.ts (max, tiling windows): dx is multiplied by relu'(x) = (x > 0 ? 1 : 0). */
  reluGrad?: boolean;
}

const grad: GradRule<"pool2d"> = (node, ctx) => {
  const x: Tensor = ctx.mod.t(node.inputs[0]!);
  const dy = ctx.gradOf(ctx.mod.t(node.outputs[0]!))!;
  ctx.contribute(x, { full: true, canAccumulate: false, emit: (t) => void ctx.mod.node(ctx.prog, "pool2d_grad", [x, dy], [t], node.attrs, ctx.layer) });
};

export const pool2d: PrimDef<"pool2d"> = {
  grad,
  select: (node, _ctx, $) => ({ def: emitPool2d(node.attrs), args: { x: $.ptr($.in(0)), y: $.ptr($.out(0)), n: $.batch } }),
  threads: { batch: (_n, outsBatched) => outsBatched },
};

export const pool2d_grad: PrimDef<"pool2d_grad"> = {
  grad: { none: "a gradient kernel: kiln takes first derivatives only" },
  select: (node, _ctx, $) => ({ def: emitPool2dGrad(node.attrs), args: { x: $.ptr($.in(0)), dy: $.ptr($.in(1)), dx: $.ptr($.out(0)), n: $.batch } }),
  threads: { batch: (_n, outsBatched) => outsBatched },
};
