/**
 * cached_attention: one decode step of causal self-attention against per-example key/value caches
 * (emit/cached-attention.ts). Inputs [q, k, v, position]: the step's projections [B, H·dk|dv] and
 * each example's position (i32 [B, 1]); outputs [o, keyCache, valueCache]: the attention output
 * [B, H·dv], and the caches [B, context, H·dk|dv], which the kernel also reads (the positions
 * before this one) — they persist between calls (tensor kind "cache"). Only the decode program
 * has it; it is never differentiated.
 */
import { emitCachedAttention } from "../emit/cached-attention.js";
import type { PrimDef } from "./prim.js";

export interface CachedAttentionAttrs { heads: number; dk: number; dv: number; context: number; alpha: number }

export const cached_attention: PrimDef<"cached_attention"> = {
  grad: { none: "inference only: the decode program has no backward pass" },
  select: (node, _ctx, $) => ({
    def: emitCachedAttention({ ...node.attrs, rows: $.dim({ batch: 1 }) }),
    args: {
      q: $.ptr($.in(0)), k: $.ptr($.in(1)), v: $.ptr($.in(2)), pos: $.ptr($.in(3)),
      o: $.ptr($.out(0)), kc: $.ptr($.out(1)), vc: $.ptr($.out(2)), scratch: $.scratch,
    },
  }),
  // Each example reads and writes only its own cache rows.
  threads: { batch: (_n, outsBatched) => outsBatched },
};
