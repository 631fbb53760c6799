/**
 * reduce: a sum over one axis of an [outer, mid, inner] domain (axis "mid": per outer row;
 * "outer": over the rows) of a fused `pre` expression, optionally scaled; `recip_batch`:
 * 1/(batch·k), the scale of a mean over the batch, computed when the entry point starts.
 */
import type { Dim, Tensor } from "../ir/ir.js";
import type { EwExpr, EwInput } from "../ir/expr.js";
import type { KernelDef } from "../emit/kernel.js";
import { emitReduce as emitReduceUncached, storesOnce } from "../emit/reduce.js";
import { domainGrad } from "./elementwise.js";
import { isBatchDim, type GradRule, type PrimDef } from "./prim.js";
import { memoized } from "../emit/kernel.js";

// Selection runs once per node; equal specs get the kernel already built (emit/kernel.ts: memoized).
const emitReduce = memoized(emitReduceUncached);

export interface ReduceAttrs {
  outer: Dim; mid: number; inner: number;
  axis: "mid" | "outer";
  op: "sum";
  inputs: EwInput[];
  pre: EwExpr;
  scale?: number;
  accumulate?: boolean;
  /** Further sums over the same rows added to the first (emit/reduce.ts; schedule.ts: mergeAccumulatedSums, after autodiff). */
  terms?: EwExpr[];
}

export interface RecipBatchAttrs { k: number }

const grad: GradRule<"reduce"> = (node, ctx) => {
  const a = node.attrs;
  if (a.terms?.length) throw new Error("internal: no gradient for a reduction with terms (they are made after autodiff)");
  const dy = ctx.gradOf(ctx.mod.t(node.outputs[0]!));
  if (!dy) return;
  // The reduction's domain is [outer, mid·inner]; dy broadcasts over the reduced axis.
  let dyMap: EwInput;
  if (a.axis === "outer") dyMap = { div: 1, mod: a.mid * a.inner };
  else if (a.inner === 1) dyMap = { div: a.mid };
  else if (a.mid === 1) dyMap = { div: 1 };
  else throw new Error("internal: no gradient for a middle-axis reduction with inner > 1");
  const ins = node.inputs.map((i, j) => [ctx.mod.t(i), a.inputs[j]!] as [Tensor, EwInput]);
  for (let j = 0; j < ins.length; j++) domainGrad(ctx, ctx.layer, a.outer, a.mid * a.inner, ins, a.pre, j, [dy, dyMap], a.scale ?? 1);
};

export const reduce: PrimDef<"reduce"> = {
  grad,
  select(node, _ctx, $) {
    const a = node.attrs;
    const def = emitReduce({ ...a, outer: $.dim(a.outer), inputs: a.inputs.map((m, i) => ({ ...m, dtype: $.in(i).dtype })) });
    const args: Record<string, string> = { out: $.ptr($.out(0)) };
    node.inputs.forEach((_, i) => (args[`in${i}`] = $.ptr($.in(i))));
    return { def, args };
  },
  threads: {
    // Per example only when each outer row is reduced on its own.
    batch: (n, outsBatched) => outsBatched && n.attrs.axis === "mid" && isBatchDim(n.attrs.outer),
    // A sum over the examples (batch statistics, bias gradients) on every thread, so the batch
    // call reading it need not wait for thread 0 — unless it adds to its output or stores partials.
    replicate: (n, maxBatch) => storesOnce({ ...n.attrs, outer: typeof n.attrs.outer === "number" ? n.attrs.outer : n.attrs.outer.batch * maxBatch }),
  },
};

export const recip_batch: PrimDef<"recip_batch"> = {
  grad: { none: "a function of the batch size only" },
  select(node, _ctx, $) {
    const n = $.dim({ batch: node.attrs.k }) as string;
    const def: KernelDef = { key: "recip_batch", label: "1/(batch·k)", params: [{ name: "out", type: "usize" }, { name: n, type: "i32" }], body: `store<f32>(out, <f32>1.0 / <f32>${n});` };
    return { def: { ...def, key: `recip_batch:${n}` }, args: { out: $.ptr($.out(0)) } };
  },
  // One store of a value every thread computes alike.
  threads: { replicate: () => true },
};
