/**
 * Recurrent layers (spec §2.1), unrolled over the compile-time sequence length T:
 *  1. per gate, copy the gate's columns of kernel / recurrent_kernel / bias into contiguous
 *     tensors (the copies' gradients flow back into the Keras-layout weights);
 *  2. the input projection of every time step at once: XW_g = x·W_g + b_g  ([B·T, F]·[F, u]);
 *  3. per step: the step's rows of XW_g, h₋₁·U_g, and one elementwise kernel for the new state.
 * Identical step kernels are emitted once and called T times with other offsets.
 * go_backwards reads input step T−1−k at step k; the states are written in step order (Keras),
 * unless the caller (bidirectional's backward copy) asks for them flipped.
 */
import type { Attrs, Layer } from "../../frontend/graph-types.js";
import type { EwExpr } from "../../ir/expr.js";
import type { Tensor } from "../../ir/ir.js";
import { Builder } from "./builder.js";
import { FULL, X } from "../../ir/expr.js";
import type { Lowering } from "./layers.js";
import { CELL_GATES, CELL_SAVED, FUSED_RNN_ACTIVATIONS, type FusedRnnActivation, type RecurrenceCell } from "../../prims/recurrence.js";

/**
 * Up to this many steps a recurrent layer is unrolled (per-step SIMD matmul and elementwise
 * kernels, fastest for short sequences); past it, one `recurrence` primitive whose kernels loop
 * over T (prims/recurrence.ts), so compile time and source size stop growing with T.
 */
export const UNROLL_MAX_STEPS = 32;

/** The fused cell of a layer, or undefined when only the unrolled lowering handles it (simple_rnn with another activation). */
export function fusedCell(op: string, attrs: Record<string, unknown>): { cell: RecurrenceCell; activation?: FusedRnnActivation } | undefined {
  if (op === "lstm") return { cell: "lstm" };
  if (op === "gru") return { cell: attrs.reset_after === false ? "gru_before" : "gru_after" };
  const act = attrs.activation as FusedRnnActivation;
  return (FUSED_RNN_ACTIVATIONS as readonly string[]).includes(act) ? { cell: "simple_rnn", activation: act } : undefined;
}

/** Is this layer lowered with the unrolled per-step kernels? */
export const unrolled = (op: string, attrs: Record<string, unknown>, steps: number): boolean =>
  steps <= UNROLL_MAX_STEPS || !fusedCell(op, attrs);

const sig = (e: EwExpr) => X.un("sigmoid", e);
const tanh = (e: EwExpr) => X.un("tanh", e);
const full = (ts: Tensor[]) => ts.map((t) => [t, FULL] as [Tensor, typeof FULL]);

/** Columns [g·u, (g+1)·u) of a [rows, gates·u] weight, as a contiguous [rows, u] tensor. */
function gateSlice(b: Builder, w: Tensor, rows: number, gates: number, u: number, g: number, rowOffset = 0): Tensor {
  const t = b.act(rows === 1 ? [u] : [rows, u], false);
  b.copy(w, t, { shape: [rows, u], srcStrides: [gates * u, 1], dstStrides: [u, 1], srcOffset: rowOffset * gates * u + g * u });
  return t;
}

interface State { h: Tensor; c?: Tensor }

interface Cell {
  gates: number;
  /** Bias tensor per gate added to the input projection, and (GRU reset_after) to the recurrent one. */
  inputBias(g: number): Tensor | undefined;
  recurrentBias(g: number): Tensor | undefined;
  /** How many gates (the first ones) get h₋₁·U_g computed before `step`; the cell projects the rest itself. */
  projected: number;
  /** New state tensors from the step's projections; `project(v, g)` = v·U_g for the gates left to the cell. */
  step(b: Builder, xg: Tensor[], hg: Tensor[], prev: State, project: (v: Tensor, g: number) => Tensor): State;
}

/** bidirectional's backward copy writes its states flipped along T (Keras flips y_rev). */
export interface RecurrentOptions { reverseOutput?: boolean }

/** The layer as one `recurrence` node (long sequences): P = x·W + input bias over all steps, then the loop kernel. */
function fused(b: Builder, layer: Layer, x: Tensor, opts: RecurrentOptions): Tensor {
  const { units: u, return_sequences, go_backwards, use_bias } = layer.attrs as any;
  const [T, F] = x.shape as [number, number];
  const { cell, activation } = fusedCell(layer.op, layer.attrs)!;
  const gu = CELL_GATES[cell] * u;
  const W = b.weight(layer, "kernel"), U = b.weight(layer, "recurrent_kernel");
  const bias = use_bias === false ? undefined : b.weight(layer, "bias");
  // GRU reset_after: bias [2, 3u] = input bias row, recurrent bias row (sliced before the
  // projection, whose epilogue fuse-epilogues may fold the bias add into).
  const rows = cell === "gru_after" ? [0, 1].map((r) => gateSlice(b, bias!, 1, 1, gu, 0, r)) : undefined;
  const inBias = rows ? rows[0] : bias;
  const projected = b.matmul(x, W, b.act([T, gu]), { m: { batch: T }, k: F, n: gu });
  const P = inBias ? b.addBias(projected, inBias) : projected;
  const ins = rows ? [P, U, rows[1]!] : [P, U];
  const Y = b.act(return_sequences ? [T, u] : [u]);
  const outs = [Y, b.act([T, u]), b.act([T, CELL_SAVED[cell] * u]), ...(cell === "gru_before" ? [b.act([T, u])] : [])];
  b.mod.node(b.prog, "recurrence", ins, outs, {
    cell, ...(activation ? { activation } : {}), steps: T, units: u, batch: { batch: 1 },
    goBackwards: !!go_backwards, reverseOutput: !!opts.reverseOutput, sequences: !!return_sequences,
  }, b.layer);
  return Y;
}

