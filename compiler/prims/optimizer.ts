/**
 * The optimizer's primitives (lowered by passes/lower/optimizer.ts after the backward pass):
 *  opt_sumsq   out[0] += Σ g² (for clipping by norm);
 *  opt_step    the step's scalars: counts the step in the state (in place), learning rate, the
 *              optimizer's rate factor (Adam's bias correction), the global clipping scale → `hyper`;
 *  opt_clip    a per-weight clipping scale from its Σ g² → `hyper`;
 *  opt_update  one fused sweep over a weight, its gradient and its slots (in place).
 * What each optimizer does is its registry entry's (compiler/optimizers/).
 */
import type { OptimizerSpec } from "../frontend/graph-types.js";
import { emitClipScale, emitStepScalars, emitSumSquares, emitUpdate, slotParams } from "../emit/optimizer.js";
import { optimizerDef } from "../optimizers/index.js";
import { columnParts, type PrimDef } from "./prim.js";

export interface OptSumsqAttrs { n: number }
export type OptStepAttrs = OptimizerSpec;
export interface OptClipAttrs { clipnorm: number }
export type OptUpdateAttrs = OptimizerSpec & {
  /** Elements of the weight (of this column part, in a threaded build). */
  n: number;
  /** The slots kept per weight, in the order of the node's inputs after w, g and hyper. */
  slotNames: string[];
  /** A column part of a threaded build starts here (elements). */
  offset?: number;
};

/** What the step-scalar kernel reads of the optimizer (per-weight clipnorm is opt_clip's). */
function stepScalars(o: OptimizerSpec) {
  const { clipnorm: _perWeight, ...rest } = o;
  return rest;
}

const OPTIMIZER_STEP = "an optimizer step: it runs after the backward pass";

export const opt_sumsq: PrimDef<"opt_sumsq"> = {
  grad: { none: OPTIMIZER_STEP },
  select: (node, _ctx, $) => ({ def: emitSumSquares({ n: node.attrs.n }), args: { g: $.ptr($.in(0)), out: $.ptr($.out(0)) } }),
  threads: {},
};

export const opt_step: PrimDef<"opt_step"> = {
  grad: { none: OPTIMIZER_STEP },
  select: (node, _ctx, $) => ({ def: emitStepScalars(stepScalars(node.attrs)), args: { state: $.ptr($.in(0), 1), sumsq: $.ptr($.in(1)), hyper: $.ptr($.out(0)) } }),
  threads: {},
  // The step counter lives in the state it reads.
  writesInputs: [0],
};

export const opt_clip: PrimDef<"opt_clip"> = {
  grad: { none: OPTIMIZER_STEP },
  select: (node, _ctx, $) => ({ def: emitClipScale({ clipnorm: node.attrs.clipnorm }), args: { sumsq: $.ptr($.in(0)), hyper: $.ptr($.out(0)) } }),
  threads: {},
};

export const opt_update: PrimDef<"opt_update"> = {
  grad: { none: OPTIMIZER_STEP },
  select(node, _ctx, $) {
    const a = node.attrs, def = optimizerDef(a.type);
    // `offset` (elements) selects a part of the sweep in threaded builds.
    const off = a.offset ?? 0;
    const args: Record<string, string> = { w: $.ptr($.in(0), off), g: $.ptr($.in(1), off), hyper: $.ptr($.in(2)) };
    slotParams(def).forEach((param, k) => {
      const i = a.slotNames.indexOf(def.kernelSlots[k] ?? "");
      args[param] = i < 0 ? "0" : $.ptr($.in(3 + i), off);
    });
    return { def: emitUpdate(a), args };
  },
  threads: {
    parts: (node, parts) => (node.attrs.n >= 64 * parts
      ? columnParts(node.attrs.n, parts, 4).map(([c0, cn]) => ({ ...node, attrs: { ...node.attrs, n: cn, offset: c0 } }))
      : undefined),
  },
};
