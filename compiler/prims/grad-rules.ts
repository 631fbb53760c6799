/**
 * The primitives' gradient rules, one per op, next to each other (the kernels they become are
 * chosen in emit/kernels.ts). A rule reads the node and the gradients of its outputs and
 * contributes to the gradients of its inputs; the autodiff pass sums the contributions.
 *
 * Attribute shapes (IR):
 *  matmul   {m, n, k, transA?, transB?, lda?, ldb?, ldc?, offA?, offB?, offC?, batch?, alpha?, accumulate?, bias?, activation?}
 *           inputs [A, B] (+ bias [n] as a third input once fusion folded it in)
 *  conv2d / conv2d_grad_input / conv2d_grad_filter  {h, w, c, f, kh, kw, sh, sw, dh, dw, padTop, padLeft, oh, ow}
 *           conv2d_grad_filter after fuse.ts: chunkFilterGradients also {chunk}: one partial per chunk
 *  chunk_sum {n, chunk, accumulate?, offset?}: out[n] (+)= Σ over ⌈batch / chunk⌉ partials [·, n]
 *  pool2d / pool2d_grad  {kind, h, w, c, ph, pw, sh, sw, padTop, padLeft, oh, ow}
 *  ew       {rows, cols, inputs: EwInput[], exprs: EwExpr[], accumulate?: boolean[]}
 *  reduce   {outer, mid, inner, axis, op: "sum", inputs, pre, scale?, accumulate?}
 *  softmax / softmax_grad  {outer, mid, inner, causal?}
 *  copy     {shape, srcStrides, dstStrides, srcOffset?, dstOffset?, accumulate?}
 *  gather / scatter_add  {rows, dim, vocab}
 */
import type { Contribution, GradContext, GradRule } from "../passes/autodiff.js";
import { diff } from "../ir/expr-diff.js";
import { X, type EwExpr, type EwInput } from "../ir/expr.js";
import { numel, type Dim, type Node, type Tensor } from "../ir/ir.js";


/** Leading dims of a matmul operand, made explicit (row-major defaults). */
export function leadingDims(a: any): { lda: number; ldb: number; ldc: number } {
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
function wholeView(a: any, off: number | undefined, ld: number, rows: Dim, cols: Dim, t: Tensor): boolean {
  if (off || a.batch?.length) return false;
  if (typeof cols !== "number" || ld !== cols) return false;
  const n = typeof rows === "number" ? rows * cols : rows.batch * cols;
  return n === numel(t.shape) && (typeof rows === "number") === !t.batched;
}

function swapBatch(batch: any[] | undefined, map: (l: any) => { strideA: number; strideB: number; strideC: number }) {
  return batch?.map((l) => ({ count: l.count, ...map(l) }));
}

const matmulGrad: GradRule = (node, ctx) => {
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
      : { m: a.k, n: a.m, k: a.n, transA: !!a.transB, transB: true, lda: ldb, ldb: ldc, ldc: lda, offA: a.offB, offB: a.offC, offC: a.offA,
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
      emit: (t, acc) => void ctx.mod.node(ctx.prog, "matmul", [x, y], [t], { ...common, ...attrs, accumulate: acc }, ctx.layer),
    });
  }
};

const conv2dGrad: GradRule = (node, ctx) => {
  const [x, w] = node.inputs.map((i) => ctx.mod.t(i)) as [Tensor, Tensor];
  const dy = ctx.gradOf(ctx.mod.t(node.outputs[0]!))!;
  const spec = node.attrs;
  if (ctx.needs(x)) ctx.contribute(x, { full: true, emit: (t, acc) => void ctx.mod.node(ctx.prog, "conv2d_grad_input", [dy, w], [t], { ...spec, accumulate: acc }, ctx.layer) });
  if (ctx.needs(w)) ctx.contribute(w, { full: true, emit: (t, acc) => void ctx.mod.node(ctx.prog, "conv2d_grad_filter", [x, dy], [t], { ...spec, accumulate: acc }, ctx.layer) });
};

const pool2dGrad: GradRule = (node, ctx) => {
  const x = ctx.mod.t(node.inputs[0]!);
  const dy = ctx.gradOf(ctx.mod.t(node.outputs[0]!))!;
  ctx.contribute(x, { full: true, canAccumulate: false, emit: (t) => void ctx.mod.node(ctx.prog, "pool2d_grad", [x, dy], [t], node.attrs, ctx.layer) });
};

/**
 * The gradient of input j of an elementwise domain [rows, cols] whose value is `expr` over
 * `inputs`: the domain-wide product d(expr)/d(in_j)·dy, reduced over whatever input j is
 * broadcast along. `dy` is appended as the last input with its own broadcast.
 */
function domainGrad(ctx: GradContext, layer: string, rows: Dim, cols: number, inputs: [Tensor, EwInput][], expr: EwExpr, j: number, dy: [Tensor, EwInput], scale = 1) {
  const [x, bj] = inputs[j]!;
  if (!ctx.needs(x)) return;
  let d = X.times(diff(expr, j), X.in(inputs.length));
  if (scale !== 1) d = X.times(d, X.c(scale));
  const all = [...inputs, dy];
  const tensors = all.map((p) => p[0]);
  const maps = all.map((p) => p[1]);
  if (bj.div === 1 && bj.mod === undefined) {
    ctx.contribute(x, { full: true, emit: (t, acc) => void ctx.mod.node(ctx.prog, "ew", tensors, [t], { rows, cols, inputs: maps, exprs: [d], accumulate: [acc] }, layer) });
  } else if (bj.div === 1 && bj.mod === cols) {
    ctx.contribute(x, { full: numel(x.shape) === cols && !x.batched,
      emit: (t, acc) => void ctx.mod.node(ctx.prog, "reduce", tensors, [t], { outer: rows, mid: 1, inner: cols, axis: "outer", op: "sum", inputs: maps, pre: d, accumulate: acc }, layer) });
  } else if (bj.div === cols && bj.mod === undefined) {
    ctx.contribute(x, { full: true,
      emit: (t, acc) => void ctx.mod.node(ctx.prog, "reduce", tensors, [t], { outer: rows, mid: cols, inner: 1, axis: "mid", op: "sum", inputs: maps, pre: d, accumulate: acc }, layer) });
  } else {
    throw new Error(`internal: no gradient for broadcast {div:${bj.div}, mod:${bj.mod}} over [${JSON.stringify(rows)}, ${cols}]`);
  }
}

