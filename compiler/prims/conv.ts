/**
 * 2-D convolution (NHWC, kernel [kh, kw, c, f]) and its two gradients, plus `chunk_sum`, the sum
 * of a filter gradient's per-chunk partials. Attributes are the geometry, with the epilogue
 * (bias, activation, max-pool) fusion folds in.
 */
import type { ActivationName } from "../frontend/graph-types.js";
import { numel, type Tensor } from "../ir/ir.js";
import { intlit } from "../emit/code.js";
import {
  directConvApplies, emitConv2d, emitConv2dDirect, emitConv2dGradFilter, emitConv2dGradFilterDirect, emitConv2dGradInput,
} from "../emit/conv.js";
import {
  emitConv2dGradFilterWinograd, emitConv2dGradInputWinograd, emitConv2dWinograd, winogradGradFilterPays, winogradGradFilterTile, winogradGradInputPays,
  winogradGradInputTile, winogradPays, winogradTile,
} from "../emit/winograd.js";
import { emitChunkedGradFilter, emitChunkSum } from "../emit/chunks.js";
import { columnParts, type GradRule, type PrimDef } from "./prim.js";

export interface ConvGeometry {
  h: number; w: number; c: number; f: number;
  kh: number; kw: number; sh: number; sw: number; dh: number; dw: number;
  padTop: number; padLeft: number; oh: number; ow: number;
}

export interface Conv2dAttrs extends ConvGeometry {
  accumulate?: boolean;
  /** Fused by fuse.ts: the bias is the third input; then the activation. */
  bias?: boolean;
  /** Set by fold-batch-norm (predict, evaluate): act(conv·scale + bias), the per-filter scale the fourth input. */
  scale?: boolean;
  /** Fused by fuse.ts: a tensor shaped as the output added before the activation (a residual add), the last input. */
  residual?: boolean;
  activation?: ActivationName;
  /** Fused by fuse.ts (direct kernel, not in train_step): a max-pool over tiling windows of the output. */
  pool?: { ph: number; pw: number; poh: number; pow: number };
}

export interface Conv2dGradInputAttrs extends ConvGeometry { accumulate?: boolean }

export interface Conv2dGradFilterAttrs extends ConvGeometry {
  accumulate?: boolean;
  /** Set by chunkFilterGradients: the output holds one partial gradient per chunk of this many examples. */
  chunk?: number;
}

/** out[cols from offset] (+)= Σ over ⌈batch / chunk⌉ partials [·, n], in chunk order. */
export interface ChunkSumAttrs {
  n: number;
  chunk: number;
  accumulate?: boolean;
  /** A column part of a threaded build: `cols` floats from `offset`. */
  cols?: number;
  offset?: number;
}

const grad: GradRule<"conv2d"> = (node, ctx) => {
  const [x, w] = node.inputs.map((i) => ctx.mod.t(i)) as [Tensor, Tensor];
  const dy = ctx.gradOf(ctx.mod.t(node.outputs[0]!))!;
  const spec = node.attrs;
  if (ctx.needs(x)) ctx.contribute(x, { full: true, emit: (t, acc) => void ctx.mod.node(ctx.prog, "conv2d_grad_input", [dy, w], [t], { ...spec, accumulate: acc }, ctx.layer) });
  if (ctx.needs(w)) ctx.contribute(w, { full: true, emit: (t, acc) => void ctx.mod.node(ctx.prog, "conv2d_grad_filter", [x, dy], [t], { ...spec, accumulate: acc }, ctx.layer) });
};

/** The direct filter gradient wins while dW is small (measured 1.1–9.5× up to kh·kw·c·f = 1152, 0.9× at 1728). */
function directGradFilter(a: ConvGeometry): boolean {
  return directConvApplies(a) && a.kh * a.kw * a.c * a.f <= 1152;
}

const SECOND_ORDER = "a gradient kernel: kiln takes first derivatives only";

export const conv2d: PrimDef<"conv2d"> = {
  grad,
  select(node, ctx, $) {
    const a = node.attrs;
    const spec = { ...a, bias: !!a.bias, scale: !!a.scale, residual: !!a.residual, relaxed: ctx.relaxed };
    // c ≤ 4: the direct kernel (1.1–3.5× the im2col GEMM measured; conv1 of the seed CNN ~2×).
    // A fused max-pool (fuse.ts) exists only for shapes the direct kernel takes. Otherwise
    // Winograd F(2×2,3×3) or F(4×4,3×3) for 3×3 stride-1 convs: 2.25× or 4× fewer products
    // (rules and measurements: winograd.ts).
    const direct = directConvApplies(a) && !a.accumulate;
    if (a.pool && !direct) throw new Error(`internal: conv2d with a fused pool needs the direct kernel (layer ${node.layer})`);
    // F(4×4) only outside training: its transforms (¼, ⅙, 1/24 …) leave ~1e-9 where a relu'd
    // output is exactly 0 in exact arithmetic (an input region of zeros: MNIST's blank margins),
    // which flips the backward pass's relu mask there — the conv bias gradient then differed from
    // TensorFlow's by 23% on real digits (test/training/cnn-tfjs.test.ts). F(2×2)'s 0, ±1, ±½
    // cancel exactly there.
    const tile = ctx.training ? 2 : winogradTile(spec);
    const def = direct ? emitConv2dDirect(spec) : winogradPays(spec) ? emitConv2dWinograd(spec, tile) : emitConv2d(spec);
    const args: Record<string, string> = { x: $.ptr($.in(0)), w: $.ptr($.in(1)), y: $.ptr($.out(0)), scratch: $.scratch, n: $.batch };
    if (a.bias) args.bias = $.ptr($.in(2));
    if (a.scale) args.scale = $.ptr($.in(3));
    if (a.residual) args.residual = $.ptr($.in(node.inputs.length - 1));
    return { def, args };
  },
  threads: { batch: (_n, outsBatched) => outsBatched },
};

