/**
 * Kernel selection: each IR node → one KernelDef (from the emitters) plus the argument of every
 * kernel parameter: planned byte offsets for tensors, `batch·k` expressions for runtime sizes.
 * Arguments are numbers and the fixed identifier `batch` only — never anything from the graph.
 */
import { numel, type Dim, type Module, type Node, type Tensor } from "../ir/ir.js";
import type { KernelDef } from "../emit/kernel.js";
import { intlit } from "../emit/code.js";
import { emitMatmul } from "../emit/matmul.js";
import {
  directConvApplies, emitConv2d, emitConv2dDirect, emitConv2dGradFilter, emitConv2dGradFilterDirect, emitConv2dGradInput,
} from "../emit/conv.js";
import {
  emitConv2dGradFilterWinograd, emitConv2dGradInputWinograd, emitConv2dWinograd, winogradGradFilterPays, winogradGradInputPays,
  winogradGradInputTile, winogradPays, winogradTile,
} from "../emit/winograd.js";
import { emitPool2d, emitPool2dGrad } from "../emit/pool.js";
import { emitChunkedGradFilter, emitChunkSum } from "../emit/chunks.js";
import { emitElementwise } from "../emit/elementwise.js";
import { emitReduce } from "../emit/reduce.js";
import { emitSoftmax, emitSoftmaxGrad } from "../emit/softmax.js";
import { emitCopy, emitFill } from "../emit/copy.js";
import { emitGather, emitScatterAdd } from "../emit/gather.js";
import { emitLoss, emitLossEval } from "../emit/loss.js";
import { emitDropoutMask } from "../emit/dropout.js";
import { emitClipScale, emitStepScalars, emitSumSquares, emitUpdate } from "../emit/optimizer.js";

export interface KernelCall {
  def: KernelDef;
  /** Argument expression per parameter name. */
  args: Record<string, string>;
}

export interface SelectContext {
  mod: Module;
  /** Byte offset of a tensor's buffer (after following aliases). */
  addr(t: Tensor): number;
  /** The scratch region: a constant, or (threaded builds) a per-thread expression. */
  scratch: number | string;
  relaxed: boolean;
  /** The i32 holding this call's batch count: `batch`, or a thread's share of it. */
  batch?: string;
  /** Threaded batch split: the first example of this thread's share; batched tensors start there. */
  batchOffset?: string;
  /**
   * A training step: its forward convs feed relu masks (x > 0) of the backward pass, where an
   * exact zero must stay exactly zero (see the conv2d selector).
   */
  training?: boolean;
}

/** A runtime Dim becomes a named i32 parameter; constants stay constants. */
class Dims {
  readonly args: Record<string, string> = {};
  private n = 0;
  constructor(private readonly batch: string) {}
  dim(d: Dim): number | string {
    if (typeof d === "number") return d;
    const name = `rt${this.n++}`;
    this.args[name] = d.batch === 1 ? this.batch : `${this.batch} * ${intlit(d.batch)}`;
    return name;
  }
}

type Selector = (node: Node, ctx: SelectContext, dims: Dims, T: (i: number) => Tensor, O: (i: number) => Tensor) => KernelCall;

function ptr(ctx: SelectContext, t: Tensor, elemOffset = 0): string {
  const base = intlit(ctx.addr(t) + 4 * elemOffset);
  const s = ctx.mod.storage(t);
  if (!ctx.batchOffset || !s.batched) return base;
  return `${base} + <usize>${ctx.batchOffset} * ${intlit(4 * numel(s.shape))}`;
}

const scratchArg = (ctx: SelectContext) => (typeof ctx.scratch === "number" ? intlit(ctx.scratch) : ctx.scratch);

/** The direct filter gradient wins while dW is small (measured 1.1–9.5× up to kh·kw·c·f = 1152, 0.9× at 1728). */
function directGradFilter(a: any): boolean {
  return directConvApplies(a) && a.kh * a.kw * a.c * a.f <= 1152;
}

