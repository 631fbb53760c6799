/**
 * recurrence: a whole recurrent layer's sequential part in one kernel that loops over the T steps
 * (kept a loop in the generated code, so compile time and source size do not grow with T), and
 * recurrence_grad: its backward-through-time kernel, also one loop over T.
 *
 * Forward, per example: h₀ = c₀ = 0; step k reads input step t (T−1−k with go_backwards) of P
 * (= x·W + input bias, [T, G·u], computed by an ordinary matmul over all steps), adds h·U (and the
 * GRU reset_after recurrent bias RB) and applies the cell. Outputs: Y (the layer output: every
 * state, at position k or T−1−k with `reverseOutput`, or the last), Hp (h before each step, in step
 * order, for dU), Sv (what the backward needs per step: the gate activations, c for the LSTM, the
 * recurrent h̃ term q for GRU reset_after) and, for GRU reset_after=false, RH = r ⊙ h₋₁ (U_h's input).
 *
 * Backward: recurrence_grad gives the gradient of the gates' pre-activations per step, dZx in input
 * order (the gradient of P) and dZr in step order (the gradient of the recurrent products); the
 * weight gradients are then ordinary primitives over all B·T rows: dU = Hpᵀ·dZr (RHᵀ·dZr for U_h
 * of GRU reset_after=false), dRB = Σ rows of dZr — so threads split them as any dense weight
 * gradient (fixed column parts), and both recurrence kernels split the batch (examples are
 * independent): bit-identical for any thread count.
 */
import type { Dim, Tensor } from "../ir/ir.js";
import { FULL, X } from "../ir/expr.js";
import { emitRecurrence, emitRecurrenceGrad } from "../emit/recurrence.js";
import { isBatchDim, type GradRule, type PrimDef } from "./prim.js";

export type RecurrenceCell = "simple_rnn" | "lstm" | "gru_after" | "gru_before";
/** simple_rnn activations whose derivative the backward kernel takes from the output h. */
export const FUSED_RNN_ACTIVATIONS = ["tanh", "sigmoid", "relu", "linear"] as const;
export type FusedRnnActivation = (typeof FUSED_RNN_ACTIVATIONS)[number];

export interface RecurrenceAttrs {
  cell: RecurrenceCell;
  /** simple_rnn only. */
  activation?: FusedRnnActivation;
  steps: number;
  units: number;
  /** Examples: {batch: 1}. */
  batch: Dim;
  goBackwards: boolean;
  /** Write state k at output position T−1−k (bidirectional's backward copy). */
  reverseOutput: boolean;
  /** Y holds every state ([T, u]) instead of the last ([u]). */
  sequences: boolean;
}

/** Gates per cell (columns of P and U: gates·u). */
export const CELL_GATES: Record<RecurrenceCell, number> = { simple_rnn: 1, lstm: 4, gru_after: 3, gru_before: 3 };
/** Floats saved per step and unit for the backward kernel (Sv's width / u). */
export const CELL_SAVED: Record<RecurrenceCell, number> = { simple_rnn: 1, lstm: 5, gru_after: 4, gru_before: 3 };

const grad: GradRule<"recurrence"> = (node, ctx) => {
  const a = node.attrs;
  const { mod, prog, layer } = ctx;
  const [P, U, RB] = node.inputs.map((i) => mod.t(i)) as [Tensor, Tensor, Tensor | undefined];
  const [Y, Hp, Sv, RH] = node.outputs.map((o) => mod.t(o)) as [Tensor, Tensor, Tensor, Tensor | undefined];
  const dY = ctx.gradOf(Y);
  if (!dY) return;
  const u = a.units, gu = CELL_GATES[a.cell] * u, T = a.steps;
  const dZx = mod.tensor({ shape: [T, gu], batched: true, dtype: "f32", kind: "activation", layer });
  const dZr = mod.tensor({ shape: [T, gu], batched: true, dtype: "f32", kind: "activation", layer });
  mod.node(prog, "recurrence_grad", [dY, Hp, Sv, U], [dZx, dZr], a, layer);
  const rows: Dim = { batch: T };
  ctx.contribute(P, {
    full: true,
    emit: (t, acc) => void mod.node(prog, "copy", [dZx], [t], { shape: [rows, gu], srcStrides: [gu, 1], dstStrides: [gu, 1], accumulate: acc }, layer),
  });
  // dU[:, cols] = Hpᵀ·dZr[:, cols] over all B·T rows (U_h's input is r ⊙ h₋₁ for GRU reset_after=false).
  const dU = (t: Tensor, acc: boolean, from: number, n: number, input: Tensor) =>
    void mod.node(prog, "matmul", [input, dZr], [t], { m: u, n, k: rows, transA: true, lda: u, ldb: gu, ldc: gu, offB: from, offC: from, accumulate: acc }, layer);
  ctx.contribute(U, {
    full: true,
    emit: (t, acc) => {
      if (a.cell !== "gru_before") return dU(t, acc, 0, gu, Hp);
      dU(t, acc, 0, 2 * u, Hp);
      dU(t, acc, 2 * u, u, RH!);
    },
  });
  if (RB) {
    ctx.contribute(RB, {
      full: true,
      emit: (t, acc) => void mod.node(prog, "reduce", [dZr], [t], { outer: rows, mid: 1, inner: gu, axis: "outer", op: "sum", inputs: [FULL], pre: X.in(0), accumulate: acc }, layer),
    });
  }
};

const batchSplit = { batch: (n: { attrs: RecurrenceAttrs }, outsBatched: boolean) => outsBatched && isBatchDim(n.attrs.batch) };

export const recurrence: PrimDef<"recurrence"> = {
  grad,
  select: (node, _ctx, $) => {
    const a = node.attrs;
    const def = emitRecurrence({ ...a, batch: $.dim(a.batch) });
    const args: Record<string, string> = { p: $.ptr($.in(0)), w: $.ptr($.in(1)), y: $.ptr($.out(0)), hp: $.ptr($.out(1)), sv: $.ptr($.out(2)) };
    if (a.cell === "gru_after") args.rb = $.ptr($.in(2));
    if (a.cell === "gru_before") args.rh = $.ptr($.out(3));
    return { def, args };
  },
  threads: batchSplit,
};

export const recurrence_grad: PrimDef<"recurrence_grad"> = {
  grad: { none: "a gradient kernel: kiln takes first derivatives only" },
  // Sv: a step's saved row is dead once its gradients are taken, so it carries dh₋₁ (and dc₋₁) down.
  writesInputs: [2],
  select: (node, _ctx, $) => ({
    def: emitRecurrenceGrad({ ...node.attrs, batch: $.dim(node.attrs.batch) }),
    args: { dy: $.ptr($.in(0)), hp: $.ptr($.in(1)), sv: $.ptr($.in(2)), w: $.ptr($.in(3)), dzx: $.ptr($.out(0)), dzr: $.ptr($.out(1)) },
  }),
  threads: batchSplit,
};