/**
 * conv2d_grad_input as a layer's forward (conv2d_transpose): dx = Σ dy·wᵀ is linear in dy and in
 * w, so its own gradients are the conv2d of dx's gradient with w (same geometry) and the filter
 * gradient of that conv with dy as its output gradient.
 */
const gradInputGrad: GradRule<"conv2d_grad_input"> = (node, ctx) => {
  const [dy, w] = node.inputs.map((i) => ctx.mod.t(i)) as [Tensor, Tensor];
  const g = ctx.gradOf(ctx.mod.t(node.outputs[0]!))!;
  const { accumulate: _, ...spec } = node.attrs;
  // conv2d overwrites (its direct kernel cannot accumulate), so a second contribution goes through a temporary
  if (ctx.needs(dy)) ctx.contribute(dy, { full: true, canAccumulate: false, emit: (t) => void ctx.mod.node(ctx.prog, "conv2d", [g, w], [t], spec, ctx.layer) });
  if (ctx.needs(w)) ctx.contribute(w, { full: true, emit: (t, acc) => void ctx.mod.node(ctx.prog, "conv2d_grad_filter", [g, dy], [t], { ...spec, accumulate: acc }, ctx.layer) });
};

export const conv2d_grad_input: PrimDef<"conv2d_grad_input"> = {
  grad: gradInputGrad,
  select(node, ctx, $) {
    const spec = { ...node.attrs, relaxed: ctx.relaxed };
    // the transposed conv through Winograd where it has enough 2×2 tiles, 4×4 where those pay (rules: winograd.ts)
    const def = winogradGradInputPays(spec) ? emitConv2dGradInputWinograd(spec, winogradGradInputTile(spec)) : emitConv2dGradInput(spec);
    return { def, args: { dy: $.ptr($.in(0)), w: $.ptr($.in(1)), dx: $.ptr($.out(0)), scratch: $.scratch, n: $.batch } };
  },
  threads: { batch: (_n, outsBatched) => outsBatched },
};

export const conv2d_grad_filter: PrimDef<"conv2d_grad_filter"> = {
  chunkedOverBatch: true,
  grad: { none: SECOND_ORDER },
  select(node, ctx, $) {
    const { chunk, ...attrs } = node.attrs;
    const spec = { ...attrs, relaxed: ctx.relaxed };
    // c ≤ 4 and small: the direct kernel (conv1 of the seed CNN ~4× the GEMM, ~2× Winograd);
    // then Winograd's GEMMs over the batch's 2×2 or 4×4 tiles where they pay (select/rules.ts: winogradGradFilterPays, winogradGradFilterTile).
    const whole = directGradFilter(spec) ? emitConv2dGradFilterDirect(spec)
      : winogradGradFilterPays(spec) ? emitConv2dGradFilterWinograd(spec, winogradGradFilterTile(spec)) : emitConv2dGradFilter(spec);
    const args = { x: $.ptr($.in(0)), dy: $.ptr($.in(1)), dw: $.ptr($.out(0)), scratch: $.scratch, n: $.batch };
    if (!chunk) return { def: whole, args };
    // One partial per chunk of examples (passes/schedule.ts: chunkFilterGradients): a thread's
    // share starts on a chunk boundary (the runtime aligns the split), and its partials at that chunk's.
    const partialBytes = 4 * $.out(0).shape[1]!;
    const def = emitChunkedGradFilter(whole, chunk, 4 * numel($.in(0).shape), 4 * numel($.in(1).shape), partialBytes);
    if (ctx.batchOffset) args.dw = `${args.dw} + <usize>(${ctx.batchOffset} / ${chunk}) * ${intlit(partialBytes)}`;
    return { def, args };
  },
  // Per chunk of examples: a thread's share of the batch starts on a chunk boundary (the runtime
  // aligns the split to `chunk`), so each thread writes the partials of its own examples only.
  threads: { batch: (n) => !!n.attrs.chunk },
};

export const chunk_sum: PrimDef<"chunk_sum"> = {
  grad: { none: SECOND_ORDER },
  select(node, ctx, $) {
    const a = node.attrs, off = a.offset ?? 0;
    const def = emitChunkSum({ n: a.n, cols: a.cols ?? a.n, chunk: a.chunk, accumulate: a.accumulate });
    return { def, args: { p: $.ptr($.in(0), off), out: $.ptr($.out(0), off), batch: $.batch } };
  },
  threads: {
    parts: (node, parts) => (node.attrs.n >= 64 * parts
      ? columnParts(node.attrs.n, parts, 4).map(([c0, cn]) => ({ ...node, attrs: { ...node.attrs, cols: cn, offset: c0 } }))
      : undefined),
  },
};