function unroll(b: Builder, layer: Layer, x: Tensor, cell: Cell, opts: RecurrentOptions): Tensor {
  const { units: u, return_sequences, go_backwards } = layer.attrs as any;
  const [T, F] = x.shape as [number, number];
  const W = b.weight(layer, "kernel"), U = b.weight(layer, "recurrent_kernel");
  const xw = Array.from({ length: cell.gates }, (_, g) => {
    const proj = b.matmul(x, gateSlice(b, W, F, cell.gates, u, g), b.act([T, u]), { m: { batch: T }, k: F, n: u });
    const bias = cell.inputBias(g);
    return bias ? b.addBias(proj, bias) : proj;
  });
  const ug = Array.from({ length: cell.gates }, (_, g) => gateSlice(b, U, u, cell.gates, u, g));
  const project = (v: Tensor, g: number) => b.matmul(v, ug[g]!, b.act([u]), { m: { batch: 1 }, k: u, n: u });
  const zero = b.act([u]);
  b.mod.node(b.prog, "fill", [], [zero], { n: { batch: u }, value: 0 }, b.layer);
  let state: State = { h: zero, c: zero };
  const seq = return_sequences ? b.act([T, u]) : undefined;
  for (let k = 0; k < T; k++) {
    const t = go_backwards ? T - 1 - k : k;
    const xt = xw.map((p) => {
      const s = b.act([u]);
      b.copy(p, s, { shape: [{ batch: 1 }, u], srcStrides: [T * u, 1], dstStrides: [u, 1], srcOffset: t * u });
      return s;
    });
    const ht = ug.slice(0, cell.projected).map((_w, g) => {
      const prod = project(state.h, g);
      const bias = cell.recurrentBias(g);
      return bias ? b.addBias(prod, bias) : prod;
    });
    state = cell.step(b, xt, ht, state, project);
    const at = opts.reverseOutput ? T - 1 - k : k;
    if (seq) b.copy(state.h, seq, { shape: [{ batch: 1 }, u], srcStrides: [u, 1], dstStrides: [T * u, 1], dstOffset: at * u });
  }
  return seq ?? state.h;
}

/** A recurrent lowering that bidirectional can also call with options. */
export type RecurrentLowering = (b: Builder, layer: Layer, inputs: Tensor[], opts?: RecurrentOptions) => Tensor;

export const lowerSimpleRnn: RecurrentLowering = (b, layer, [x], opts = {}) => {
  if (!unrolled(layer.op, layer.attrs, x!.shape[0]!)) return fused(b, layer, x!, opts);
  const act = (layer.attrs as any).activation as string;
  const bias = (layer.attrs as any).use_bias === false ? undefined : b.weight(layer, "bias");
  return unroll(b, layer, x!, {
    gates: 1,
    projected: 1,
    inputBias: () => bias,
    recurrentBias: () => undefined,
    step: (bb, [xt], [ht]) => ({ h: bb.activation(bb.ew(X.add(X.in(0), X.in(1)), [[xt!, FULL], [ht!, FULL]], bb.act(xt!.shape)), act as any) }),
  }, opts);
};

export const lowerLstm: RecurrentLowering = (b, layer, [x], opts = {}) => {
  if (!unrolled(layer.op, layer.attrs, x!.shape[0]!)) return fused(b, layer, x!, opts);
  const u = (layer.attrs as any).units as number;
  const bias = b.weight(layer, "bias");
  const slices = [0, 1, 2, 3].map((g) => gateSlice(b, bias, 1, 4, u, g));
  return unroll(b, layer, x!, {
    gates: 4,
    projected: 4,
    inputBias: (g) => slices[g],
    recurrentBias: () => undefined,
    step: (bb, xt, ht, prev) => {
      // inputs: 0..3 x-projections (i, f, c̃, o), 4..7 recurrent projections, 8 c₋₁
      const gate = (g: number) => X.add(X.in(g), X.in(4 + g));
      const c = bb.ew(X.add(X.mul(sig(gate(1)), X.in(8)), X.mul(sig(gate(0)), tanh(gate(2)))), full([...xt, ...ht, prev.c!]), bb.act([u]));
      const h = bb.ew(X.mul(sig(X.add(X.in(0), X.in(1))), tanh(X.in(2))), full([xt[3]!, ht[3]!, c]), bb.act([u]));
      return { h, c };
    },
  }, opts);
};

