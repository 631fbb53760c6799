/**
 * Fusion rewrites (IR → IR): no intermediate tensor is written that a fused kernel can keep in
 * registers. Each is a pass of its own over every program, run in this order by the pipeline:
 *  pruneUnusedInputs   ew/reduce inputs no expression reads are dropped (they would block fusion);
 *  dropIdentityCopies  `out = ew(in)` copies (a single gradient contribution passed along) go:
 *                      readers read the source;
 *  foldZeroPadding     zero_padding2d (a fill and a copy) before a conv2d/depthwise_conv2d that
 *                      is its only reader → the conv's own padding grows, the copy goes;
 *  fuseEpilogues       matmul/conv2d/depthwise_conv2d + bias add + residual add (not depthwise)
 *                      + activation (relu6 included) → one kernel with the epilogue fused (the
 *                      residual: an add of a tensor complete before the product, read as the
 *                      product stores);
 *  fuseConvPool        conv2d (small c, direct kernel) → 2×2/2 valid max-pool: the conv stores
 *                      only each window's max (attrs.pool), when the pool is the conv output's
 *                      only reader — so only where nothing else (a pool gradient) needs it;
 *  fusePoolGradRelu    max-pool gradient (tiling windows) → the relu derivative that follows it
 *                      (x > 0 ? 1 : 0)·dx: one pass over dx instead of two;
 *  fuseElementwise     elementwise chains → one loop (a producer's expression is substituted
 *                      into its consumer's), and an elementwise producer feeding a reduction →
 *                      the reduction's `pre` expression.
 * A producer is folded only into its single consumer, and only through plain activations.
 * Every rewrite reads and updates a ProgramIndex, so each costs O(n log n) in the program's size.
 */
import { X, isFull, remap, sameExpr, sameInput, substitute, type EwExpr, type EwInput, type EwUnary } from "../ir/expr.js";
import { numel, sameDim, type Dim, type Module, type Node, type NodeOf, type Program, type Tensor } from "../ir/ir.js";
import type { ActivationName } from "../frontend/graph-types.js";
import { directConvApplies } from "../select/rules.js";
import { ProgramIndex } from "./program-index.js";
import { MinHeap } from "../util/heap.js";

/** Activations the matmul/conv epilogues compute (emit/activation.ts). */
const EPILOGUE_ACTIVATIONS: ReadonlySet<EwUnary & ActivationName> = new Set(["relu", "sigmoid", "tanh", "gelu", "leaky_relu", "elu", "silu", "softplus"] as const);

/**
 * Runs `rewrite` on every program that has a `candidate` node, with a fresh index, then drops the
 * nodes it removed. (A program without candidates costs one scan, not an index: an LSTM has no
 * conv for fuseConvPool to look at.)
 */
function eachProgram(mod: Module, candidate: (n: Node) => boolean, rewrite: (ix: ProgramIndex, prog: Program) => void): void {
  for (const prog of mod.programs) {
    if (!prog.nodes.some(candidate)) continue;
    const ix = new ProgramIndex(mod, prog);
    rewrite(ix, prog);
    ix.commit();
  }
}

const isEw = (n: Node | undefined): n is NodeOf<"ew"> => n?.op === "ew";

// ------------------------------------------------------------------ pruneUnusedInputs

/**
 * Drops ew/reduce inputs their expressions never read. Gradient rules list the forward node's
 * inputs even when the derivative ignores them (d(x + b)/db · dy reads only dy): such a dead read
 * of a conv/matmul output kept its bias + activation from being fused in train_step.
 */
export function pruneUnusedInputs(mod: Module): void {
  for (const prog of mod.programs) for (const n of prog.nodes) if (n.op === "ew" || n.op === "reduce") pruneNode(n);
}

function pruneNode(n: NodeOf<"ew"> | NodeOf<"reduce">): void {
  const exprs = n.op === "ew" ? n.attrs.exprs : [n.attrs.pre];
  const used = new Set<number>();
  for (const e of exprs) remap(e, (i) => (used.add(i), i));
  if (used.size === 0 || used.size === n.inputs.length) return;
  const keep = n.inputs.map((_, i) => i).filter((i) => used.has(i));
  const to = new Map(keep.map((old, i) => [old, i]));
  const rewrite = (e: EwExpr) => remap(e, (i) => to.get(i)!);
  const inputs = keep.map((i) => n.attrs.inputs[i]!);
  if (n.op === "ew") n.attrs = { ...n.attrs, inputs, exprs: exprs.map(rewrite) };
  else n.attrs = { ...n.attrs, inputs, pre: rewrite(exprs[0]!) };
  n.inputs = keep.map((i) => n.inputs[i]!);
}

