/**
 * The optimizer's primitives (lowered by passes/lower/optimizer.ts after the backward pass):
 *  opt_sumsq   out[0] += Σ g² (for clipping by norm);
 *  opt_step    the step's scalars: counts the step in the state (in place), learning rate, Adam's
 *              bias corrections, the global clipping scale → `hyper`;
 *  opt_clip    a per-weight clipping scale from its Σ g² → `hyper`;
 *  opt_update  one fused sweep over a weight, its gradient and its slots (in place).
 */
import type { OptimizerSpec } from "../frontend/graph-types.js";
import { type StepScalarsSpec, emitClipScale, emitStepScalars, emitSumSquares, emitUpdate } from "../emit/optimizer.js";
import { columnParts, type PrimDef } from "./prim.js";

export type SlotName = "momentum" | "velocity";

export interface OptSumsqAttrs { n: number }
export type OptStepAttrs = OptimizerSpec;
export interface OptClipAttrs { clipnorm: number }
export type OptUpdateAttrs = OptimizerSpec & {
  /** Elements of the weight (of this column part, in a threaded build). */
  n: number;
  slotNames: SlotName[];
  /** A column part of a threaded build starts here (elements). */
  offset?: number;
};

/** What the step-scalar kernel reads of the optimizer (per-weight clipnorm is opt_clip's). */
function stepScalars(o: OptimizerSpec): StepScalarsSpec {
  const adam = o.type === "adam" || o.type === "adamw" ? o : undefined;
  return { type: o.type, learning_rate: o.learning_rate, beta_1: adam?.beta_1, beta_2: adam?.beta_2, global_clipnorm: o.global_clipnorm };
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
    const a = node.attrs;
    // `offset` (elements) selects a part of the sweep in threaded builds.
    const off = a.offset ?? 0;
    const slot = (name: SlotName) => {
      const i = a.slotNames.indexOf(name);
      return i < 0 ? "0" : $.ptr($.in(3 + i), off);
    };
    return { def: emitUpdate(a), args: { w: $.ptr($.in(0), off), g: $.ptr($.in(1), off), hyper: $.ptr($.in(2)), slot1: slot("momentum"), slot2: slot("velocity") } };
  },
  threads: {
    parts: (node, parts) => (node.attrs.n >= 64 * parts
      ? columnParts(node.attrs.n, parts, 4).map(([c0, cn]) => ({ ...node, attrs: { ...node.attrs, n: cn, offset: c0 } }))
      : undefined),
  },
};
