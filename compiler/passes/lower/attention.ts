/**
 * multi_head_attention (spec §2.1): Q = query·Wq + bq, K = key·Wk + bk, V = value·Wv + bv as
 * [B, T|S, H·d] (the Keras [D, H, d] kernels are [D, H·d] matrices in memory); per (example,
 * head) scores = (1/√dk)·Q·Kᵀ by one batched matmul over strided head views; softmax over S
 * (causal: key j ≤ query i); O = P·V written head-interleaved as [B, T, H·dv]; out = O·Wo + bo.
 * In the decode program (T = 1, decode.ts) the scores, softmax and P·V are one `cached_attention`
 * over the layer's key/value caches instead.
 */
import type { Tensor } from "../../ir/ir.js";
import type { Lowering } from "./layers.js";
import type { Builder } from "./builder.js";

export const lowerMultiHeadAttention: Lowering = (b, layer, inputs) => {
  const { num_heads: H, key_dim: dk, value_dim: dv, causal } = layer.attrs as any;
  const query = inputs[0]!, value = inputs[1] ?? query, key = inputs[2] ?? value;
  const [T, Dq] = query.shape as [number, number];
  const S = value.shape[0]!;
  const project = (x: Tensor, name: string, width: number) => {
    const rows = x.shape[0]!, d = x.shape[1]!;
    const y = b.matmul(x, b.weight(layer, `${name}/kernel`), b.act([rows, width]), { m: { batch: rows }, k: d, n: width });
    return b.addBias(y, b.weight(layer, `${name}/bias`));
  };
  const Q = project(query, "query", H * dk);
  const K = project(key, "key", H * dk);
  const V = project(value, "value", H * dv);
  const O = b.decode ? attendCached(b, layer.name, Q, K, V, { H, dk, dv }) : attend(b, layer.name, Q, K, V, { H, dk, dv, T, S, causal });
  const out = b.matmul(O, b.weight(layer, "attention_output/kernel"), b.act([T, Dq]), { m: { batch: T }, k: H * dv, n: Dq });
  return b.addBias(out, b.weight(layer, "attention_output/bias"));
};

/** The whole sequence: scores, a (causal) softmax and the weighted values, per example and head. */
function attend(b: Builder, layer: string, Q: Tensor, K: Tensor, V: Tensor, { H, dk, dv, T, S, causal }: { H: number; dk: number; dv: number; T: number; S: number; causal: boolean }): Tensor {
  const scores = b.act([H, T, S]);
  b.matmul(Q, K, scores, {
    m: T, n: S, k: dk, transB: true, lda: H * dk, ldb: H * dk, ldc: S, alpha: 1 / Math.sqrt(dk),
    batch: [
      { count: { batch: 1 }, strideA: T * H * dk, strideB: S * H * dk, strideC: H * T * S },
      { count: H, strideA: dk, strideB: dk, strideC: T * S },
    ],
  });
  const probs = b.act([H, T, S]);
  b.mod.node(b.prog, "softmax", [scores], [probs], { outer: { batch: H * T }, mid: S, inner: 1, ...(causal ? { causal: { t: T, s: S } } : {}) }, layer);
  const O = b.act([T, H * dv]);
  b.matmul(probs, V, O, {
    m: T, n: dv, k: S, lda: S, ldb: H * dv, ldc: H * dv,
    batch: [
      { count: { batch: 1 }, strideA: H * T * S, strideB: S * H * dv, strideC: T * H * dv },
      { count: H, strideA: T * S, strideB: dv, strideC: dv },
    ],
  });
  return O;
}

/**
 * The decode program (decode.ts): this position's key and value are appended to the layer's
 * caches ([context, H·d] per example, kind "cache", persistent between calls) at each example's
 * position p, and the query attends to cached positions 0..p — causal by construction.
 */
function attendCached(b: Builder, layer: string, Q: Tensor, K: Tensor, V: Tensor, { H, dk, dv }: { H: number; dk: number; dv: number }): Tensor {
  const decode = b.decode!, context = decode.context;
  const cache = (what: "key" | "value", width: number) =>
    b.mod.tensor({ shape: [context, width], batched: true, dtype: "f32", kind: "cache", name: `${layer}/${what}_cache`, layer });
  const key = cache("key", H * dk), value = cache("value", H * dv);
  decode.caches.push({ layer, key, value });
  const O = b.act([1, H * dv]);
  b.mod.node(b.prog, "cached_attention", [Q, K, V, decode.position], [O, key, value], { heads: H, dk, dv, context, alpha: 1 / Math.sqrt(dk) }, layer);
  return O;
}

