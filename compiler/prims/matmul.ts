/**
 * matmul: C (+)= alpha·op(A)·op(B) (+ bias, activation once fusion folded them in), with
 * explicit leading dimensions, element offsets into each operand and up to two strided batch
 * levels (attention's per-head products). Inputs [A, B] (+ bias [n] as a third input after fusion).
 */
import type { ActivationName } from "../frontend/graph-types.js";
import { numel, type Dim, type NodeOf, type Tensor } from "../ir/ir.js";
import { emitMatmul as emitMatmulUncached } from "../emit/matmul.js";
import { isBatchDim, columnParts, type GradRule, type PrimDef } from "./prim.js";
import { memoized } from "../emit/kernel.js";

// Selection runs once per node; equal specs get the kernel already built (emit/kernel.ts: memoized).
const emitMatmul = memoized(emitMatmulUncached);

export interface MatmulBatchLevel { count: Dim; strideA: number; strideB: number; strideC: number }

export interface MatmulAttrs {
  m: Dim; n: number; k: Dim;
  transA?: boolean; transB?: boolean;
  lda?: number; ldb?: number; ldc?: number;
  /** Element offsets into A, B and C. */
  offA?: number; offB?: number; offC?: number;
  batch?: MatmulBatchLevel[];
  alpha?: number;
  accumulate?: boolean;
  /** Fused by fuse.ts: the bias is the third input; then the activation. */
  bias?: boolean;
  /** Set by fold-batch-norm (predict, evaluate): act(sum·scale + bias), the per-column scale the fourth input. */
  scale?: boolean;
  /** Fused by fuse.ts: a tensor shaped as the output added before the activation (a residual add), the last input. */
  residual?: boolean;
  activation?: ActivationName;
}

/** Leading dims of a matmul operand, made explicit (row-major defaults). */
export function leadingDims(a: MatmulAttrs): { lda: number; ldb: number; ldc: number } {
  const num = (d: Dim, what: string) => {
    if (typeof d !== "number") throw new Error(`internal: matmul ${what} needs an explicit leading dimension`);
    return d;
  };
  return {
    lda: a.lda ?? (a.transA ? num(a.m, "lda") : num(a.k, "lda")),
    ldb: a.ldb ?? (a.transB ? num(a.k, "ldb") : a.n),
    ldc: a.ldc ?? a.n,
  };
}

/** Does a matmul operand view cover its whole tensor (so its gradient is a full write)? */
function wholeView(a: MatmulAttrs, off: number | undefined, ld: number, rows: Dim, cols: Dim, t: Tensor): boolean {
  if (off || a.batch?.length) return false;
  if (typeof cols !== "number" || ld !== cols) return false;
  const n = typeof rows === "number" ? rows * cols : rows.batch * cols;
  return n === numel(t.shape) && (typeof rows === "number") === !t.batched;
}

function swapBatch(batch: MatmulBatchLevel[] | undefined, map: (l: MatmulBatchLevel) => { strideA: number; strideB: number; strideC: number }) {
  return batch?.map((l) => ({ count: l.count, ...map(l) }));
}

