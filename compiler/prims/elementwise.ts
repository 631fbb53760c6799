/**
 * ew: one fused elementwise loop over an [rows, cols] domain computing one expression per output
 * (compiler/ir/expr.ts) from broadcast inputs; `fill`: one value everywhere; `constant`: a list of
 * compile-time values (per-channel constants of rescaling and normalization). The ew gradient rule is
 * symbolic (ir/expr-diff.ts): the derivative expression times dy, reduced over whatever an
 * input is broadcast along — `reduce` shares it (`domainGrad`).
 */
import { numel, type Dim, type Tensor } from "../ir/ir.js";
import { X, type EwExpr, type EwInput, type EwUnary } from "../ir/expr.js";
import { diff } from "../ir/expr-diff.js";
import { emitElementwise as emitElementwiseUncached } from "../emit/elementwise.js";
import { emitConstant as emitConstantUncached, emitFill as emitFillUncached } from "../emit/copy.js";
import { isBatchDim, type GradContext, type GradRule, type PrimDef } from "./prim.js";
import { memoized } from "../emit/kernel.js";

// Selection runs once per node; equal specs get the kernel already built (emit/kernel.ts: memoized).
const emitElementwise = memoized(emitElementwiseUncached);
const emitFill = memoized(emitFillUncached);
const emitConstant = memoized(emitConstantUncached);

export interface EwAttrs {
  rows: Dim;
  cols: number;
  inputs: EwInput[];
  /** One expression per output. */
  exprs: EwExpr[];
  accumulate?: boolean[];
}

export interface FillAttrs { n: Dim; value: number }

/** Compile-time values of an unbatched tensor of `values.length` elements (numbers from the checked graph). */
export interface ConstantAttrs { values: number[] }

/**
 * The gradient of input j of an elementwise domain [rows, cols] whose value is `expr` over
 * `inputs`: the domain-wide product d(expr)/d(in_j)·dy, reduced over whatever input j is
 * broadcast along. `dy` is appended as the last input with its own broadcast.
 */
export function domainGrad(ctx: GradContext, layer: string, rows: Dim, cols: number, inputs: [Tensor, EwInput][], expr: EwExpr, j: number, dy: [Tensor, EwInput], scale = 1): void {
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
const FROM_OUTPUT: Partial<Record<EwUnary, (y: EwExpr) => EwExpr>> = {
  relu: (y) => X.positive(y),
  sigmoid: (y) => X.mul(y, X.sub(X.c(1), y)),
  tanh: (y) => X.sub(X.c(1), X.un("square", y)),
};

const grad: GradRule<"ew"> = (node, ctx) => {
  const a = node.attrs;
  const ins = node.inputs.map((i, j) => [ctx.mod.t(i), a.inputs[j]!] as [Tensor, EwInput]);
  const out = ctx.mod.t(node.outputs[0]!);
  const dy = ctx.gradOf(out);
  if (!dy) return;
  const expr = a.exprs[0]!;
  const fromOutput = expr.k === "un" && expr.a.k === "in" ? FROM_OUTPUT[expr.op] : undefined;
  if (fromOutput && ins.length === 1 && ins[0]![1].div === 1 && ins[0]![1].mod === undefined) {
    // y = act(x): dx = act'(y)·dy, so the pre-activation need not be kept (and fuses away).
    const d = X.times(fromOutput(X.in(0)), X.in(1));
    ctx.contribute(ins[0]![0], { full: true, emit: (t, acc) => void ctx.mod.node(ctx.prog, "ew", [out, dy], [t], { rows: a.rows, cols: a.cols, inputs: [{ div: 1 }, { div: 1 }], exprs: [d], accumulate: [acc] }, ctx.layer) });
    return;
  }
  for (let j = 0; j < ins.length; j++) domainGrad(ctx, ctx.layer, a.rows, a.cols, ins, expr, j, [dy, { div: 1 }]);
};

export const ew: PrimDef<"ew"> = {
  grad,
  select(node, _ctx, $) {
    const a = node.attrs;
    const def = emitElementwise({
      rows: $.dim(a.rows), cols: a.cols,
      inputs: a.inputs.map((m, i) => ({ ...m, dtype: $.in(i).dtype })),
      outputs: a.exprs.map((expr, i) => ({ expr, accumulate: !!a.accumulate?.[i] })),
    });
    const args: Record<string, string> = {};
    node.inputs.forEach((_, i) => (args[`in${i}`] = $.ptr($.in(i))));
    node.outputs.forEach((_, i) => (args[`out${i}`] = $.ptr($.out(i))));
    return { def, args };
  },
  threads: {
    batch: (n, outsBatched) => outsBatched && isBatchDim(n.attrs.rows),
    // One loop storing each element once (e.g. batch normalization's per-channel scale and bias,
    // folded from its weights at every predict): on every thread, so the conv after it need not wait.
    replicate: (n) => !n.attrs.accumulate?.some(Boolean),
  },
};

export const fill: PrimDef<"fill"> = {
  grad: { none: "a constant: it has no inputs" },
  select: (node, _ctx, $) => ({ def: emitFill({ n: $.dim(node.attrs.n), value: node.attrs.value }), args: { out: $.ptr($.out(0)) } }),
  threads: { batch: (n, outsBatched) => outsBatched && isBatchDim(n.attrs.n) },
};

export const constant: PrimDef<"constant"> = {
  grad: { none: "compile-time values: it has no inputs" },
  select: (node, _ctx, $) => ({ def: emitConstant({ values: node.attrs.values }), args: { out: $.ptr($.out(0)) } }),
  threads: {},
};