// ------------------------------------------------------------------ dropIdentityCopies

const isIdentity = (n: Node): n is NodeOf<"ew"> => n.op === "ew" && n.inputs.length === 1 && n.outputs.length === 1 && n.attrs.exprs.length === 1
  && n.attrs.exprs[0]!.k === "in" && n.attrs.exprs[0]!.i === 0 && isFull(n.attrs.inputs[0]!) && !n.attrs.accumulate?.[0];

/**
 * Removes `out = ew(in)` copies: later readers of `out` read `in` instead. Autodiff passes a
 * single contribution to a gradient along as such a copy (seed CNN: 5 per train step, ~1.3% of
 * it). Only where nothing can tell: `out` is a plain activation no other program reads, nothing
 * aliases, and no later node overwrites `in`. (A layer output that goes leaves the NaN finder's
 * list; the layer it copied is in it with the same values.)
 */
export function dropIdentityCopies(mod: Module): void {
  const seenIn = new Map<number, Set<Program>>();
  for (const prog of mod.programs) for (const n of prog.nodes) for (const id of [...n.inputs, ...n.outputs]) {
    let s = seenIn.get(id);
    if (!s) seenIn.set(id, (s = new Set()));
    s.add(prog);
  }
  eachProgram(mod, isIdentity, (ix, prog) => {
    for (const n of prog.nodes) {
      if (!isIdentity(n)) continue;
      const out = mod.t(n.outputs[0]!), src = mod.t(n.inputs[0]!);
      if (out.kind !== "activation" || out.aliasOf !== undefined || ix.aliased.has(out.id) || seenIn.get(out.id)!.size > 1) continue;
      if (src.dtype !== out.dtype || src.batched !== out.batched) continue;
      const at = ix.at(n), srcStorage = mod.storage(src).id;
      if (ix.writtenAfter(srcStorage, at) || ix.writtenAfter(out.id, at, n)) continue;
      for (const m of ix.readersAfter(out.id, at)) ix.setInputs(m, m.inputs.map((i) => (i === out.id ? src.id : i)));
      ix.remove(n);
    }
  });
}

// ------------------------------------------------------------------ fuseEpilogues

/** A tensor whose only reader is `consumer`, so it need never be written. */
function privateTo(ix: ProgramIndex, t: Tensor, consumer: Node): boolean {
  if (t.kind !== "activation" || t.aliasOf !== undefined || ix.aliased.has(t.id)) return false;
  return ix.soleReader(t) === consumer;
}

/** `out = in0 + in1` with in1 broadcast per column of a `cols`-wide domain: a bias add. */
function isBiasAdd(next: NodeOf<"ew">, out: Tensor, cols: number): boolean {
  const e = next.attrs.exprs[0]!, [m0, m1] = next.attrs.inputs;
  return next.inputs.length === 2 && next.inputs[0] === out.id && isFull(m0!) && m1!.div === 1 && m1!.mod === cols
    && next.attrs.exprs.length === 1 && !next.attrs.accumulate?.[0]
    && e.k === "bin" && e.op === "add" && e.a.k === "in" && e.a.i === 0 && e.b.k === "in" && e.b.i === 1;
}

/**
 * relu6 as the lowering writes it: min(relu(x), 6) (the relu6 activation), min(max(relu(x), 0), 6)
 * (the ReLU layer with max_value 6) or min(max(x, 0), 6); each is min(max(x, 0), 6) exactly
 * (max(max(x, 0), 0) = max(x, 0), −0 and NaN included), the epilogue's relu6.
 */
export function isRelu6Of(e: EwExpr, x: (a: EwExpr) => boolean): boolean {
  const isConst = (a: EwExpr, v: number) => a.k === "const" && Object.is(a.v, v);
  if (e.k !== "bin" || e.op !== "min" || !isConst(e.b, 6)) return false;
  let a = e.a;
  if (a.k === "bin" && a.op === "max" && isConst(a.b, 0)) {
    if (x(a.a)) return true;
    a = a.a;
  }
  return a.k === "un" && a.op === "relu" && x(a.a);
}

