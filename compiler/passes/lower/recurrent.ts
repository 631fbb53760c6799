/**
 * Recurrent layers (spec §2.1), unrolled over the compile-time sequence length T:
 *  1. per gate, copy the gate's columns of kernel / recurrent_kernel / bias into contiguous
 *     tensors (the copies' gradients flow back into the Keras-layout weights);
 *  2. the input projection of every time step at once: XW_g = x·W_g + b_g  ([B·T, F]·[F, u]);
 *  3. per step: the step's rows of XW_g, h₋₁·U_g, and one elementwise kernel for the new state.
 * Identical step kernels are emitted once and called T times with other offsets.
 */
import type { Layer } from "../../frontend/graph-types.js";
import type { EwExpr } from "../../ir/expr.js";
import type { Tensor } from "../../ir/ir.js";
import { Builder } from "./builder.js";
import { FULL, X } from "../../ir/expr.js";
import type { Lowering } from "./layers.js";

const sig = (e: EwExpr) => X.un("sigmoid", e);
const tanh = (e: EwExpr) => X.un("tanh", e);

/** Columns [g·u, (g+1)·u) of a [rows, gates·u] weight, as a contiguous [rows, u] tensor. */
function gateSlice(b: Builder, w: Tensor, rows: number, gates: number, u: number, g: number, rowOffset = 0): Tensor {
  const t = b.act(rows === 1 ? [u] : [rows, u], false);
  b.copy(w, t, { shape: [rows, u], srcStrides: [gates * u, 1], dstStrides: [u, 1], srcOffset: rowOffset * gates * u + g * u });
  return t;
}

interface Cell {
  gates: number;
  /** Bias tensor per gate added to the input projection, and (GRU) to the recurrent one. */
  inputBias(g: number): Tensor | undefined;
  recurrentBias(g: number): Tensor | undefined;
  /** New state tensors from the step's projections. */
  step(b: Builder, xg: Tensor[], hg: Tensor[], prev: { h: Tensor; c?: Tensor }): { h: Tensor; c?: Tensor };
}

function unroll(b: Builder, layer: Layer, x: Tensor, cellOf: (u: number) => Cell): Tensor {
  const { units: u, return_sequences } = layer.attrs as any;
  const [T, F] = x.shape as [number, number];
  const cell = cellOf(u);
  const W = b.weight(layer, "kernel"), U = b.weight(layer, "recurrent_kernel");
  const xw = Array.from({ length: cell.gates }, (_, g) => {
    const proj = b.matmul(x, gateSlice(b, W, F, cell.gates, u, g), b.act([T, u]), { m: { batch: T }, k: F, n: u });
    const bias = cell.inputBias(g);
    return bias ? b.addBias(proj, bias) : proj;
  });
  const ug = Array.from({ length: cell.gates }, (_, g) => gateSlice(b, U, u, cell.gates, u, g));
  const zero = b.act([u]);
  b.mod.node(b.prog, "fill", [], [zero], { n: { batch: u }, value: 0 }, layer.name);
  let state: { h: Tensor; c?: Tensor } = { h: zero, c: zero };
  const seq = return_sequences ? b.act([T, u]) : undefined;
  for (let t = 0; t < T; t++) {
    const xt = xw.map((p) => {
      const s = b.act([u]);
      b.copy(p, s, { shape: [{ batch: 1 }, u], srcStrides: [T * u, 1], dstStrides: [u, 1], srcOffset: t * u });
      return s;
    });
    const ht = ug.map((w, g) => {
      const prod = b.matmul(state.h, w, b.act([u]), { m: { batch: 1 }, k: u, n: u });
      const bias = cell.recurrentBias(g);
      return bias ? b.addBias(prod, bias) : prod;
    });
    state = cell.step(b, xt, ht, state);
    if (seq) b.copy(state.h, seq, { shape: [{ batch: 1 }, u], srcStrides: [u, 1], dstStrides: [T * u, 1], dstOffset: t * u });
  }
  return seq ?? state.h;
}

export const lowerSimpleRnn: Lowering = (b, layer, [x]) => {
  const act = (layer.attrs as any).activation as string;
  const bias = (layer.attrs as any).use_bias === false ? undefined : b.weight(layer, "bias");
  return unroll(b, layer, x!, () => ({
    gates: 1,
    inputBias: () => bias,
    recurrentBias: () => undefined,
    step: (bb, [xt], [ht]) => ({ h: bb.activation(bb.ew(X.add(X.in(0), X.in(1)), [[xt!, FULL], [ht!, FULL]], bb.act(xt!.shape)), act as any) }),
  }));
};

export const lowerLstm: Lowering = (b, layer, [x]) => {
  const u = (layer.attrs as any).units as number;
  const bias = b.weight(layer, "bias");
  const slices = [0, 1, 2, 3].map((g) => gateSlice(b, bias, 1, 4, u, g));
  return unroll(b, layer, x!, () => ({
    gates: 4,
    inputBias: (g) => slices[g],
    recurrentBias: () => undefined,
    step: (bb, xt, ht, prev) => {
      // inputs: 0..3 x-projections (i, f, c̃, o), 4..7 recurrent projections, 8 c₋₁
      const gate = (g: number) => X.add(X.in(g), X.in(4 + g));
      const ins: [Tensor, typeof FULL][] = [...xt, ...ht, prev.c!].map((t) => [t, FULL]);
      const c = bb.ew(X.add(X.mul(sig(gate(1)), X.in(8)), X.mul(sig(gate(0)), tanh(gate(2)))), ins, bb.act([u]));
      const h = bb.ew(X.mul(sig(X.add(X.in(0), X.in(1))), tanh(X.in(2))), [[xt[3]!, FULL], [ht[3]!, FULL], [c, FULL]], bb.act([u]));
      return { h, c };
    },
  }));
};

export const lowerGru: Lowering = (b, layer, [x]) => {
  const u = (layer.attrs as any).units as number;
  const bias = b.weight(layer, "bias");
  const inBias = [0, 1, 2].map((g) => gateSlice(b, bias, 1, 3, u, g, 0));
  const recBias = [0, 1, 2].map((g) => gateSlice(b, bias, 1, 3, u, g, 1));
  return unroll(b, layer, x!, () => ({
    gates: 3,
    inputBias: (g) => inBias[g],
    recurrentBias: (g) => recBias[g],
    step: (bb, xt, ht, prev) => {
      // inputs: 0..2 x-projections (z, r, h̃) with bias⁰, 3..5 recurrent projections with bias¹, 6 h₋₁
      const z = sig(X.add(X.in(0), X.in(3)));
      const r = sig(X.add(X.in(1), X.in(4)));
      const hh = tanh(X.add(X.in(2), X.mul(r, X.in(5))));
      const expr = X.add(X.mul(z, X.in(6)), X.mul(X.sub(X.c(1), z), hh));
      return { h: bb.ew(expr, [...xt, ...ht, prev.h].map((t) => [t, FULL] as [Tensor, typeof FULL]), bb.act([u])) };
    },
  }));
};

