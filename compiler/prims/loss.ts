/**
 * loss: one output's Keras loss (spec §3), weighted per example, and in a training step the
 * loss's gradient with respect to the output (or, with a fused softmax, to the logits), scaled by
 * the output's loss weight. Inputs: [pred, target, sample weights]. Outputs: [the batch's loss
 * (f32 [1]), probs (fused softmax only), grad (training only)].
 */
import type { LossType } from "../frontend/graph-types.js";
import type { Dim } from "../ir/ir.js";
import { emitLoss, emitLossEval } from "../emit/loss.js";
import type { PrimDef } from "./prim.js";

export interface LossAttrs {
  type: LossType;
  fromLogits: boolean;
  rows: Dim;
  classes: number;
  fusedSoftmax: boolean;
  /** Rows per example: the sample weight of row r is that of example r / perExample. */
  perExample: number;
  /** Keras `loss_weights` entry: scales the gradient. */
  lossWeight: number;
  withGradient: boolean;
}

export const loss: PrimDef<"loss"> = {
  grad: { none: "the loss writes its own gradient (withGradient), which seeds the backward pass" },
  select(node, _ctx, $) {
    const a = node.attrs;
    const spec = { type: a.type, fromLogits: a.fromLogits, rows: $.dim(a.rows), classes: a.classes, fusedSoftmax: a.fusedSoftmax, perExample: a.perExample, lossWeight: a.lossWeight };
    const def = a.withGradient ? emitLoss(spec) : emitLossEval(spec);
    const args: Record<string, string> = { pred: $.ptr($.in(0)), target: $.ptr($.in(1)), sw: $.ptr($.in(2)), out: $.ptr($.out(0)) };
    if (a.fusedSoftmax) args.probs = $.ptr($.out(1));
    if (a.withGradient) args.grad = $.ptr($.out(a.fusedSoftmax ? 2 : 1));
    return { def, args };
  },
  // A mean over the whole batch: one thread.
  threads: {},
};