/** `out = act(in0)` for an activation the epilogue computes; the activation, or undefined. */
function epilogueActivation(next: NodeOf<"ew">): ActivationName | undefined {
  const e = next.attrs.exprs[0]!;
  if (next.inputs.length !== 1 || !isFull(next.attrs.inputs[0]!) || next.attrs.accumulate?.[0] || next.attrs.exprs.length !== 1) return undefined;
  if (isRelu6Of(e, (a) => a.k === "in")) return "relu6";
  if (e.k !== "un" || e.a.k !== "in") return undefined;
  return EPILOGUE_ACTIVATIONS.has(e.op as EwUnary & ActivationName) ? (e.op as EwUnary & ActivationName) : undefined;
}

/**
 * `y = out + r` (either order) over whole tensors of the same size: a residual add (ResNet's
 * shortcut), whose r the epilogue can add as it stores — r's id, or undefined. Only when r is
 * complete before the product runs: nothing writes it between the product and the add.
 */
function residualOf(ix: ProgramIndex, n: Node, next: NodeOf<"ew">, out: Tensor): number | undefined {
  const e = next.attrs.exprs[0]!;
  if (next.inputs.length !== 2 || next.attrs.exprs.length !== 1 || next.attrs.accumulate?.[0] || !next.attrs.inputs.every(isFull)) return undefined;
  if (e.k !== "bin" || e.op !== "add" || e.a.k !== "in" || e.b.k !== "in" || e.a.i === e.b.i) return undefined;
  const at = next.inputs.indexOf(out.id);
  if (at < 0 || next.inputs[1 - at] === out.id) return undefined;
  const r = ix.mod.t(next.inputs[1 - at]!), y = ix.mod.t(next.outputs[0]!);
  if (r.dtype !== "f32" || r.batched !== out.batched || numel(r.shape) !== numel(out.shape) || numel(y.shape) !== numel(out.shape)) return undefined;
  const rs = ix.storageOf(r.id);
  if (rs === ix.storageOf(y.id) || rs === ix.storageOf(out.id) || ix.writtenBetween(rs, ix.at(n), ix.at(next))) return undefined;
  return r.id;
}

/** Output channels of a product whose epilogue fuseEpilogues may extend, or undefined. */
function epilogueColumns(n: Node): number | undefined {
  if (n.op !== "matmul" && n.op !== "conv2d" && n.op !== "depthwise_conv2d") return undefined;
  if (n.attrs.accumulate) return undefined;
  if (n.op === "matmul") return n.attrs.offC || n.attrs.batch?.length || (n.attrs.ldc !== undefined && n.attrs.ldc !== n.attrs.n) ? undefined : n.attrs.n;
  return n.op === "conv2d" ? n.attrs.f : n.attrs.c * n.attrs.m;
}

export function fuseEpilogues(mod: Module): void {
  eachProgram(mod, (n) => epilogueColumns(n) !== undefined, (ix, prog) => {
    for (const n of prog.nodes) {
      const cols = epilogueColumns(n);
      if (cols === undefined || (n.op !== "matmul" && n.op !== "conv2d" && n.op !== "depthwise_conv2d")) continue;
      let out = mod.t(n.outputs[0]!);
      let next = ix.soleReader(out);
      // A folded batch normalization (fold-batch-norm.ts) already gave the node its bias.
      if (!n.attrs.bias && isEw(next) && privateTo(ix, out, next) && isBiasAdd(next, out, cols)) {
        // The bias becomes the node's third input, so liveness and printing see it.
        n.attrs = { ...n.attrs, bias: true };
        ix.setInputs(n, [...n.inputs, next.inputs[1]!]);
        ix.remove(next);
        ix.setOutputs(n, [next.outputs[0]!]);
        out = mod.t(n.outputs[0]!);
        next = ix.soleReader(out);
      }
      // (The depthwise kernel has no residual input: MobileNetV2 adds its shortcut after the 1×1 projection.)
      const residual = n.op !== "depthwise_conv2d" && isEw(next) && privateTo(ix, out, next) ? residualOf(ix, n, next, out) : undefined;
      if (residual !== undefined) {
        // The other addend becomes the node's last input: the epilogue adds it before the activation.
        n.attrs = { ...n.attrs, residual: true };
        ix.setInputs(n, [...n.inputs, residual]);
        ix.remove(next!);
        ix.setOutputs(n, [next!.outputs[0]!]);
        out = mod.t(n.outputs[0]!);
        next = ix.soleReader(out);
      }
      const act = isEw(next) && privateTo(ix, out, next) ? epilogueActivation(next) : undefined;
      if (act) {
        n.attrs = { ...n.attrs, activation: act };
        ix.remove(next!);
        ix.setOutputs(n, [next!.outputs[0]!]);
      }
    }
  });
}

