/**
 * dot (Keras Dot): the batchwise dot product of two inputs along one axis of each (`axes`, Keras
 * counting: 1 is the first axis of an example), optionally of their L2-normalized copies
 * (`normalize`: cosine similarity). Inputs of 1 or 2 axes per example; the output is the first
 * input's remaining axes followed by the second's, [1] when none remain (Keras batch_dot).
 * Lowered to one batched matmul (per example, the contracted axis read transposed where needed).
 */
import type { OpContext, OpDef } from "./op.js";
import type { Layer } from "../graph-types.js";
import { boolAttr, fmtShape, holdsAxes, kerasAxis, normAxis } from "./attrs.js";
import { FULL, X, perRow } from "../../ir/expr.js";
import { numel, type Tensor } from "../../ir/ir.js";
import type { Lowering } from "../../passes/lower/layers.js";
import type { Builder } from "../../passes/lower/builder.js";

/** Keras 3's L2 normalization: x·min(rsqrt(Σx²), 1/ε) with ε = backend.epsilon() = 1e-7. */
const L2_EPSILON = 1e-7;

/** The two per-example axes, normalized; undefined after reporting. */
function normAxes(raw: unknown, ctx: OpContext): [number, number] | undefined {
  const pair = Array.isArray(raw) ? raw as number[] : [raw as number, raw as number];
  const out: number[] = [];
  for (let i = 0; i < 2; i++) {
    const rank = ctx.inputShapes[i]!.length;
    // normAxis quotes input 0's shape in its messages: show it input i's.
    const forInput: OpContext = {
      layer: ctx.layer, path: ctx.path, inputShapes: [ctx.inputShapes[i]!], inputNames: [ctx.inputNames[i]!], axisCounting: ctx.axisCounting,
      error: (message, attr, code) => ctx.error(`input "${ctx.inputNames[i]}": ${message}`, attr, code),
    };
    const axis = normAxis(pair[i]!, rank, forInput, "axes");
    if (axis === undefined) return undefined;
    out.push(axis);
  }
  return out as [number, number];
}

export const dot: OpDef = {
  lower: lowerDot,
  name: "dot",
  description: "Batchwise dot product of two inputs along one axis of each (Keras Dot); inputs of 1 or 2 axes per example.",
  minInputs: 2,
  maxInputs: 2,
  attrs: {
    axes: holdsAxes({
      title: "an integer axis or a list of 2 integer axes",
      description: "The contracted axis of each input (one number: the same for both), counted as Keras does: 1 is the first axis of an example, -1 the last.",
      type: ["integer", "array"],
      minimum: -9,
      maximum: 8,
      items: { title: "an integer axis", type: "integer", minimum: -9, maximum: 8 },
      minItems: 2,
      maxItems: 2,
    }),
    normalize: boolAttr("L2-normalize both inputs along their contracted axis first (the output is then the cosine similarity).", false),
  },
  required: ["axes"],
  normalize(raw, ctx) {
    for (let i = 0; i < 2; i++) {
      const s = ctx.inputShapes[i]!;
      if (s.length < 1 || s.length > 2) {
        ctx.error(`dot takes inputs of 1 or 2 axes per example ([d] or [n, d]); input "${ctx.inputNames[i]}" has shape ${fmtShape(s)}`, "inputs", "shape");
        return undefined;
      }
    }
    const axes = normAxes(raw.axes, ctx);
    return axes && { axes, normalize: raw.normalize ?? false };
  },
  shape([x, y], a, ctx) {
    const [ax, ay] = a.axes as [number, number];
    if (x![ax] !== y![ay]) {
      ctx.error(`dot contracts axis ${kerasAxis(ax)} of "${ctx.inputNames[0]}" ${fmtShape(x!)} (size ${x![ax]}) with axis ${kerasAxis(ay)} of "${ctx.inputNames[1]}" ${fmtShape(y!)} (size ${y![ay]}); the sizes must be equal`, "axes", "shape");
      return undefined;
    }
    const rest = [...x!.filter((_, i) => i !== ax), ...y!.filter((_, i) => i !== ay)];
    return rest.length ? rest : [1];
  },
  weights: () => [],
};

/**
 * A per-example [rows, d] view of `t` whose rows are the vectors along `axis` (rank 1: one row;
 * axis last: the tensor itself; axis 0 of [d, n]: a transposed copy), L2-normalized when asked.
 * Returns the view and whether it is the tensor read transposed (no copy made).
 */
function contractedRows(b: Builder, t: Tensor, axis: number, normalize: boolean): { view: Tensor; transposed: boolean } {
  const last = axis === t.shape.length - 1;
  if (!normalize) return { view: t, transposed: !last };
  let rows = t;
  if (!last) {
    // [d, n] → [n, d], so that each normalized vector is a row (its gradient is the reverse copy).
    const [d, n] = t.shape as [number, number];
    rows = b.act([n, d]);
    b.copy(t, rows, { shape: [{ batch: 1 }, d, n], srcStrides: [d * n, n, 1], dstStrides: [d * n, 1, d] });
  }
  const d = rows.shape.at(-1)!;
  const count = numel(rows.shape) / d;
  const sums = b.act([count, 1]);
  b.mod.node(b.prog, "reduce", [rows], [sums], { outer: { batch: count }, mid: d, inner: 1, axis: "mid", op: "sum", inputs: [FULL], pre: X.mul(X.in(0), X.in(0)) }, b.layer);
  const scaled = X.mul(X.in(0), X.bin("min", X.un("rsqrt", X.in(1)), X.c(1 / L2_EPSILON)));
  return { view: b.ew(scaled, [[rows, FULL], [sums, perRow(d)]], b.act(rows.shape), d), transposed: false };
}

function lowerDot(b: Builder, layer: Layer, [x, y]: Tensor[]): Tensor {
  const [ax, ay] = (layer.attrs as { axes: [number, number] }).axes;
  const normalize = !!(layer.attrs as { normalize?: boolean }).normalize;
  const k = x!.shape[ax]!;
  const A = contractedRows(b, x!, ax, normalize), B = contractedRows(b, y!, ay, normalize);
  // A as [m, k] (or its transpose [k, m]), B as [n, k] (or [k, n] when read transposed).
  const m = numel(x!.shape) / k, n = numel(y!.shape) / k;
  const out = b.act(layer.shape);
  b.matmul(A.view, B.view, out, {
    m, n, k, transA: A.transposed, transB: !B.transposed,
    lda: A.transposed ? m : k, ldb: B.transposed ? n : k, ldc: n,
    batch: [{ count: { batch: 1 }, strideA: m * k, strideB: n * k, strideC: m * n }],
  });
  return out;
}
