/**
 * Fusion pass (IR → IR, per program): no intermediate tensor is written that a fused kernel can
 * keep in registers.
 *  1. matmul/conv2d + bias add + activation → one kernel with the epilogue fused;
 *  2. elementwise chains → one loop (the producer's expression is substituted into its consumer);
 *  3. an elementwise producer feeding a reduction → the reduction's `pre` expression.
 *  4. conv2d (small c, direct kernel) → 2×2/2 valid max-pool: the conv computes each window and
 *     stores only its max (attrs.pool), when the pool is the conv output's only reader — so only
 *     where nothing else (e.g. a pool gradient in train_step) needs the unpooled output.
 * A producer is folded only into its single consumer, and only through plain activations.
 *  5. max-pool gradient (tiling windows) → the relu derivative that follows it (x > 0 ? 1 : 0)·dx,
 *     when the pool input is that x (a relu'd conv output): one pass over dx instead of two.
 * First, ew/reduce inputs that no expression reads are dropped (they would block 1. and 2.), and
 * identity copies (the gradient of a single-use value passed along) disappear: readers read the source.
 * Last, sums over every row of a batch (bias gradients, batch statistics) are split in two: per
 * example, then over the examples (`splitBatchSums`).
 * After fusion, with the batch bound known, filter gradients are split the same way over fixed
 * chunks of examples (`chunkFilterGradients`).
 */
import { X, isFull, remap, sameExpr, sameInput, substitute, type EwExpr, type EwInput } from "../ir/expr.js";
import { numel, sameDim, type Dim, type Module, type Node, type Program, type Tensor } from "../ir/ir.js";
import { directConvApplies } from "../select/rules.js";

const EPILOGUE_ACTIVATIONS = new Set(["relu", "sigmoid", "tanh", "gelu", "leaky_relu", "elu", "silu", "softplus"]);

export function fuse(mod: Module, keep: ReadonlySet<number> = new Set()): void {
  for (const prog of mod.programs) {
    pruneUnusedInputs(prog);
    dropIdentityCopies(mod, prog, keep);
    fuseEpilogues(mod, prog);
    fuseConvPool(mod, prog);
    fusePoolGradRelu(mod, prog);
    let changed = true;
    while (changed) changed = fuseElementwise(mod, prog);
    splitBatchSums(mod, prog);
  }
}

const isIdentity = (n: Node) => n.op === "ew" && n.inputs.length === 1 && n.outputs.length === 1 && n.attrs.exprs.length === 1
  && n.attrs.exprs[0].k === "in" && n.attrs.exprs[0].i === 0 && isFull(n.attrs.inputs[0]) && !n.attrs.accumulate?.[0];

/**
 * Removes `out = ew(in)` copies: later readers of `out` read `in` instead. Autodiff passes a
 * single contribution to a gradient along as such a copy (seed CNN: 5 per train step, ~1.3% of
 * it). Only where nothing can tell: `out` is a plain activation no other program reads, nothing
 * aliases, and no later node overwrites `in`; `keep` (tensors the runtime reads) stay.
 */
function dropIdentityCopies(mod: Module, prog: Program, keep: ReadonlySet<number>): void {
  const otherPrograms = new Set(mod.programs.filter((p) => p !== prog).flatMap((p) => p.nodes.flatMap((n) => [...n.inputs, ...n.outputs])));
  const { aliased } = uses(mod, prog);
  for (const n of prog.nodes.slice()) {
    if (!isIdentity(n)) continue;
    const out = mod.t(n.outputs[0]!), src = mod.t(n.inputs[0]!);
    if (out.kind !== "activation" || out.aliasOf !== undefined || aliased.has(out.id) || keep.has(out.id) || otherPrograms.has(out.id)) continue;
    if (src.dtype !== out.dtype || src.batched !== out.batched) continue;
    const at = prog.nodes.indexOf(n), srcStorage = mod.storage(src).id;
    const later = prog.nodes.slice(at + 1);
    if (later.some((m) => m.outputs.some((o) => mod.storage(mod.t(o)).id === srcStorage || o === out.id))) continue;
    for (const m of later) m.inputs = m.inputs.map((i) => (i === out.id ? src.id : i));
    prog.nodes.splice(at, 1);
  }
}