// ------------------------------------------------------------------ foldZeroPadding

/** A convolution the zero-padding fold can read through (both take explicit top/left padding, zeros outside the image). */
type PaddedConv = NodeOf<"conv2d"> | NodeOf<"depthwise_conv2d">;

/**
 * Where a `copy` of the whole of `src` ([h, w, c] per example) lands in `dst` ([H, W, c]): the
 * rows and columns of zeros before it, or undefined unless it is exactly zero_padding2d's
 * placement (contiguous source, row-major destination, nothing accumulated).
 */
function interiorPlacement(copy: NodeOf<"copy">, src: Tensor, dst: Tensor): { top: number; left: number } | undefined {
  const a = copy.attrs;
  if (a.accumulate || a.srcOffset || !src.batched || !dst.batched || src.shape.length !== 3 || dst.shape.length !== 3) return undefined;
  const [h, w, c] = src.shape as [number, number, number], [H, W, C] = dst.shape as [number, number, number];
  if (C !== c || a.shape.length !== 4 || typeof a.shape[0] === "number" || a.shape[0]!.batch !== 1) return undefined;
  if (a.shape[1] !== h || a.shape[2] !== w || a.shape[3] !== c) return undefined;
  if (a.srcStrides.join() !== [h * w * c, w * c, c, 1].join() || a.dstStrides.join() !== [H * W * c, W * c, c, 1].join()) return undefined;
  const off = a.dstOffset ?? 0, top = Math.floor(off / (W * c)), left = (off - top * W * c) / c;
  if (!Number.isInteger(left) || top + h > H || left + w > W) return undefined;
  return { top, left };
}

/**
 * The conv's padding once it reads the unpadded image directly, when every window still overlaps
 * the image (so no kernel meets a window of zeros only: pads at most the dilated kernel span − 1).
 */
function paddedGeometry(k: PaddedConv, h: number, w: number, top: number, left: number) {
  const a = k.attrs, spanH = (a.kh - 1) * a.dh, spanW = (a.kw - 1) * a.dw;
  const padTop = a.padTop + top, padLeft = a.padLeft + left;
  const bottom = (a.oh - 1) * a.sh + spanH + 1 - padTop - h, right = (a.ow - 1) * a.sw + spanW + 1 - padLeft - w;
  if (padTop > spanH || padLeft > spanW || bottom > spanH || right > spanW) return undefined;
  return { h, w, padTop, padLeft };
}

/**
 * zero_padding2d followed by a convolution (conv2d or depthwise_conv2d) whose only reader the
 * padded image is: the conv reads the unpadded image with its padding grown instead (kernels read
 * rows and columns outside the image as zeros), so the fill and the copy of the padded image go.
 * Keras applications pad before every stride-2 layer of MobileNetV2 and before ResNet's stem.
 * Where the padded image has another reader (a train step's filter gradient) nothing changes; in
 * a train step's frozen part it has none. (The padding layer's output then leaves the NaN finder's
 * list, manifest.training.layerOutputs, like any output a fusion keeps from memory.)
 */
export function foldZeroPadding(mod: Module): void {
  eachProgram(mod, (n) => n.op === "copy", (ix, prog) => {
    const writers = new Map<number, Node[]>();
    for (const n of prog.nodes) for (const o of new Set(n.outputs.map((id) => ix.storageOf(id)))) writers.set(o, [...(writers.get(o) ?? []), n]);
    for (const k of prog.nodes) {
      if ((k.op !== "conv2d" && k.op !== "depthwise_conv2d") || k.attrs.accumulate) continue;
      const padded = mod.t(k.inputs[0]!);
      if (!privateTo(ix, padded, k) || k.inputs.lastIndexOf(padded.id) !== 0) continue;
      const [fill, copy] = writers.get(ix.storageOf(padded.id)) ?? [];
      if (writers.get(ix.storageOf(padded.id))!.length !== 2 || fill?.op !== "fill" || copy?.op !== "copy") continue;
      if (fill.attrs.value !== 0 || !Object.is(fill.attrs.value, 0) || fill.outputs[0] !== padded.id || copy.outputs[0] !== padded.id) continue;
      if (!sameDim(fill.attrs.n, { batch: numel(padded.shape) }) || ix.at(fill) > ix.at(copy) || ix.at(copy) > ix.at(k)) continue;
      const src = mod.t(copy.inputs[0]!);
      const at = interiorPlacement(copy, src, padded);
      if (!at || src.dtype !== "f32" || ix.writtenBetween(ix.storageOf(src.id), ix.at(copy), ix.at(k))) continue;
      const g = paddedGeometry(k as PaddedConv, src.shape[0]!, src.shape[1]!, at.top, at.left);
      if (!g) continue;
      k.attrs = { ...k.attrs, ...g } as typeof k.attrs;
      ix.setInputs(k, [src.id, ...k.inputs.slice(1)]);
      ix.remove(copy);
      ix.remove(fill);
    }
  });
}