const grad: GradRule<"matmul"> = (node, ctx) => {
  const a = node.attrs;
  const [A, B] = node.inputs.map((i) => ctx.mod.t(i)) as [Tensor, Tensor];
  const dC = ctx.gradOf(ctx.mod.t(node.outputs[0]!))!;
  const { lda, ldb, ldc } = leadingDims(a);
  const common = { alpha: a.alpha };
  if (ctx.needs(A)) {
    if (typeof a.k !== "number") throw new Error("internal: matmul input gradient with a runtime reduction size");
    const attrs = !a.transA
      ? { m: a.m, n: a.k, k: a.n, transA: false, transB: !a.transB, lda: ldc, ldb, ldc: lda, offA: a.offC, offB: a.offB, offC: a.offA,
          batch: swapBatch(a.batch, (l) => ({ strideA: l.strideC, strideB: l.strideB, strideC: l.strideA })) }
      : { m: a.k, n: a.m as number, k: a.n, transA: !!a.transB, transB: true, lda: ldb, ldb: ldc, ldc: lda, offA: a.offB, offB: a.offC, offC: a.offA,
          batch: swapBatch(a.batch, (l) => ({ strideA: l.strideB, strideB: l.strideC, strideC: l.strideA })) };
    const rows = a.transA ? a.k : a.m, cols = a.transA ? a.m : a.k;
    const [x, y] = a.transA ? [B, dC] : [dC, B];
    ctx.contribute(A, {
      full: wholeView(a, a.offA, lda, rows, cols, A),
      emit: (t, acc) => void ctx.mod.node(ctx.prog, "matmul", [x, y], [t], { ...common, ...attrs, accumulate: acc }, ctx.layer),
    });
  }
  if (ctx.needs(B)) {
    const attrs = !a.transB
      ? { m: a.k, n: a.n, k: a.m, transA: !a.transA, transB: false, lda, ldb: ldc, ldc: ldb, offA: a.offA, offB: a.offC, offC: a.offB,
          batch: swapBatch(a.batch, (l) => ({ strideA: l.strideA, strideB: l.strideC, strideC: l.strideB })) }
      : { m: a.n, n: a.k, k: a.m, transA: true, transB: !!a.transA, lda: ldc, ldb: lda, ldc: ldb, offA: a.offC, offB: a.offA, offC: a.offB,
          batch: swapBatch(a.batch, (l) => ({ strideA: l.strideC, strideB: l.strideA, strideC: l.strideB })) };
    if (typeof attrs.n !== "number") throw new Error("internal: matmul weight gradient with a runtime output width");
    const [x, y] = a.transB ? [dC, A] : [A, dC];
    const rows = a.transB ? a.n : a.k, cols = a.transB ? a.k : a.n;
    ctx.contribute(B, {
      full: wholeView(a, a.offB, ldb, rows, cols, B),
      emit: (t, acc) => void ctx.mod.node(ctx.prog, "matmul", [x, y], [t], { ...common, ...attrs, n: attrs.n as number, accumulate: acc }, ctx.layer),
    });
  }
};

/** Column parts of C = op(A)·op(B): each part is the same product over a slice of C's columns. */
function matmulParts(node: NodeOf<"matmul">, parts: number): NodeOf<"matmul">[] | undefined {
  const a = node.attrs;
  if (a.n < 8 * parts || a.bias || a.residual) return undefined;
  const { lda, ldb, ldc } = leadingDims(a);
  return columnParts(a.n, parts, 8).map(([c0, cn]) => ({
    ...node,
    attrs: {
      ...a, n: cn, lda, ldb, ldc,
      offB: (a.offB ?? 0) + (a.transB ? c0 * ldb : c0),
      offC: (a.offC ?? 0) + c0,
    },
  }));
}

export const matmul: PrimDef<"matmul"> = {
  grad,
  select(node, ctx, $) {
    const a = node.attrs;
    const def = emitMatmul({
      m: $.dim(a.m), n: a.n, k: $.dim(a.k), transA: a.transA, transB: a.transB, lda: a.lda, ldb: a.ldb, ldc: a.ldc,
      batch: a.batch?.map((l) => ({ ...l, count: $.dim(l.count) })), alpha: a.alpha, accumulate: a.accumulate,
      bias: !!a.bias, scale: !!a.scale, residual: !!a.residual, activation: a.activation, relaxed: ctx.relaxed,
    });
    const args: Record<string, string> = { a: $.ptr($.in(0), a.offA), b: $.ptr($.in(1), a.offB), c: $.ptr($.out(0), a.offC), scratch: $.scratch };
    if (a.bias) args.bias = $.ptr($.in(2));
    if (a.scale) args.scale = $.ptr($.in(3));
    if (a.residual) args.residual = $.ptr($.in(node.inputs.length - 1));
    return { def, args };
  },
  threads: {
    // Row-wise over a batch-sized m (or an outer batch level), with a constant reduction size.
    batch: (n, outsBatched) => outsBatched && typeof n.attrs.k === "number" && (isBatchDim(n.attrs.m) || isBatchDim(n.attrs.batch?.[0]?.count)),
    // Weight gradients (a sum over the batch into an unbatched C): fixed column parts.
    parts: (n, parts, outsBatched) => (!outsBatched && !n.attrs.batch?.length ? matmulParts(n, parts) : undefined),
  },
};