/**
 * A sum over all rows of a batched [B·k, q] domain (k ≥ 2: a conv's bias gradient, conv batch
 * statistics) becomes a sum over each example's k rows into [B, q], then a sum of those over B.
 * The first half splits by examples across threads (it is most of the work: conv1's bias
 * gradient reads 5.5 MB at batch 64); the summation order depends on the shapes only, the same
 * in every build.
 */
function splitBatchSums(mod: Module, prog: Program): void {
  for (const n of prog.nodes.slice()) {
    const a = n.attrs;
    if (n.op !== "reduce" || a.axis !== "outer" || a.op !== "sum" || typeof a.outer === "number" || a.outer.batch < 2) continue;
    const q = a.mid * a.inner;
    const perExample = mod.tensor({ shape: [q], batched: true, dtype: "f32", kind: "activation", layer: n.layer });
    const first: Node = { ...n, id: n.id, inputs: n.inputs, outputs: [perExample.id], attrs: { outer: { batch: 1 }, mid: a.outer.batch, inner: q, axis: "mid", op: "sum", inputs: a.inputs, pre: a.pre, accumulate: false } };
    const scratch = { name: prog.name, nodes: [] as Node[] };
    const second = mod.node(scratch, "reduce", [perExample], n.outputs.map((o) => mod.t(o)), { outer: { batch: 1 }, mid: 1, inner: q, axis: "outer", op: "sum", inputs: [{ div: 1 }], pre: X.in(0), scale: a.scale, accumulate: a.accumulate }, n.layer);
    // The per-example half goes right after its inputs are written, among the batch-split calls
    // of the backward pass; the small sum over examples stays where the reduction was.
    moveAfterInputs(mod, prog, n, second, first);
  }
}

/**
 * Examples per chunk of a filter gradient. Fixed, not derived from maxBatch or the thread count,
 * so that the sums' order — and the bits — depend on the graph and the batch only.
 */
export const FILTER_GRAD_CHUNK = 4;

/**
 * A filter gradient dW = Σ over the batch becomes one partial gradient per fixed chunk of
 * FILTER_GRAD_CHUNK examples ([⌈maxBatch / chunk⌉, |W|]), then their sum in chunk order
 * (`chunk_sum`). The partials split by examples across threads like the backward pass around
 * them, so the runtime's balancer covers them, and each thread transforms only its own examples'
 * inputs (column slices of one gradient each transformed the whole batch). The chunk half goes
 * right after its inputs are written; the sum stays where the gradient was.
 */
export function chunkFilterGradients(mod: Module, maxBatch: number): void {
  const chunk = FILTER_GRAD_CHUNK, chunks = Math.ceil(maxBatch / chunk);
  for (const prog of mod.programs) {
    for (const n of prog.nodes.slice()) {
      if (n.op !== "conv2d_grad_filter" || n.attrs.chunk) continue;
      const q = numel(mod.t(n.outputs[0]!).shape);
      const partials = mod.tensor({ shape: [chunks, q], batched: false, dtype: "f32", kind: "activation", layer: n.layer });
      const first: Node = { ...n, outputs: [partials.id], attrs: { ...n.attrs, accumulate: false, chunk } };
      const scratch = { name: prog.name, nodes: [] as Node[] };
      const sum = mod.node(scratch, "chunk_sum", [partials], n.outputs.map((o) => mod.t(o)), { n: q, chunk, accumulate: !!n.attrs.accumulate }, n.layer);
      moveAfterInputs(mod, prog, n, sum, first);
    }
  }
}

