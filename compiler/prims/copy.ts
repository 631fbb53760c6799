/** copy: a strided copy (or accumulation) of a box of elements; shape[0] may be a batch Dim. Offsets and strides in elements. */
import { numel, type Dim } from "../ir/ir.js";
import { emitCopy as emitCopyUncached } from "../emit/copy.js";
import { isBatchDim, type GradRule, type PrimDef } from "./prim.js";
import { memoized } from "../emit/kernel.js";

// Selection runs once per node; equal specs get the kernel already built (emit/kernel.ts: memoized).
const emitCopy = memoized(emitCopyUncached);

export interface CopyAttrs {
  shape: Dim[];
  srcStrides: number[];
  dstStrides: number[];
  srcOffset?: number;
  dstOffset?: number;
  accumulate?: boolean;
}

const size = (d: Dim) => (typeof d === "number" ? d : d.batch);

const grad: GradRule<"copy"> = (node, ctx) => {
  const a = node.attrs;
  const src = ctx.mod.t(node.inputs[0]!);
  const dDst = ctx.gradOf(ctx.mod.t(node.outputs[0]!))!;
  const covered = a.shape.reduce((p: number, d) => p * size(d), 1);
  const contiguous = a.srcStrides.every((s, i) => s === numel(a.shape.slice(i + 1).map(size)));
  const full = !a.srcOffset && contiguous && covered === numel(src.shape);
  const back = { shape: a.shape, srcStrides: a.dstStrides, dstStrides: a.srcStrides, srcOffset: a.dstOffset, dstOffset: a.srcOffset };
  ctx.contribute(src, { full, emit: (t, acc) => void ctx.mod.node(ctx.prog, "copy", [dDst], [t], { ...back, accumulate: acc }, ctx.layer) });
};

export const copy: PrimDef<"copy"> = {
  grad,
  select(node, _ctx, $) {
    const a = node.attrs;
    const def = emitCopy({ shape: a.shape.map((d) => $.dim(d)), srcStrides: a.srcStrides, dstStrides: a.dstStrides, accumulate: a.accumulate });
    return { def, args: { src: $.ptr($.in(0), a.srcOffset ?? 0), dst: $.ptr($.out(0), a.dstOffset ?? 0) } };
  },
  threads: { batch: (n, outsBatched) => outsBatched && isBatchDim(n.attrs.shape[0]) },
};
