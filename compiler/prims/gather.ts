/** gather: rows of a table by integer ids (embeddings); scatter_add: its gradient, rows added back. */
import type { Dim, Tensor } from "../ir/ir.js";
import { emitGather, emitScatterAdd } from "../emit/gather.js";
import { isBatchDim, type GradRule, type PrimDef } from "./prim.js";

export interface GatherAttrs { rows: Dim; dim: number; vocab: number }

const grad: GradRule<"gather"> = (node, ctx) => {
  const [ids, table] = node.inputs.map((i) => ctx.mod.t(i)) as [Tensor, Tensor];
  const dy = ctx.gradOf(ctx.mod.t(node.outputs[0]!))!;
  // Only the rows that were used receive gradient: zero the table's gradient, then scatter-add.
  ctx.contribute(table, { full: false, emit: (t) => void ctx.mod.node(ctx.prog, "scatter_add", [ids, dy], [t], node.attrs, ctx.layer) });
};

export const gather: PrimDef<"gather"> = {
  grad,
  select: (node, _ctx, $) => ({
    def: emitGather({ ...node.attrs, rows: $.dim(node.attrs.rows) }),
    args: { ids: $.ptr($.in(0)), table: $.ptr($.in(1)), out: $.ptr($.out(0)) },
  }),
  threads: { batch: (n, outsBatched) => outsBatched && isBatchDim(n.attrs.rows) },
};

export const scatter_add: PrimDef<"scatter_add"> = {
  grad: { none: "a gradient kernel: kiln takes first derivatives only" },
  select: (node, _ctx, $) => ({
    def: emitScatterAdd({ ...node.attrs, rows: $.dim(node.attrs.rows) }),
    args: { ids: $.ptr($.in(0)), dy: $.ptr($.in(1)), dtable: $.ptr($.out(0)) },
  }),
  // Rows of different examples may add into the same table row: one thread, in order.
  threads: {},
};