/** Replaces `n` by `later` in place and puts `early` right after the last writer of `n`'s inputs. */
function moveAfterInputs(mod: Module, prog: Program, n: Node, later: Node, early: Node): void {
  const reads = new Set(n.inputs.map((i) => mod.storage(mod.t(i)).id));
  const at = prog.nodes.indexOf(n);
  let after = -1;
  for (let k = 0; k < at; k++) if (prog.nodes[k]!.outputs.some((o) => reads.has(mod.storage(mod.t(o)).id))) after = k;
  prog.nodes.splice(at, 1, later);
  prog.nodes.splice(after + 1, 0, early);
}

interface Uses {
  readers: Map<number, Node[]>;
  aliased: Set<number>;
}

function uses(mod: Module, prog: Program): Uses {
  const readers = new Map<number, Node[]>();
  for (const n of prog.nodes) {
    for (const i of n.inputs) {
      const s = mod.storage(mod.t(i)).id;
      readers.set(s, [...(readers.get(s) ?? []), n]);
    }
  }
  const aliased = new Set<number>();
  for (const t of mod.tensors) if (t.aliasOf !== undefined) aliased.add(mod.storage(t).id);
  return { readers, aliased };
}

/** A tensor whose only reader is `consumer`, so it need never be written. */
function privateTo(mod: Module, u: Uses, t: Tensor, consumer: Node): boolean {
  if (t.kind !== "activation" || t.aliasOf !== undefined || u.aliased.has(t.id)) return false;
  const r = u.readers.get(t.id) ?? [];
  return r.length === 1 && r[0] === consumer;
}

function fuseEpilogues(mod: Module, prog: Program): void {
  for (const n of prog.nodes.slice()) {
    if ((n.op !== "matmul" && n.op !== "conv2d") || n.attrs.accumulate || n.attrs.offC || n.attrs.batch?.length) continue;
    if (n.op === "matmul" && n.attrs.ldc !== undefined && n.attrs.ldc !== n.attrs.n) continue;
    const cols = n.op === "matmul" ? n.attrs.n : n.attrs.f;
    let u = uses(mod, prog);
    let out = mod.t(n.outputs[0]!);
    let next = (u.readers.get(out.id) ?? [])[0];
    const e = next?.op === "ew" ? (next.attrs.exprs[0] as EwExpr) : undefined;
    if (next && e && privateTo(mod, u, out, next) && next.inputs.length === 2 && next.inputs[0] === out.id && isFull(next.attrs.inputs[0])
      && next.attrs.inputs[1].div === 1 && next.attrs.inputs[1].mod === cols && next.attrs.exprs.length === 1 && !next.attrs.accumulate?.[0]
      && e.k === "bin" && e.op === "add" && e.a.k === "in" && e.a.i === 0 && e.b.k === "in" && e.b.i === 1) {
      // The bias becomes the node's third input, so liveness and printing see it.
      n.attrs = { ...n.attrs, bias: true };
      n.inputs = [...n.inputs, next.inputs[1]!];
      n.outputs = [next.outputs[0]!];
      prog.nodes.splice(prog.nodes.indexOf(next), 1);
      u = uses(mod, prog);
      out = mod.t(n.outputs[0]!);
      next = (u.readers.get(out.id) ?? [])[0];
    }
    const act = next?.op === "ew" ? (next.attrs.exprs[0] as EwExpr) : undefined;
    if (next && act && privateTo(mod, u, out, next) && next.inputs.length === 1 && isFull(next.attrs.inputs[0]) && !next.attrs.accumulate?.[0]
      && act.k === "un" && act.a.k === "in" && EPILOGUE_ACTIVATIONS.has(act.op)) {
      n.attrs = { ...n.attrs, activation: act.op };
      n.outputs = [next.outputs[0]!];
      prog.nodes.splice(prog.nodes.indexOf(next), 1);
    }
  }
}