// ------------------------------------------------------------------ fuseConvPool

/** Is `p` a max-pool with 2×2 windows, stride 2 and no padding (Keras' default pooling)? */
function isMaxPool2x2(p: Node | undefined): p is NodeOf<"pool2d"> {
  if (p?.op !== "pool2d") return false;
  const a = p.attrs;
  return a.kind === "max" && a.ph === 2 && a.pw === 2 && a.sh === 2 && a.sw === 2 && a.padTop === 0 && a.padLeft === 0
    && a.oh === Math.floor(a.h / 2) && a.ow === Math.floor(a.w / 2);
}

export function fuseConvPool(mod: Module): void {
  eachProgram(mod, (n) => n.op === "conv2d", (ix, prog) => {
    for (const n of prog.nodes) {
      if (n.op !== "conv2d" || n.attrs.accumulate || n.attrs.pool || n.attrs.residual || !directConvApplies(n.attrs)) continue;
      const out = mod.t(n.outputs[0]!);
      const pool = ix.soleReader(out);
      if (!isMaxPool2x2(pool) || !privateTo(ix, out, pool)) continue;
      if (pool.attrs.h !== n.attrs.oh || pool.attrs.w !== n.attrs.ow || pool.attrs.c !== n.attrs.f) continue;
      n.attrs = { ...n.attrs, pool: { ph: 2, pw: 2, poh: pool.attrs.oh, pow: pool.attrs.ow } };
      ix.remove(pool);
      ix.setOutputs(n, [pool.outputs[0]!]);
    }
  });
}

// ------------------------------------------------------------------ fusePoolGradRelu

/** relu'(in0) · in1 as autodiff writes it: (in0 > 0 ? 1 : 0) · in1. */
const RELU_GRAD = X.mul(X.positive(X.in(0)), X.in(1));

/** Is any input of `p` overwritten between `p` and `consumer` (then `p` cannot move later)? */
function inputsWrittenBetween(ix: ProgramIndex, p: Node, consumer: Node): boolean {
  const from = ix.at(p), to = ix.at(consumer);
  return p.inputs.some((i) => ix.writtenBetween(ix.storageOf(i), from, to));
}

export function fusePoolGradRelu(mod: Module): void {
  eachProgram(mod, (n) => n.op === "pool2d_grad", (ix, prog) => {
    for (const n of prog.nodes) {
      if (n.op !== "pool2d_grad") continue;
      const a = n.attrs;
      if (a.kind !== "max" || a.ph !== a.sh || a.pw !== a.sw || a.reluGrad) continue;
      const out = mod.t(n.outputs[0]!);
      const e = ix.soleReader(out);
      if (!isEw(e) || !privateTo(ix, out, e) || e.inputs.length !== 2 || e.inputs[1] !== out.id) continue;
      if (ix.storageOf(e.inputs[0]!) !== ix.storageOf(n.inputs[0]!)) continue;
      if (!e.attrs.inputs.every(isFull) || e.attrs.exprs.length !== 1 || e.attrs.accumulate?.[0] || !sameExpr(e.attrs.exprs[0]!, RELU_GRAD)) continue;
      if (inputsWrittenBetween(ix, n, e)) continue;
      n.attrs = { ...a, reluGrad: true };
      ix.remove(e);
      ix.setOutputs(n, [e.outputs[0]!]);
    }
  });
}

// ------------------------------------------------------------------ fuseElementwise

/**
 * Folds elementwise producers into their consumers, always the first foldable producer in
 * program order next (a fold can make an earlier producer foldable: its output, read by both
 * the folded producer and the consumer, now has one reader). A min-heap of positions gives that
 * order without rescanning: a producer is looked at again only when a fold changed its consumer.
 */
