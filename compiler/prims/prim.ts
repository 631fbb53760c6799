/**
 * What defining a primitive means: everything the passes after lowering need to know about it,
 * in one typed record (PrimDef), so the type checker holds the registry (prims/index.ts) complete.
 *  - its attributes (PrimAttrs in prims/index.ts, each interface beside its definition);
 *  - its gradient rule, or the reason it has none (autodiff throws when a gradient would have to
 *    pass through a primitive without one);
 *  - kernel selection: the node → one KernelDef from the emitters plus the argument of every
 *    kernel parameter (planned byte offsets, `batch·k` expressions, never anything from a file);
 *  - how a threaded build shares one call (passes/threads.ts);
 *  - which inputs its kernel updates in place.
 */
import { numel, type Dim, type Module, type NodeOf, type PrimOp, type Program, type Tensor } from "../ir/ir.js";
import type { KernelDef } from "../emit/kernel.js";
import { intlit } from "../emit/code.js";

// ------------------------------------------------------------------ gradients

/** One way of writing (part of) a gradient into `target`. */
export interface Contribution {
  /** Writes every element of the target (so a single full contribution needs no zeroing). */
  full: boolean;
  /** False when the kernel can only overwrite (then the sum goes through a temporary). */
  canAccumulate?: boolean;
  emit(target: Tensor, accumulate: boolean): void;
}

/** What a gradient rule sees (autodiff.ts implements it). */
export interface GradContext {
  mod: Module;
  prog: Program;
  layer: string;
  /** Does this tensor need a gradient (on a path from a trainable weight)? */
  needs(t: Tensor): boolean;
  /** The finished gradient of a node output, or undefined when nothing flows back into it. */
  gradOf(t: Tensor): Tensor | undefined;
  contribute(x: Tensor, c: Contribution): void;
  /** A fresh gradient-shaped temporary like `like`. */
  temp(like: Tensor): Tensor;
}

/** Reads the node and the gradients of its outputs; contributes to the gradients of its inputs. */
export type GradRule<K extends PrimOp> = (node: NodeOf<K>, ctx: GradContext) => void;

/** A primitive without a gradient says why (a gradient kernel itself, a random mask, ...). */
export interface NoGradient { none: string }

// ------------------------------------------------------------------ kernel selection

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

/** Helpers a selector builds its arguments with. */
export class Args {
  /** Arguments of the runtime sizes named so far. */
  readonly sizes: Record<string, string> = {};
  private n = 0;
  constructor(private readonly ctx: SelectContext, private readonly node: NodeOf<PrimOp>) {}

  /** A runtime Dim becomes a named i32 kernel parameter (`rt0`, `rt1`, ...); constants stay constants. */
  dim(d: Dim): number | string {
    if (typeof d === "number") return d;
    const name = `rt${this.n++}`;
    this.sizes[name] = d.batch === 1 ? this.batch : `${this.batch} * ${intlit(d.batch)}`;
    return name;
  }

  /** The i32 holding this call's batch count. */
  get batch(): string {
    return this.ctx.batch ?? "batch";
  }

  /** Input i / output i of the node. */
  in(i: number): Tensor {
    return this.ctx.mod.t(this.node.inputs[i]!);
  }
  out(i: number): Tensor {
    return this.ctx.mod.t(this.node.outputs[i]!);
  }

  /** The byte address of a tensor (+ elemOffset floats); batched tensors start at this thread's share. */
  ptr(t: Tensor, elemOffset = 0): string {
    const base = intlit(this.ctx.addr(t) + 4 * elemOffset);
    const s = this.ctx.mod.storage(t);
    if (!this.ctx.batchOffset || !s.batched) return base;
    return `${base} + <usize>${this.ctx.batchOffset} * ${intlit(4 * numel(s.shape))}`;
  }

  get scratch(): string {
    return typeof this.ctx.scratch === "number" ? intlit(this.ctx.scratch) : this.ctx.scratch;
  }
}

export type Selector<K extends PrimOp> = (node: NodeOf<K>, ctx: SelectContext, args: Args) => KernelCall;

// ------------------------------------------------------------------ threads

/**
 * How a threaded build shares one call (passes/threads.ts): `batch` — each thread runs its share
 * of the batch (the work is per example along the outermost runtime dimension); `parts` — fixed
 * column parts decided at compile time, part j on thread j mod N; `replicate` — every thread runs
 * the whole (small) call, writing the same bits, so that no thread waits for thread 0 to write
 * them; neither — thread 0 alone.
 */
export interface ThreadRule<K extends PrimOp> {
  batch?(node: NodeOf<K>, outputsBatched: boolean): boolean;
  parts?(node: NodeOf<K>, parts: number, outputsBatched: boolean): NodeOf<K>[] | undefined;
  /**
   * Whether the kernel, at batches up to `maxBatch`, stores every output element exactly once,
   * with its final value, and reads none of its outputs (no accumulation): then threads running
   * it at once only ever store equal bytes, and each may read its outputs once it has run it.
   * threads.ts replicates such a call only where the work is small and nothing else writes its
   * outputs. Say true only where the emitter guarantees it (a partial sum stored first breaks it).
   */
  replicate?(node: NodeOf<K>, maxBatch: number): boolean;
}

// ------------------------------------------------------------------ the definition

export interface PrimDef<K extends PrimOp> {
  grad: GradRule<K> | NoGradient;
  select: Selector<K>;
  threads: ThreadRule<K>;
  /** Inputs the kernel updates in place besides its outputs (indices into `inputs`). */
  writesInputs?: readonly number[];
  /**
   * A sum over the batch into an unbatched output (a filter gradient) that the
   * chunk-filter-gradients pass splits into one partial per chunk of examples plus their sum in
   * chunk order (attrs gain `chunk`), so threads can share it by examples with the same bits.
   */
  chunkedOverBatch?: true;
}

/** Per-example along the batch dimension `d` (a runtime Dim). */
export const isBatchDim = (d: Dim | undefined): boolean => d !== undefined && typeof d !== "number";

/** [start, count] of `parts` near-equal chunks of n, chunk sizes multiples of `align` where possible. */
export function columnParts(n: number, parts: number, align: number): [number, number][] {
  const size = Math.max(align, Math.ceil(n / parts / align) * align);
  const out: [number, number][] = [];
  for (let c0 = 0; c0 < n; c0 += size) out.push([c0, Math.min(size, n - c0)]);
  return out;
}

/** A gradient-rule shorthand: the one output's gradient and the node's input tensors. */
export function gradIO<K extends PrimOp>(node: NodeOf<K>, ctx: GradContext): { ins: Tensor[]; out: Tensor; dy: Tensor | undefined } {
  const out = ctx.mod.t(node.outputs[0]!);
  return { ins: node.inputs.map((i) => ctx.mod.t(i)), out, dy: ctx.gradOf(out) };
}
