/**
 * Reference losses (spec §3) as tape expressions, and metrics (spec §4) as plain numbers.
 * Keras `sum_over_batch_size`: reduce the last axis (mean, or sum over classes for the
 * cross-entropies), then the mean over every remaining axis. Probabilities are clipped to
 * [1e-7, 1 − 1e-7]; categorical outputs are first divided by their class sum.
 */

import {
  Tensor, abs, add, affine, clip, div, log, logSoftmax, meanAll, mul, relu, sameShape, softplus, square, sub,
  sum, tensor,
} from "./tensor.js";

export type LossType =
  | "mean_squared_error" | "mean_absolute_error" | "binary_crossentropy"
  | "categorical_crossentropy" | "sparse_categorical_crossentropy";

export const LOSS_TYPES: LossType[] = [
  "mean_squared_error", "mean_absolute_error", "binary_crossentropy",
  "categorical_crossentropy", "sparse_categorical_crossentropy",
];

const EPS = 1e-7;

/** Target of the same shape as `out`, accepting a target [] against an output [1] (Keras squeezes). */
function denseTarget(out: Tensor, target: ArrayLike<number>, targetShape: number[]): Tensor {
  const squeezed = sameShape([...targetShape, 1], out.shape);
  if (!sameShape(targetShape, out.shape) && !squeezed) {
    throw new Error(`target shape [${targetShape}] does not match output shape [${out.shape}]`);
  }
  if (target.length !== out.size) throw new Error(`target has ${target.length} values, output ${out.size}`);
  return tensor(out.shape, target);
}

/** Class ids against an output with one more axis (or a trailing [1] on the target, squeezed). */
function sparseTarget(out: Tensor, target: ArrayLike<number>, targetShape: number[]): number[] {
  const lead = out.shape.slice(0, -1);
  if (!sameShape(targetShape, lead) && !sameShape(targetShape, [...lead, 1])) {
    throw new Error(`sparse target shape [${targetShape}] does not match output shape [${out.shape}]`);
  }
  const k = out.shape[out.shape.length - 1];
  const ids = Array.from(target);
  ids.forEach((id, i) => {
    if (!Number.isInteger(id) || id < 0 || id >= k) throw new Error(`class id ${id} at ${i} is outside [0, ${k})`);
  });
  return ids;
}

function oneHot(ids: number[], shape: number[]): Tensor {
  const k = shape[shape.length - 1];
  const d = new Float64Array(ids.length * k);
  ids.forEach((id, i) => (d[i * k + id] = 1));
  return tensor(shape, d);
}

/** −Σ_classes t·log p, averaged over the remaining axes; p normalized and clipped unless logits. */
function crossEntropy(out: Tensor, t: Tensor, fromLogits: boolean): Tensor {
  const axis = out.shape.length - 1;
  const logp = fromLogits ? logSoftmax(out, axis) : log(clip(div(out, sum(out, [axis], true)), EPS, 1 - EPS));
  const perRow = sum(mul(t, logp), [axis]);
  return affine(meanAll(perRow), -1);
}

/** max(x,0) − x·z + log(1 + e^(−|x|)), the stable logits form. */
function binaryFromLogits(x: Tensor, z: Tensor): Tensor {
  return add(sub(relu(x), mul(x, z)), softplus(affine(abs(x), -1)));
}

function binaryFromProbs(p: Tensor, z: Tensor): Tensor {
  const pc = clip(p, EPS, 1 - EPS);
  const pos = mul(z, log(pc));
  const neg = mul(affine(z, -1, 1), log(affine(pc, -1, 1)));
  return affine(add(pos, neg), -1);
}

/**
 * The scalar loss tensor. `target` holds batch·prod(targetShape) values; `targetShape`
 * is the full target shape, batch axis first.
 */
export function lossTensor(
  type: string, out: Tensor, target: ArrayLike<number>, targetShape: number[], fromLogits = false,
): Tensor {
  switch (type) {
    case "mean_squared_error":
      return meanAll(square(sub(out, denseTarget(out, target, targetShape))));
    case "mean_absolute_error":
      return meanAll(abs(sub(out, denseTarget(out, target, targetShape))));
    case "binary_crossentropy": {
      const z = denseTarget(out, target, targetShape);
      return meanAll(fromLogits ? binaryFromLogits(out, z) : binaryFromProbs(out, z));
    }
    case "categorical_crossentropy":
      return crossEntropy(out, denseTarget(out, target, targetShape), fromLogits);
    case "sparse_categorical_crossentropy":
      return crossEntropy(out, oneHot(sparseTarget(out, target, targetShape), out.shape), fromLogits);
    default:
      throw new Error(`unknown loss "${type}" (known: ${LOSS_TYPES.join(", ")})`);
  }
}

// ---------------------------------------------------------------- metrics

function argmaxRows(d: ArrayLike<number>, k: number): number[] {
  const out: number[] = [];
  for (let r = 0; r * k < d.length; r++) {
    let best = 0;
    for (let j = 1; j < k; j++) if (d[r * k + j] > d[r * k + best]) best = j; // first index wins ties
    out.push(best);
  }
  return out;
}

const meanOf = (xs: ArrayLike<number>) => {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i];
  return s / xs.length;
};

/** Accuracy as spec §4: the kind follows the loss, not the shapes. */
export function accuracy(lossType: string, out: Tensor, target: ArrayLike<number>, fromLogits = false): number {
  const k = out.shape[out.shape.length - 1];
  if (lossType === "binary_crossentropy") {
    const thr = fromLogits ? 0 : 0.5;
    return meanOf(Array.from(out.data, (p, i) => ((p > thr ? 1 : 0) === target[i] ? 1 : 0)));
  }
  const pred = argmaxRows(out.data, k);
  const truth = lossType === "sparse_categorical_crossentropy" ? Array.from(target) : argmaxRows(target, k);
  return meanOf(pred.map((p, i) => (p === truth[i] ? 1 : 0)));
}

export function metricValue(
  name: string, lossType: string, out: Tensor, target: ArrayLike<number>, fromLogits = false,
): number {
  if (name === "accuracy") return accuracy(lossType, out, target, fromLogits);
  if (target.length !== out.size) throw new Error(`metric ${name}: target has ${target.length} values, output ${out.size}`);
  if (name === "mean_squared_error") return meanOf(Array.from(out.data, (p, i) => (p - target[i]) ** 2));
  if (name === "mean_absolute_error") return meanOf(Array.from(out.data, (p, i) => Math.abs(p - target[i])));
  throw new Error(`unknown metric "${name}"`);
}
