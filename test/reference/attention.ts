/**
 * Reference multi_head_attention (Keras MultiHeadAttention, spec §2.1): project query/key/value
 * per head, scale the projected query by 1/sqrt(key_dim), softmax over key positions (causal:
 * query i sees keys j ≤ i), weight the values, combine heads with attention_output/kernel.
 */

import { bool, fail, int } from "./attrs.js";
import { LayerContext, LayerFn } from "./layers.js";
import { Tensor, add, affine, matmul, permute, reshape, softmax, tensor } from "./tensor.js";

/** x [B, T, D] through kernel [D, H, k] and bias [H, k] → [B, H, T, k]. */
function project(ctx: LayerContext, x: Tensor, which: string, heads: number, dim: number): Tensor {
  const [b, t, d] = x.shape;
  const kernel = ctx.weight(`${which}/kernel`, [d, heads, dim]);
  let y = matmul(reshape(x, [b * t, d]), reshape(kernel, [d, heads * dim]));
  if (bool(ctx.layer, "use_bias", true)) y = add(y, reshape(ctx.weight(`${which}/bias`, [heads, dim]), [heads * dim]));
  return permute(reshape(y, [b, t, heads, dim]), [0, 2, 1, 3]);
}

/** 0 where query i may see key j (j ≤ i), −∞ elsewhere: [T, S]. */
function causalMask(t: number, s: number): Tensor {
  const m = new Float64Array(t * s);
  for (let i = 0; i < t; i++) for (let j = 0; j < s; j++) m[i * s + j] = j <= i ? 0 : -Infinity;
  return tensor([t, s], m);
}

function multiHeadAttention(ctx: LayerContext): Tensor {
  const n = ctx.inputs.length;
  if (n < 1 || n > 3) fail(ctx.layer, `takes 1 to 3 inputs [query, value, key], got ${n}`);
  const query = ctx.inputs[0];
  const value = ctx.inputs[1] ?? query;
  const key = ctx.inputs[2] ?? value;
  for (const x of [query, value, key]) if (x.shape.length !== 3) fail(ctx.layer, `expects [T, D] inputs, got [${x.shape.slice(1)}]`);
  if (key.shape[1] !== value.shape[1]) fail(ctx.layer, `key has ${key.shape[1]} positions, value ${value.shape[1]}`);
  const heads = int(ctx.layer, "num_heads");
  const dk = int(ctx.layer, "key_dim");
  const dv = int(ctx.layer, "value_dim", dk);
  const [b, t, dq] = query.shape;
  const s = key.shape[1];

  const q = affine(project(ctx, query, "query", heads, dk), 1 / Math.sqrt(dk));
  const k = project(ctx, key, "key", heads, dk);
  const v = project(ctx, value, "value", heads, dv);
  let scores = matmul(q, permute(k, [0, 1, 3, 2])); // [B, H, T, S]
  if (bool(ctx.layer, "causal", false)) scores = add(scores, causalMask(t, s));
  const context = matmul(softmax(scores, 3), v); // [B, H, T, dv]
  const merged = reshape(permute(context, [0, 2, 1, 3]), [b * t, heads * dv]);
  let out = matmul(merged, reshape(ctx.weight("attention_output/kernel", [heads, dv, dq]), [heads * dv, dq]));
  if (bool(ctx.layer, "use_bias", true)) out = add(out, ctx.weight("attention_output/bias", [dq]));
  return reshape(out, [b, t, dq]);
}

export const ATTENTION_LAYERS: Record<string, LayerFn> = { multi_head_attention: multiHeadAttention };
