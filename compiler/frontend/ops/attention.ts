/**
 * multi_head_attention: inputs [query] (self-attention), [query, value] or [query, value, key]
 * (key defaults to value — note the Keras call order). query [T, Dq], value [S, Dv], key [S, Dk]
 * -> [T, Dq]. Weights are Keras EinsumDense kernels [D, heads, dim] with [heads, dim] biases.
 */
import type { OpDef } from "./op.js";
import { boolAttr, expectRank, fmtShape, initAttr, initializer, sizeAttr, withDefaults } from "./attrs.js";
import { lowerMultiHeadAttention } from "../../passes/lower/attention.js";

export const multi_head_attention: OpDef = {
  lower: lowerMultiHeadAttention,
  name: "multi_head_attention",
  description: "Multi-head attention; inputs [query], [query, value] or [query, value, key]: [T, Dq] -> [T, Dq].",
  minInputs: 1,
  maxInputs: 3,
  attrs: {
    num_heads: sizeAttr("Number of attention heads."),
    key_dim: sizeAttr("Size of each head for query and key."),
    value_dim: sizeAttr("Size of each head for value; defaults to key_dim."),
    causal: boolAttr("Query position i attends only to key positions j ≤ i (Keras use_causal_mask).", false),
    kernel_initializer: initAttr("glorot_uniform", "projection kernels"),
    bias_initializer: initAttr("zeros", "projection biases"),
  },
  required: ["num_heads", "key_dim"],
  normalize(raw) {
    const a = withDefaults(this.attrs, raw);
    a.value_dim ??= a.key_dim;
    return a;
  },
  shape(xs, _a, ctx) {
    for (let i = 0; i < xs.length; i++) if (!expectRank(ctx, "multi_head_attention", ["query [T, Dq]", "value [S, Dv]", "key [S, Dk]"][i], 2, i)) return undefined;
    if (xs.length === 3 && xs[2][0] !== xs[1][0]) {
      ctx.error(`key "${ctx.inputNames[2]}" ${fmtShape(xs[2])} and value "${ctx.inputNames[1]}" ${fmtShape(xs[1])} must have the same length S`, "inputs");
      return undefined;
    }
    return [...xs[0]];
  },
  weights(xs, a) {
    const [q, v = q, k = v] = xs;
    const heads = a.num_heads as number;
    const kd = a.key_dim as number;
    const vd = a.value_dim as number;
    const dq = q[1];
    const w = (name: string, shape: number[], init: unknown) => ({ name, shape, initializer: initializer(init, shape) });
    return [
      w("query/kernel", [dq, heads, kd], a.kernel_initializer),
      w("query/bias", [heads, kd], a.bias_initializer),
      w("key/kernel", [k[1], heads, kd], a.kernel_initializer),
      w("key/bias", [heads, kd], a.bias_initializer),
      w("value/kernel", [v[1], heads, vd], a.kernel_initializer),
      w("value/bias", [heads, vd], a.bias_initializer),
      w("attention_output/kernel", [heads, vd, dq], a.kernel_initializer),
      w("attention_output/bias", [dq], a.bias_initializer),
    ];
  },
};