/**
 * Drops ew/reduce inputs their expressions never read. Gradient rules list the forward node's
 * inputs even when the derivative ignores them (d(x + b)/db · dy reads only dy): such a dead read
 * of a conv/matmul output kept its bias + activation from being fused in train_step.
 */
function pruneUnusedInputs(prog: Program): void {
  for (const n of prog.nodes) {
    if (n.op !== "ew" && n.op !== "reduce") continue;
    const exprs: EwExpr[] = n.op === "ew" ? n.attrs.exprs : [n.attrs.pre];
    const used = new Set<number>();
    for (const e of exprs) remap(e, (i) => (used.add(i), i));
    if (used.size === 0 || used.size === n.inputs.length) continue;
    const keep = n.inputs.map((_, i) => i).filter((i) => used.has(i));
    const to = new Map(keep.map((old, i) => [old, i]));
    const rewrite = (e: EwExpr) => remap(e, (i) => to.get(i)!);
    const inputs = keep.map((i) => n.attrs.inputs[i]);
    n.attrs = n.op === "ew" ? { ...n.attrs, inputs, exprs: exprs.map(rewrite) } : { ...n.attrs, inputs, pre: rewrite(exprs[0]!) };
    n.inputs = keep.map((i) => n.inputs[i]!);
  }
}

/** Is `p` a max-pool with 2×2 windows, stride 2 and no padding (Keras' default pooling)? */
function isMaxPool2x2(p: Node): boolean {
  const a = p.attrs;
  return p.op === "pool2d" && a.kind === "max" && a.ph === 2 && a.pw === 2 && a.sh === 2 && a.sw === 2 && a.padTop === 0 && a.padLeft === 0
    && a.oh === Math.floor(a.h / 2) && a.ow === Math.floor(a.w / 2);
}

function fuseConvPool(mod: Module, prog: Program): void {
  for (const n of prog.nodes.slice()) {
    if (n.op !== "conv2d" || n.attrs.accumulate || n.attrs.pool || !directConvApplies(n.attrs)) continue;
    const u = uses(mod, prog);
    const out = mod.t(n.outputs[0]!);
    const pool = (u.readers.get(out.id) ?? [])[0];
    if (!pool || !isMaxPool2x2(pool) || !privateTo(mod, u, out, pool)) continue;
    if (pool.attrs.h !== n.attrs.oh || pool.attrs.w !== n.attrs.ow || pool.attrs.c !== n.attrs.f) continue;
    n.attrs = { ...n.attrs, pool: { ph: 2, pw: 2, poh: pool.attrs.oh, pow: pool.attrs.ow } };
    n.outputs = [pool.outputs[0]!];
    prog.nodes.splice(prog.nodes.indexOf(pool), 1);
  }
}

/** relu'(in0) · in1 as autodiff writes it: (in0 > 0 ? 1 : 0) · in1. */
const RELU_GRAD = X.mul(X.positive(X.in(0)), X.in(1));

function fusePoolGradRelu(mod: Module, prog: Program): void {
  for (const n of prog.nodes.slice()) {
    const a = n.attrs;
    if (n.op !== "pool2d_grad" || a.kind !== "max" || a.ph !== a.sh || a.pw !== a.sw || a.reluGrad) continue;
    const u = uses(mod, prog);
    const out = mod.t(n.outputs[0]!);
    const e = (u.readers.get(out.id) ?? [])[0];
    if (!e || e.op !== "ew" || !privateTo(mod, u, out, e) || e.inputs.length !== 2 || e.inputs[1] !== out.id) continue;
    if (mod.storage(mod.t(e.inputs[0]!)).id !== mod.storage(mod.t(n.inputs[0]!)).id) continue;
    if (!e.attrs.inputs.every(isFull) || e.attrs.exprs.length !== 1 || e.attrs.accumulate?.[0] || !sameExpr(e.attrs.exprs[0], RELU_GRAD)) continue;
    if (writtenBetween(mod, prog, n, e)) continue;
    n.attrs = { ...a, reluGrad: true };
    n.outputs = [e.outputs[0]!];
    prog.nodes.splice(prog.nodes.indexOf(e), 1);
  }
}

