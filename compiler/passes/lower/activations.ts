/**
 * Activations that are not one IR unary op, as elementwise expressions of existing ones (so
 * autodiff differentiates them symbolically and the emitters' SIMD forms serve them unchanged),
 * and the Keras ReLU / LeakyReLU / ELU / PReLU layer formulas. log_softmax is not elementwise:
 * `lowerLogSoftmax` builds it from a row max (pool2d), a sum (reduce) and one ew.
 * Keras 3 semantics (keras/src/activations/activations.py); spec §2.1 has the formulas.
 */
import type { ActivationName } from "../../frontend/graph-types.js";
import { numel, type Tensor } from "../../ir/ir.js";
import { FULL, X, perRow, type EwExpr } from "../../ir/expr.js";
import type { Builder } from "./builder.js";

const { c, un, bin, sel } = X;

/** clip(e, lo, hi) = min(max(e, lo), hi). */
const clip = (e: EwExpr, lo: number, hi: number): EwExpr => bin("min", bin("max", e, c(lo)), c(hi));

/** SELU's constants as TensorFlow's selu kernel has them (Klambauer et al. 2017). */
export const SELU_ALPHA = 1.6732632423543772;
export const SELU_SCALE = 1.0507009873554805;

/** Keras 3 hard_sigmoid: relu6(x + 3)/6, computed as clip(x/6 + 0.5, 0, 1) like its TensorFlow backend. */
const hardSigmoid = (a: EwExpr): EwExpr => clip(X.add(X.mul(a, c(1 / 6)), c(0.5)), 0, 1);

/** Expressions of the activations that are compositions, by name; undefined for the IR's own unary ops. */
export function compositeActivation(act: ActivationName, a: EwExpr): EwExpr | undefined {
  switch (act) {
    case "relu6": return bin("min", un("relu", a), c(6));
    case "hard_sigmoid": return hardSigmoid(a);
    // Keras 2 and TF.js: clip(0.2·x + 0.5, 0, 1).
    case "hard_sigmoid_legacy": return clip(X.add(X.mul(a, c(0.2)), c(0.5)), 0, 1);
    case "hard_silu": return X.mul(a, hardSigmoid(a));
    case "mish": return X.mul(a, un("tanh", un("softplus", a)));
    // scale·x for x > 0, scale·alpha·(e^x − 1) otherwise (elu is e^x − 1 there).
    case "selu": return sel("gt", a, c(0), X.mul(a, c(SELU_SCALE)), X.mul(un("elu", a), c(SELU_SCALE * SELU_ALPHA)));
    case "exponential": return un("exp", a);
    default: return undefined;
  }
}

/**
 * Keras 3 `activations.relu(x, negative_slope, max_value, threshold)`, which the ReLU layer calls:
 * p = x·(x > threshold) (relu(x) when threshold is 0), clipped to [0, max_value] when one is given,
 * minus negative_slope·relu(threshold − x).
 */
export function reluExpr(a: EwExpr, maxValue: number | null, negativeSlope: number, threshold: number): EwExpr {
  let p = threshold !== 0 ? sel("gt", a, c(threshold), a, c(0)) : un("relu", a);
  if (maxValue !== null) p = clip(p, 0, maxValue);
  if (negativeSlope !== 0) p = X.sub(p, X.mul(c(negativeSlope), un("relu", X.sub(c(threshold), a))));
  return p;
}

/** Keras LeakyReLU: x for x > 0, negative_slope·x otherwise. */
export const leakyReluExpr = (a: EwExpr, slope: number): EwExpr => sel("gt", a, c(0), a, X.mul(a, c(slope)));

/** Keras ELU layer: x for x > 0, alpha·(e^x − 1) otherwise (elu is e^x − 1 there). */
export const eluExpr = (a: EwExpr, alpha: number): EwExpr => (alpha === 1 ? un("elu", a) : sel("gt", a, c(0), a, X.mul(un("elu", a), c(alpha))));

/** Keras PReLU: relu(x) − alpha·relu(−x), alpha the second input. */
export const preluExpr = (a: EwExpr, alpha: EwExpr): EwExpr => X.sub(un("relu", a), X.mul(alpha, un("relu", un("neg", a))));

/**
 * log_softmax over the last axis, stably: y = (x − m) − log Σ exp(x − m) with m each row's maximum
 * (a 1×C max-pool over the [rows, C] view). y does not depend on m, so m's gradient is zero up to
 * rounding and the pool's gradient only carries that rounding.
 */
export function lowerLogSoftmax(b: Builder, x: Tensor): Tensor {
  const cols = x.shape.at(-1)!;
  const rows = numel(x.shape) / cols;
  const rowMax = b.act([rows, 1, 1]);
  b.mod.node(b.prog, "pool2d", [x], [rowMax], { kind: "max", h: rows, w: cols, c: 1, ph: 1, pw: cols, sh: 1, sw: cols, padTop: 0, padLeft: 0, oh: rows, ow: 1 }, b.layer);
  const sums = b.act([rows, 1]);
  const shifted = X.sub(X.in(0), X.in(1));
  b.mod.node(b.prog, "reduce", [x, rowMax], [sums], { outer: { batch: rows }, mid: cols, inner: 1, axis: "mid", op: "sum", inputs: [FULL, perRow(cols)], pre: un("exp", shifted) }, b.layer);
  return b.ew(X.sub(shifted, un("log", X.in(2))), [[x, FULL], [rowMax, perRow(cols)], [sums, perRow(cols)]], b.act(x.shape), cols);
}