const SELECTORS: Record<string, Selector> = {
  matmul(node, ctx, dims, T, O) {
    const a = node.attrs;
    const def = emitMatmul({
      m: dims.dim(a.m), n: a.n, k: dims.dim(a.k), transA: a.transA, transB: a.transB, lda: a.lda, ldb: a.ldb, ldc: a.ldc,
      batch: a.batch?.map((l: any) => ({ ...l, count: dims.dim(l.count) })), alpha: a.alpha, accumulate: a.accumulate,
      bias: !!a.bias, activation: a.activation, relaxed: ctx.relaxed,
    });
    const args: Record<string, string> = { a: ptr(ctx, T(0), a.offA), b: ptr(ctx, T(1), a.offB), c: ptr(ctx, O(0), a.offC), scratch: scratchArg(ctx) };
    if (a.bias) args.bias = ptr(ctx, T(2));
    return { def, args };
  },
  conv2d(node, ctx, dims, T, O) {
    const a = node.attrs;
    const spec = { ...a, bias: !!a.bias, relaxed: ctx.relaxed };
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
    const args: Record<string, string> = { x: ptr(ctx, T(0)), w: ptr(ctx, T(1)), y: ptr(ctx, O(0)), scratch: scratchArg(ctx), n: ctx.batch ?? "batch" };
    if (a.bias) args.bias = ptr(ctx, T(2));
    return { def, args };
  },
  conv2d_grad_input(node, ctx, dims, T, O) {
    const spec = { ...node.attrs, relaxed: ctx.relaxed };
    // the transposed conv through Winograd where it has enough 2×2 tiles, 4×4 where those pay (rules: winograd.ts)
    const def = winogradGradInputPays(spec) ? emitConv2dGradInputWinograd(spec, winogradGradInputTile(spec)) : emitConv2dGradInput(spec);
    return { def, args: { dy: ptr(ctx, T(0)), w: ptr(ctx, T(1)), dx: ptr(ctx, O(0)), scratch: scratchArg(ctx), n: ctx.batch ?? "batch" } };
  },
  conv2d_grad_filter(node, ctx, dims, T, O) {
    const { chunk, ...attrs } = node.attrs;
    const spec = { ...attrs, relaxed: ctx.relaxed };
    // c ≤ 4 and small: the direct kernel (conv1 of the seed CNN ~4× the GEMM, ~2× Winograd);
    // then Winograd's 16 GEMMs over the batch's 2×2 tiles where they pay (rule: winograd.ts).
    const whole = directGradFilter(spec) ? emitConv2dGradFilterDirect(spec)
      : winogradGradFilterPays(spec) ? emitConv2dGradFilterWinograd(spec) : emitConv2dGradFilter(spec);
    const args = { x: ptr(ctx, T(0)), dy: ptr(ctx, T(1)), dw: ptr(ctx, O(0)), scratch: scratchArg(ctx), n: ctx.batch ?? "batch" };
    if (!chunk) return { def: whole, args };
    // One partial per chunk of examples (fuse.ts: chunkFilterGradients): a thread's share starts
    // on a chunk boundary (the runtime aligns the split), and its partials at that chunk's.
    const partialBytes = 4 * O(0).shape[1]!;
    const def = emitChunkedGradFilter(whole, chunk, 4 * numel(T(0).shape), 4 * numel(T(1).shape), partialBytes);
    if (ctx.batchOffset) args.dw = `${args.dw} + <usize>(${ctx.batchOffset} / ${chunk}) * ${intlit(partialBytes)}`;
    return { def, args };
  },
  chunk_sum(node, ctx, dims, T, O) {
    const a = node.attrs, off = a.offset ?? 0;
    const def = emitChunkSum({ n: a.n, cols: a.cols ?? a.n, chunk: a.chunk, accumulate: a.accumulate });
    return { def, args: { p: ptr(ctx, T(0), off), out: ptr(ctx, O(0), off), batch: ctx.batch ?? "batch" } };
  },
  pool2d(node, ctx, dims, T, O) {
    return { def: emitPool2d(node.attrs), args: { x: ptr(ctx, T(0)), y: ptr(ctx, O(0)), n: ctx.batch ?? "batch" } };
  },
  pool2d_grad(node, ctx, dims, T, O) {
    return { def: emitPool2dGrad(node.attrs), args: { x: ptr(ctx, T(0)), dy: ptr(ctx, T(1)), dx: ptr(ctx, O(0)), n: ctx.batch ?? "batch" } };
  },
  ew(node, ctx, dims, T, O) {
    const a = node.attrs;
    const def = emitElementwise({
      rows: dims.dim(a.rows), cols: a.cols,
      inputs: a.inputs.map((m: any, i: number) => ({ ...m, dtype: T(i).dtype })),
      outputs: a.exprs.map((expr: any, i: number) => ({ expr, accumulate: !!a.accumulate?.[i] })),
    });
    const args: Record<string, string> = {};
    node.inputs.forEach((_, i) => (args[`in${i}`] = ptr(ctx, T(i))));
    node.outputs.forEach((_, i) => (args[`out${i}`] = ptr(ctx, O(i))));
    return { def, args };
  },
  reduce(node, ctx, dims, T, O) {
    const a = node.attrs;
    const def = emitReduce({ ...a, outer: dims.dim(a.outer), inputs: a.inputs.map((m: any, i: number) => ({ ...m, dtype: T(i).dtype })) });
    const args: Record<string, string> = { out: ptr(ctx, O(0)) };
    node.inputs.forEach((_, i) => (args[`in${i}`] = ptr(ctx, T(i))));
    return { def, args };
  },
  softmax(node, ctx, dims, T, O) {
    const a = node.attrs;
    return { def: emitSoftmax({ ...a, outer: dims.dim(a.outer) }), args: { x: ptr(ctx, T(0)), y: ptr(ctx, O(0)) } };
  },
  softmax_grad(node, ctx, dims, T, O) {
    const a = node.attrs;
    return { def: emitSoftmaxGrad({ ...a, outer: dims.dim(a.outer) }), args: { y: ptr(ctx, T(0)), dy: ptr(ctx, T(1)), dx: ptr(ctx, O(0)) } };
  },
  copy(node, ctx, dims, T, O) {
    const a = node.attrs;
    const def = emitCopy({ shape: a.shape.map((d: Dim) => dims.dim(d)), srcStrides: a.srcStrides, dstStrides: a.dstStrides, accumulate: a.accumulate });
    return { def, args: { src: ptr(ctx, T(0), a.srcOffset ?? 0), dst: ptr(ctx, O(0), a.dstOffset ?? 0) } };
  },
  fill(node, ctx, dims, T, O) {
    return { def: emitFill({ n: dims.dim(node.attrs.n), value: node.attrs.value }), args: { out: ptr(ctx, O(0)) } };
  },
  gather(node, ctx, dims, T, O) {
    const a = node.attrs;
    return { def: emitGather({ ...a, rows: dims.dim(a.rows) }), args: { ids: ptr(ctx, T(0)), table: ptr(ctx, T(1)), out: ptr(ctx, O(0)) } };
  },
  scatter_add(node, ctx, dims, T, O) {
    const a = node.attrs;
    return { def: emitScatterAdd({ ...a, rows: dims.dim(a.rows) }), args: { ids: ptr(ctx, T(0)), dy: ptr(ctx, T(1)), dtable: ptr(ctx, O(0)) } };
  },
  recip_batch(node, ctx, dims, T, O) {
    const n = dims.dim({ batch: node.attrs.k }) as string;
    const def: KernelDef = { key: "recip_batch", label: "1/(batch·k)", params: [{ name: "out", type: "usize" }, { name: n, type: "i32" }], body: `store<f32>(out, <f32>1.0 / <f32>${n});` };
    return { def: { ...def, key: `recip_batch:${n}` }, args: { out: ptr(ctx, O(0)) } };
  },
  loss(node, ctx, dims, T, O) {
    const a = node.attrs;
    const spec = { type: a.type, fromLogits: a.fromLogits, rows: dims.dim(a.rows), classes: a.classes, fusedSoftmax: a.fusedSoftmax, metrics: a.metrics };
    const def = a.withGradient ? emitLoss(spec) : emitLossEval(spec);
    const args: Record<string, string> = { pred: ptr(ctx, T(0)), target: ptr(ctx, T(1)), out: ptr(ctx, O(0)) };
    if (a.fusedSoftmax) args.probs = ptr(ctx, O(1));
    if (a.withGradient) args.grad = ptr(ctx, O(a.fusedSoftmax ? 2 : 1));
    return { def, args };
  },
  dropout_mask(node, ctx, dims, T, O) {
    const a = node.attrs;
    return { def: emitDropoutMask({ n: dims.dim(a.n), rate: a.rate, stream: a.stream }), args: { mask: ptr(ctx, O(0)), rng: ptr(ctx, T(0)) } };
  },
  opt_sumsq(node, ctx, dims, T, O) {
    return { def: emitSumSquares({ n: node.attrs.n }), args: { g: ptr(ctx, T(0)), out: ptr(ctx, O(0)) } };
  },
  opt_step(node, ctx, dims, T, O) {
    return { def: emitStepScalars(node.attrs), args: { state: ptr(ctx, T(0), 1), sumsq: ptr(ctx, T(1)), hyper: ptr(ctx, O(0)) } };
  },
  opt_clip(node, ctx, dims, T, O) {
    return { def: emitClipScale({ clipnorm: node.attrs.clipnorm }), args: { sumsq: ptr(ctx, T(0)), hyper: ptr(ctx, O(0)) } };
  },
  opt_update(node, ctx, dims, T, O) {
    const a = node.attrs;
    // `offset` (elements) selects a part of the sweep in threaded builds.
    const off = a.offset ?? 0;
    const slot = (name: string) => {
      const i = a.slotNames.indexOf(name);
      return i < 0 ? "0" : ptr(ctx, T(3 + i), off);
    };
    return { def: emitUpdate(a), args: { w: ptr(ctx, T(0), off), g: ptr(ctx, T(1), off), hyper: ptr(ctx, T(2)), slot1: slot("momentum"), slot2: slot("velocity") } };
  },
};

export function selectKernel(node: Node, ctx: SelectContext): KernelCall {
  const sel = SELECTORS[node.op];
  if (!sel) throw new Error(`internal: no kernel for ${node.op}`);
  const dims = new Dims(ctx.batch ?? "batch");
  const call = sel(node, ctx, dims, (i) => ctx.mod.t(node.inputs[i]!), (i) => ctx.mod.t(node.outputs[i]!));
  const args = { ...call.args, ...dims.args };
  for (const p of call.def.params) {
    if (args[p.name] === undefined) throw new Error(`internal: ${node.op} kernel parameter ${p.name} has no argument (layer ${node.layer})`);
  }
  return { def: call.def, args };
}