export const lowerGru: RecurrentLowering = (b, layer, [x], opts = {}) => {
  if (!unrolled(layer.op, layer.attrs, x!.shape[0]!)) return fused(b, layer, x!, opts);
  const { units: u, reset_after } = layer.attrs as any;
  const bias = b.weight(layer, "bias");
  if (reset_after === false) {
    // bias [3u]: one bias per gate, on the input side; h̃ = tanh(x·W_h + b_h + (r ⊙ h₋₁)·U_h).
    const gateBias = [0, 1, 2].map((g) => gateSlice(b, bias, 1, 3, u, g));
    return unroll(b, layer, x!, {
      gates: 3,
      projected: 2,
      inputBias: (g) => gateBias[g],
      recurrentBias: () => undefined,
      step: (bb, xt, ht, prev, project) => {
        // r ⊙ h₋₁ (inputs: x_r, h₋₁·U_r, h₋₁), then its product with U_h.
        const rh = bb.ew(X.mul(sig(X.add(X.in(0), X.in(1))), X.in(2)), full([xt[1]!, ht[1]!, prev.h]), bb.act([u]));
        const rhU = project(rh, 2);
        // inputs: 0 x_z, 1 h₋₁·U_z, 2 x_h, 3 (r ⊙ h₋₁)·U_h, 4 h₋₁
        const z = sig(X.add(X.in(0), X.in(1)));
        const hh = tanh(X.add(X.in(2), X.in(3)));
        const expr = X.add(X.mul(z, X.in(4)), X.mul(X.sub(X.c(1), z), hh));
        return { h: bb.ew(expr, full([xt[0]!, ht[0]!, xt[2]!, rhU, prev.h]), bb.act([u])) };
      },
    }, opts);
  }
  const inBias = [0, 1, 2].map((g) => gateSlice(b, bias, 1, 3, u, g, 0));
  const recBias = [0, 1, 2].map((g) => gateSlice(b, bias, 1, 3, u, g, 1));
  return unroll(b, layer, x!, {
    gates: 3,
    projected: 3,
    inputBias: (g) => inBias[g],
    recurrentBias: (g) => recBias[g],
    step: (bb, xt, ht, prev) => {
      // inputs: 0..2 x-projections (z, r, h̃) with bias⁰, 3..5 recurrent projections with bias¹, 6 h₋₁
      const z = sig(X.add(X.in(0), X.in(3)));
      const r = sig(X.add(X.in(1), X.in(4)));
      const hh = tanh(X.add(X.in(2), X.mul(r, X.in(5))));
      const expr = X.add(X.mul(z, X.in(6)), X.mul(X.sub(X.c(1), z), hh));
      return { h: bb.ew(expr, full([...xt, ...ht, prev.h]), bb.act([u])) };
    },
  }, opts);
};

const RECURRENT_LOWERINGS: Record<InnerLayer["op"], RecurrentLowering> = { simple_rnn: lowerSimpleRnn, lstm: lowerLstm, gru: lowerGru };

/** bidirectional's checked inner layer: its op, its name (the weights' prefix) and normalized attributes. */
export interface InnerLayer { op: "simple_rnn" | "lstm" | "gru"; name: string; attrs: Attrs }

/** The layer as its forward or backward copy: its own weight prefix, go_backwards flipped for backward. */
function directionLayer(layer: Layer, inner: InnerLayer, dir: "forward" | "backward"): Layer {
  const attrs = dir === "forward" ? inner.attrs : { ...inner.attrs, go_backwards: !inner.attrs.go_backwards };
  return { ...layer, name: `${layer.name}/${dir}_${inner.name}`, op: inner.op, attrs };
}

/**
 * Keras Bidirectional: the forward copy, the backward copy (its states flipped back along T when
 * sequences are returned, as Keras's `ops.flip(y_rev, axis=1)`), merged by merge_mode.
 */
export const lowerBidirectional: Lowering = (b, layer, [x]) => {
  const inner = (layer.attrs as any).layer as InnerLayer;
  const mode = (layer.attrs as any).merge_mode as "concat" | "sum" | "mul" | "ave";
  const lower = RECURRENT_LOWERINGS[inner.op];
  const sequences = inner.attrs.return_sequences === true;
  const fwd = lower(b, directionLayer(layer, inner, "forward"), [x!]);
  const bwd = lower(b, directionLayer(layer, inner, "backward"), [x!], { reverseOutput: sequences });
  if (mode !== "concat") {
    const op = { sum: X.add, mul: X.mul, ave: (p: EwExpr, q: EwExpr) => X.mul(X.add(p, q), X.c(0.5)) }[mode];
    return b.ew(op(X.in(0), X.in(1)), full([fwd, bwd]), b.act(fwd.shape));
  }
  const u = inner.attrs.units as number;
  const rows = sequences ? x!.shape[0]! : 1;
  const y = b.act(sequences ? [rows, 2 * u] : [2 * u]);
  [fwd, bwd].forEach((part, i) => {
    b.copy(part, y, { shape: [{ batch: 1 }, rows, u], srcStrides: [rows * u, u, 1], dstStrides: [rows * 2 * u, 2 * u, 1], dstOffset: i * u });
  });
  return y;
};