export function fuseElementwise(mod: Module): void {
  eachProgram(mod, isEw, (ix, prog) => {
    const heap = new MinHeap<number>((a, b) => a < b);
    prog.nodes.forEach((n, i) => isEw(n) && heap.push(i));
    const producers = producerIndex(ix, prog);
    while (heap.size) {
      const p = prog.nodes[heap.pop()!]!;
      if (!isEw(p) || ix.isRemoved(p)) continue;
      const consumer = foldTarget(ix, p);
      if (!consumer) continue;
      fold(ix, p, consumer);
      // Producers of the consumer's inputs may have become foldable (fewer readers).
      for (const id of new Set(consumer.inputs.map((i) => ix.storageOf(i)))) {
        for (const q of producers.get(id) ?? []) if (!ix.isRemoved(q)) heap.push(ix.at(q));
      }
    }
  });
}

/** The elementwise writers of each storage (nodes never gain outputs while chains fold). */
function producerIndex(ix: ProgramIndex, prog: Program): Map<number, Node[]> {
  const m = new Map<number, Node[]>();
  for (const n of prog.nodes) if (isEw(n)) for (const o of n.outputs) {
    const s = ix.storageOf(o);
    const list = m.get(s) ?? [];
    if (!list.includes(n)) list.push(n);
    m.set(s, list);
  }
  return m;
}

/** The node `p` can fold into, if any. */
function foldTarget(ix: ProgramIndex, p: NodeOf<"ew">): NodeOf<"ew"> | NodeOf<"reduce"> | undefined {
  if (p.outputs.length !== 1 || p.attrs.accumulate?.[0]) return undefined;
  const t = ix.mod.t(p.outputs[0]!);
  const consumer = ix.soleReader(t);
  if (!consumer || !privateTo(ix, t, consumer)) return undefined;
  // The consumer's own output must not be one of the producer's inputs (in-place updates).
  if (consumer.outputs.some((o) => p.inputs.includes(o))) return undefined;
  if (inputsWrittenBetween(ix, p, consumer)) return undefined;
  const at = consumer.inputs.indexOf(t.id);
  if (consumer.inputs.lastIndexOf(t.id) !== at) return undefined;
  if (consumer.op === "ew") {
    return sameDomain(p, consumer.attrs.rows, consumer.attrs.cols) && isFull(consumer.attrs.inputs[at]!) ? consumer : undefined;
  }
  if (consumer.op === "reduce") {
    const a = consumer.attrs;
    return sameDomain(p, a.outer, a.mid * a.inner) && isFull(a.inputs[at]!) ? consumer : undefined;
  }
  return undefined;
}

function sameDomain(p: NodeOf<"ew">, rows: Dim, cols: number): boolean {
  return sameDim(p.attrs.rows, rows) && p.attrs.cols === cols;
}

function fold(ix: ProgramIndex, p: NodeOf<"ew">, consumer: NodeOf<"ew"> | NodeOf<"reduce">): void {
  const at = consumer.inputs.indexOf(p.outputs[0]!);
  const merged = mergeInputs(consumer, at, p);
  if (consumer.op === "ew") consumer.attrs = { ...consumer.attrs, inputs: merged.maps, exprs: consumer.attrs.exprs.map((e) => merged.rewrite(e)) };
  else consumer.attrs = { ...consumer.attrs, inputs: merged.maps, pre: merged.rewrite(consumer.attrs.pre) };
  ix.setInputs(consumer, merged.ids);
  ix.remove(p);
}

/** The consumer's inputs with input `at` replaced by the producer's inputs (deduplicated). */
function mergeInputs(consumer: NodeOf<"ew"> | NodeOf<"reduce">, at: number, producer: NodeOf<"ew">) {
  const ids: number[] = [];
  const maps: EwInput[] = [];
  const indexOf = (id: number, m: EwInput) => {
    for (let i = 0; i < ids.length; i++) if (ids[i] === id && sameInput(maps[i]!, m)) return i;
    ids.push(id);
    maps.push(m);
    return ids.length - 1;
  };
  const consumerMap = consumer.inputs.map((id, i) => (i === at ? -1 : indexOf(id, consumer.attrs.inputs[i]!)));
  const producerMap = producer.inputs.map((id, i) => indexOf(id, producer.attrs.inputs[i]!));
  const inner = remap(producer.attrs.exprs[0]!, (i) => producerMap[i]!);
  const rewrite = (e: EwExpr): EwExpr => {
    const PLACEHOLDER = 1_000_000;
    const renamed = remap(e, (i) => (i === at ? PLACEHOLDER : consumerMap[i]!));
    return substitute(renamed, PLACEHOLDER, inner);
  };
  return { ids, maps, rewrite };
}