function sameDomain(a: Node, rows: Dim, cols: number): boolean {
  return sameDim(a.attrs.rows, rows) && a.attrs.cols === cols;
}

/** Folds one elementwise producer into its consumer; returns whether anything changed. */
function fuseElementwise(mod: Module, prog: Program): boolean {
  const u = uses(mod, prog);
  for (const p of prog.nodes) {
    if (p.op !== "ew" || p.outputs.length !== 1 || p.attrs.accumulate?.[0]) continue;
    const t = mod.t(p.outputs[0]!);
    const consumer = (u.readers.get(t.id) ?? [])[0];
    if (!consumer || !privateTo(mod, u, t, consumer)) continue;
    // The consumer's own output must not be one of the producer's inputs (in-place updates).
    if (consumer.outputs.some((o) => p.inputs.includes(o))) continue;
    if (writtenBetween(mod, prog, p, consumer)) continue;
    const ix = consumer.inputs.indexOf(t.id);
    if (consumer.inputs.lastIndexOf(t.id) !== ix) continue;
    if (consumer.op === "ew") {
      if (!sameDomain(p, consumer.attrs.rows, consumer.attrs.cols) || !isFull(consumer.attrs.inputs[ix])) continue;
      const merged = mergeInputs(consumer, ix, p);
      consumer.attrs = { ...consumer.attrs, inputs: merged.maps, exprs: consumer.attrs.exprs.map((e: EwExpr) => merged.rewrite(e)) };
      consumer.inputs = merged.ids;
    } else if (consumer.op === "reduce") {
      const a = consumer.attrs;
      if (!(sameDim(p.attrs.rows, a.outer) && p.attrs.cols === a.mid * a.inner) || !isFull(a.inputs[ix])) continue;
      const merged = mergeInputs(consumer, ix, p);
      consumer.attrs = { ...a, inputs: merged.maps, pre: merged.rewrite(a.pre) };
      consumer.inputs = merged.ids;
    } else continue;
    prog.nodes.splice(prog.nodes.indexOf(p), 1);
    return true;
  }
  return false;
}

/** Is any input of `p` overwritten between `p` and `consumer` (then `p` cannot move later)? */
function writtenBetween(mod: Module, prog: Program, p: Node, consumer: Node): boolean {
  const reads = new Set(p.inputs.map((i) => mod.storage(mod.t(i)).id));
  const from = prog.nodes.indexOf(p), to = prog.nodes.indexOf(consumer);
  for (let k = from + 1; k < to; k++) {
    if (prog.nodes[k]!.outputs.some((o) => reads.has(mod.storage(mod.t(o)).id))) return true;
  }
  return false;
}

/** The consumer's inputs with input `ix` replaced by the producer's inputs (deduplicated). */
function mergeInputs(consumer: Node, ix: number, producer: Node) {
  const ids: number[] = [];
  const maps: EwInput[] = [];
  const indexOf = (id: number, m: EwInput) => {
    for (let i = 0; i < ids.length; i++) if (ids[i] === id && sameInput(maps[i]!, m)) return i;
    ids.push(id);
    maps.push(m);
    return ids.length - 1;
  };
  const consumerMap = consumer.inputs.map((id, i) => (i === ix ? -1 : indexOf(id, consumer.attrs.inputs[i])));
  const producerMap = producer.inputs.map((id, i) => indexOf(id, producer.attrs.inputs[i]));
  const inner = remap(producer.attrs.exprs[0] as EwExpr, (i) => producerMap[i]!);
  const rewrite = (e: EwExpr): EwExpr => {
    const PLACEHOLDER = 1_000_000;
    const renamed = remap(e, (i) => (i === ix ? PLACEHOLDER : consumerMap[i]!));
    return substitute(renamed, PLACEHOLDER, inner);
  };
  return { ids, maps, rewrite };
}