/** Activations whose derivative is cheaper from the output y than from the input x. */
const FROM_OUTPUT: Record<string, (y: EwExpr) => EwExpr> = {
  relu: (y) => X.positive(y),
  sigmoid: (y) => X.mul(y, X.sub(X.c(1), y)),
  tanh: (y) => X.sub(X.c(1), X.un("square", y)),
};

const ewGrad: GradRule = (node, ctx) => {
  const a = node.attrs;
  const ins = node.inputs.map((i, j) => [ctx.mod.t(i), a.inputs[j]] as [Tensor, EwInput]);
  const out = ctx.mod.t(node.outputs[0]!);
  const dy = ctx.gradOf(out);
  if (!dy) return;
  const expr: EwExpr = a.exprs[0];
  if (expr.k === "un" && expr.a.k === "in" && FROM_OUTPUT[expr.op] && ins.length === 1 && ins[0]![1].div === 1 && ins[0]![1].mod === undefined) {
    // y = act(x): dx = act'(y)·dy, so the pre-activation need not be kept (and fuses away).
    const d = X.times(FROM_OUTPUT[expr.op]!(X.in(0)), X.in(1));
    ctx.contribute(ins[0]![0], { full: true, emit: (t, acc) => void ctx.mod.node(ctx.prog, "ew", [out, dy], [t], { rows: a.rows, cols: a.cols, inputs: [{ div: 1 }, { div: 1 }], exprs: [d], accumulate: [acc] }, ctx.layer) });
    return;
  }
  for (let j = 0; j < ins.length; j++) domainGrad(ctx, ctx.layer, a.rows, a.cols, ins, expr, j, [dy, { div: 1 }]);
};

const reduceGrad: GradRule = (node, ctx) => {
  const a = node.attrs;
  if (a.op !== "sum") throw new Error(`internal: no gradient for reduce ${a.op}`);
  const dy = ctx.gradOf(ctx.mod.t(node.outputs[0]!));
  if (!dy) return;
  // The reduction's domain is [outer, mid·inner]; dy broadcasts over the reduced axis.
  let dyMap: EwInput;
  if (a.axis === "outer") dyMap = { div: 1, mod: a.mid * a.inner };
  else if (a.inner === 1) dyMap = { div: a.mid };
  else if (a.mid === 1) dyMap = { div: 1 };
  else throw new Error("internal: no gradient for a middle-axis reduction with inner > 1");
  const ins = node.inputs.map((i, j) => [ctx.mod.t(i), a.inputs[j]] as [Tensor, EwInput]);
  for (let j = 0; j < ins.length; j++) domainGrad(ctx, ctx.layer, a.outer, a.mid * a.inner, ins, a.pre, j, [dy, dyMap], a.scale ?? 1);
};

const softmaxGrad: GradRule = (node, ctx) => {
  const x = ctx.mod.t(node.inputs[0]!);
  const y = ctx.mod.t(node.outputs[0]!);
  const dy = ctx.gradOf(y)!;
  ctx.contribute(x, { full: true, emit: (t, acc) => void ctx.mod.node(ctx.prog, "softmax_grad", [y, dy], [t], { ...node.attrs, accumulate: acc }, ctx.layer) });
};

const copyGrad: GradRule = (node, ctx) => {
  const a = node.attrs;
  const src = ctx.mod.t(node.inputs[0]!);
  const dDst = ctx.gradOf(ctx.mod.t(node.outputs[0]!))!;
  const covered = a.shape.reduce((p: number, d: Dim) => p * (typeof d === "number" ? d : d.batch), 1);
  const contiguous = a.srcStrides.every((s: number, i: number) => s === numel(a.shape.slice(i + 1).map((d: Dim) => (typeof d === "number" ? d : d.batch))));
  const full = !a.srcOffset && contiguous && covered === numel(src.shape);
  const back = { shape: a.shape, srcStrides: a.dstStrides, dstStrides: a.srcStrides, srcOffset: a.dstOffset, dstOffset: a.srcOffset };
  ctx.contribute(src, { full, emit: (t, acc) => void ctx.mod.node(ctx.prog, "copy", [dDst], [t], { ...back, accumulate: acc }, ctx.layer) });
};

const gatherGrad: GradRule = (node, ctx) => {
  const [ids, table] = node.inputs.map((i) => ctx.mod.t(i)) as [Tensor, Tensor];
  const dy = ctx.gradOf(ctx.mod.t(node.outputs[0]!))!;
  // Only the rows that were used receive gradient: zero the table's gradient, then scatter-add.
  ctx.contribute(table, { full: false, emit: (t) => void ctx.mod.node(ctx.prog, "scatter_add", [ids, dy], [t], node.attrs, ctx.layer) });
};

export const GRAD_RULES: Partial<Record<Node["op"], GradRule>> = {
  matmul: matmulGrad,
  conv2d: conv2dGrad,
  pool2d: pool2dGrad,
  ew: ewGrad,
  reduce: reduceGrad,
  softmax: softmaxGrad,
  copy: copyGrad,
  gather: gatherGrad,
};

export type { Contribution };
