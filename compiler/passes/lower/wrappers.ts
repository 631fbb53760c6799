/**
 * Lowering of time_distributed (frontend/ops/wrappers.ts). Keras 3 calls the inner layer on each
 * step [batch, ...] in turn; kiln's tensors have one runtime batch axis, so each inner op takes the
 * cheapest equivalent form:
 * - ops that already act on each position of [T, ...] alone (dense on the last axis, activations,
 *   dropout, whose mask is independent per element either way) lower once on the whole tensor;
 * - flatten is a view: [T, ...] as [T, product];
 * - every other op (convolutions, pools, padding, cropping, upsampling) is unrolled: step t of every
 *   example is copied out (a strided copy), the inner op lowers on that [batch, ...step] tensor with
 *   the wrapper's one set of weights, and its output is copied into step t of the result. The
 *   weight gradients of the T applications add up (autodiff sums every use of a tensor).
 */
import type { Layer } from "../../frontend/graph-types.js";
import { lookupOp } from "../../frontend/ops/index.js";
import { numel, type Tensor } from "../../ir/ir.js";
import type { Builder } from "./builder.js";
import type { Lowering } from "./layers.js";

/** Inner ops whose application to [T, ...] is their application to each step. */
const WHOLE = new Set(["dense", "activation", "relu", "leaky_relu", "elu", "dropout"]);

/** The inner layer as the lowering of its op sees it: named `<wrapper>/<inner>` (its weights' prefix), output `shape`. */
function innerLayer(layer: Layer, attrs: Record<string, unknown>, shape: number[]): Layer {
  const inner = layer.attrs.layer as { op: Layer["op"]; name: string };
  return { ...layer, name: `${layer.name}/${inner.name}`, op: inner.op, attrs, shape };
}

export const lowerTimeDistributed: Lowering = (b, layer, [x]) => {
  const { op, name: _name, ...attrs } = layer.attrs.layer as { op: Layer["op"]; name: string; [k: string]: unknown };
  const def = lookupOp(op);
  if (!def) throw new Error(`internal: time_distributed wraps unknown op ${String(op)}`);
  if (op === "flatten") return b.alias(x!, layer.shape);
  if (WHOLE.has(op)) return def.lower(b, innerLayer(layer, attrs, layer.shape), [x!]);
  return unrolled(b, layer, attrs, x!, def.lower);
};

/** The inner op on each step of x in turn (see the file comment). */
function unrolled(b: Builder, layer: Layer, attrs: Record<string, unknown>, x: Tensor, lower: Lowering): Tensor {
  const steps = x.shape[0]!;
  const stepIn = x.shape.slice(1), stepOut = layer.shape.slice(1);
  const nIn = numel(stepIn), nOut = numel(stepOut);
  const y = b.act(layer.shape);
  const inner = innerLayer(layer, attrs, stepOut);
  for (let t = 0; t < steps; t++) {
    const xt = b.act(stepIn);
    b.copy(x, xt, { shape: [{ batch: 1 }, nIn], srcStrides: [steps * nIn, 1], dstStrides: [nIn, 1], srcOffset: t * nIn });
    const yt = lower(b, inner, [xt]);
    b.copy(yt, y, { shape: [{ batch: 1 }, nOut], srcStrides: [nOut, 1], dstStrides: [steps * nOut, 1], dstOffset: t * nOut });
  }
  return y;
}
