/**
 * Reference Keras Dot (batch_dot along one axis of each input, optionally of L2-normalized
 * inputs: x·min(rsqrt(Σx²), 1e7) as Keras 3's normalize), for inputs of 1 or 2 axes per example.
 */

import { exampleAxis, fail, RawLayer } from "./attrs.js";
import { LayerContext, LayerFn } from "./layers.js";
import { Tensor, matmul, minimum, mul, permute, reshape, sqrt, sum, tensor, div } from "./tensor.js";

function axesOf(layer: RawLayer, ranks: [number, number]): [number, number] {
  const raw = layer.axes;
  const pair = Array.isArray(raw) ? raw : [raw, raw];
  if (pair.length !== 2) fail(layer, `axes must be an axis or a pair of axes, got ${JSON.stringify(raw)}`);
  return [0, 1].map((i) => exampleAxis({ ...layer, axes: pair[i] }, "axes", 0, ranks[i])) as [number, number];
}

/** x / max(‖x‖, 1e-7) along `axis` (Keras 3: x·min(rsqrt(Σx²), 1/ε)). */
function l2Normalize(x: Tensor, axis: number): Tensor {
  const norms = sqrt(sum(mul(x, x), [axis], true));
  const floor = tensor(norms.shape, new Float64Array(norms.size).fill(1e7));
  return mul(x, minimum(div(tensor(norms.shape, new Float64Array(norms.size).fill(1)), norms), floor));
}

/** x (full tensor, rank 2 or 3) as [B, m, k] with the contracted axis last, or [B, k, n] with it first. */
function contracted(x: Tensor, axis: number, last: boolean): Tensor {
  const b = x.shape[0];
  const x3 = x.shape.length === 2 ? reshape(x, last ? [b, 1, x.shape[1]] : [b, x.shape[1], 1]) : x;
  const a3 = x.shape.length === 2 ? (last ? 2 : 1) : axis;
  return (a3 === 2) === last ? x3 : permute(x3, [0, 2, 1]);
}

function dot(ctx: LayerContext): Tensor {
  if (ctx.inputs.length !== 2) fail(ctx.layer, `takes exactly 2 inputs, got ${ctx.inputs.length}`);
  let [x, y] = ctx.inputs as [Tensor, Tensor];
  for (const t of [x, y]) if (t.shape.length < 2 || t.shape.length > 3) fail(ctx.layer, `inputs must have 1 or 2 axes per example, got [${t.shape.slice(1)}]`);
  const [ax, ay] = axesOf(ctx.layer, [x.shape.length, y.shape.length]);
  if (x.shape[ax] !== y.shape[ay]) fail(ctx.layer, `contracted sizes differ: ${x.shape[ax]} vs ${y.shape[ay]}`);
  if (ctx.layer.normalize === true) {
    x = l2Normalize(x, ax);
    y = l2Normalize(y, ay);
  }
  const out = matmul(contracted(x, ax, true), contracted(y, ay, false));
  const rest = [...x.shape.slice(1).filter((_, i) => i + 1 !== ax), ...y.shape.slice(1).filter((_, i) => i + 1 !== ay)];
  return reshape(out, [x.shape[0], ...(rest.length ? rest : [1])]);
}

export const MERGE_EXTRA_LAYERS: Record<string, LayerFn> = { dot };
