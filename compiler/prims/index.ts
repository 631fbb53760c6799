/**
 * The primitive registry: every primitive of the IR with its attributes, gradient rule, kernel
 * selection and thread split (prims/prim.ts says what a definition holds). `PrimAttrs` defines
 * the set of primitives (`PrimOp = keyof PrimAttrs`); `PRIMS` must define each one — the type
 * checker refuses a primitive without a complete definition.
 */
import type { PrimOp } from "../ir/ir.js";
import type { PrimDef } from "./prim.js";
import { matmul, type MatmulAttrs } from "./matmul.js";
import {
  chunk_sum, conv2d, conv2d_grad_filter, conv2d_grad_input,
  type ChunkSumAttrs, type Conv2dAttrs, type Conv2dGradFilterAttrs, type Conv2dGradInputAttrs,
} from "./conv.js";
import {
  depthwise_conv2d, depthwise_conv2d_grad_filter, depthwise_conv2d_grad_input,
  type DepthwiseConv2dAttrs, type DepthwiseConv2dGradFilterAttrs, type DepthwiseConv2dGradInputAttrs,
} from "./depthwise.js";
import { inverted_residual, type InvertedResidualAttrs } from "./inverted-residual.js";
import { pool2d, pool2d_grad, type Pool2dAttrs, type Pool2dGradAttrs } from "./pool.js";
import { constant, ew, fill, type ConstantAttrs, type EwAttrs, type FillAttrs } from "./elementwise.js";
import { recip_batch, reduce, type RecipBatchAttrs, type ReduceAttrs } from "./reduce.js";
import { softmax, softmax_grad, type SoftmaxAttrs } from "./softmax.js";
import { copy, type CopyAttrs } from "./copy.js";
import { gather, scatter_add, type GatherAttrs } from "./gather.js";
import { loss, type LossAttrs } from "./loss.js";
import { log_metric, type LogMetricAttrs } from "./metric.js";
import { dropout_mask, type DropoutMaskAttrs } from "./dropout.js";
import { recurrence, recurrence_grad, type RecurrenceAttrs } from "./recurrence.js";
import { random_normal, type RandomNormalAttrs } from "./random.js";
import { cached_attention, type CachedAttentionAttrs } from "./attention.js";
import {
  opt_clip, opt_step, opt_sumsq, opt_update, type OptClipAttrs, type OptStepAttrs, type OptSumsqAttrs, type OptUpdateAttrs,
} from "./optimizer.js";

export interface PrimAttrs {
  matmul: MatmulAttrs;
  conv2d: Conv2dAttrs;
  conv2d_grad_input: Conv2dGradInputAttrs;
  conv2d_grad_filter: Conv2dGradFilterAttrs;
  chunk_sum: ChunkSumAttrs;
  depthwise_conv2d: DepthwiseConv2dAttrs;
  depthwise_conv2d_grad_input: DepthwiseConv2dGradInputAttrs;
  depthwise_conv2d_grad_filter: DepthwiseConv2dGradFilterAttrs;
  inverted_residual: InvertedResidualAttrs;
  pool2d: Pool2dAttrs;
  pool2d_grad: Pool2dGradAttrs;
  ew: EwAttrs;
  fill: FillAttrs;
  constant: ConstantAttrs;
  reduce: ReduceAttrs;
  recip_batch: RecipBatchAttrs;
  softmax: SoftmaxAttrs;
  softmax_grad: SoftmaxAttrs;
  copy: CopyAttrs;
  gather: GatherAttrs;
  scatter_add: GatherAttrs;
  loss: LossAttrs;
  log_metric: LogMetricAttrs;
  dropout_mask: DropoutMaskAttrs;
  random_normal: RandomNormalAttrs;
  opt_sumsq: OptSumsqAttrs;
  opt_step: OptStepAttrs;
  opt_clip: OptClipAttrs;
  opt_update: OptUpdateAttrs;
  recurrence: RecurrenceAttrs;
  recurrence_grad: RecurrenceAttrs;
  cached_attention: CachedAttentionAttrs;
}

export const PRIMS: { readonly [K in PrimOp]: PrimDef<K> } = {
  matmul, conv2d, conv2d_grad_input, conv2d_grad_filter, chunk_sum,
  depthwise_conv2d, depthwise_conv2d_grad_input, depthwise_conv2d_grad_filter, inverted_residual, pool2d, pool2d_grad, ew, fill, constant, reduce, recip_batch,
  softmax, softmax_grad, copy, gather, scatter_add, loss, log_metric, dropout_mask, random_normal, opt_sumsq, opt_step, opt_clip, opt_update,
  recurrence, recurrence_grad, cached_attention,
};

/** The definition of a node's primitive (typed by the node). */
export function primOf<K extends PrimOp>(op: K): PrimDef<K> {
  return PRIMS[op] as PrimDef<K>;
}

export function isPrimOp(op: string): op is PrimOp {
  return Object.hasOwn(PRIMS, op);
}

export type { PrimDef } from "./prim.js";
