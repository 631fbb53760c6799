/**
 * Batch normalization on its moving statistics folded into the convolution (conv2d,
 * depthwise_conv2d) or dense product before it: in the inference programs (predict, evaluate), and
 * in train_step where the layer is frozen (spec §2 "Freezing": a frozen batch normalization runs in
 * inference mode, as in Keras). A trainable one normalizes with the batch's statistics in a train
 * step, which are activations, not weights, so the match below never takes it. Nor does it take a
 * product whose output the backward part reads (its sole reader must be the normalization): in a
 * fine-tuning module's frozen backbone nothing is differentiated, so its train-step forward gets
 * the same kernels as predict. Spec: docs/graph-spec.md "Batch normalization folding".
 *
 *   y = (conv(x, W) + b − μ)·γ/√(σ² + ε) + β        (conv, depthwise or matmul, optional bias b, moving μ, σ²)
 *     = conv(x, W') + b'    with  s = γ·rsqrt(σ² + ε),  W' = W·s (per output channel),
 *                                 b' = (b − μ)·s + β    (μ·… alone without a bias)
 *
 * The product computes conv(x, W)·s + b' in its epilogue (attrs `scale` and `bias`: inputs
 * [x, W, b', s]), which is conv(x, W') + b' — W' is never stored. s and b' are one elementwise
 * node over the C channels just before the product, computed from the weights in memory at every
 * call: whatever changed them (loadModel, setWeights, loadWeights, a train step moving the
 * statistics), the next predict folds what is there now, and the runtime has nothing to call or
 * remember. So the normalization pass over the activation (a read and write of every element at
 * every batch size) becomes O(C) work per call, and the activation after it fuses into the same
 * epilogue (fuseEpilogues). (Storing W' per call instead cost a read and write of the whole kernel
 * at every predict: measured slower than no folding for dense layers and small images at batch 1.)
 *
 * Matched: a matmul/conv2d/depthwise_conv2d (plain: no accumulate, no offsets, batch levels or transposed B) whose
 * output's only reader is the normalization, or a bias add whose output's only reader it is; the
 * normalization over the last axis (the product's columns: filters, units) with the moving
 * statistics, as lowerBatchNorm writes it. Intermediate tensors must be plain activations (not a
 * graph output, not aliased), so nothing the runtime reads changes.
 */
import { X, isFull, type EwExpr, type EwInput } from "../ir/expr.js";
import { numel, type Module, type Node, type NodeOf, type Program, type Tensor } from "../ir/ir.js";

const isEw = (n: Node | undefined): n is NodeOf<"ew"> => n?.op === "ew";
const isPerCol = (m: EwInput, cols: number): boolean => m.div === 1 && m.mod === cols;

/** ε of `(in0 − in1)·rsqrt(in2 + ε)·in3 + in4` (lowering's `normalized`), or undefined for any other expression. */
export function normalizedEpsilon(e: EwExpr): number | undefined {
  const isIn = (x: EwExpr, i: number) => x.k === "in" && x.i === i;
  if (e.k !== "bin" || e.op !== "add" || !isIn(e.b, 4)) return undefined;
  const scaled = e.a;
  if (scaled.k !== "bin" || scaled.op !== "mul" || !isIn(scaled.b, 3)) return undefined;
  const m = scaled.a;
  if (m.k !== "bin" || m.op !== "mul") return undefined;
  const centered = m.a, r = m.b;
  if (centered.k !== "bin" || centered.op !== "sub" || !isIn(centered.a, 0) || !isIn(centered.b, 1)) return undefined;
  if (r.k !== "un" || r.op !== "rsqrt" || r.a.k !== "bin" || r.a.op !== "add" || !isIn(r.a.a, 2) || r.a.b.k !== "const") return undefined;
  return r.a.b.v;
}

/** Readers per tensor id in one program (how many input slots name it). */
function readCounts(prog: Program): Map<number, number> {
  const counts = new Map<number, number>();
  for (const n of prog.nodes) for (const i of n.inputs) counts.set(i, (counts.get(i) ?? 0) + 1);
  return counts;
}

interface Match {
  product: NodeOf<"matmul"> | NodeOf<"conv2d"> | NodeOf<"depthwise_conv2d">;
  biasAdd?: NodeOf<"ew">;
  norm: NodeOf<"ew">;
  eps: number;
  channels: number;
}

/** The product's output channels (the last axis of its kernel), when it is a plain one fold applies to. */
function productChannels(n: Node, mod: Module): number | undefined {
  if (n.op === "conv2d") return n.attrs.accumulate || n.attrs.bias || n.attrs.activation || n.attrs.pool ? undefined : n.attrs.f;
  if (n.op === "depthwise_conv2d") return n.attrs.accumulate || n.attrs.bias || n.attrs.activation ? undefined : n.attrs.c * n.attrs.m;
  if (n.op !== "matmul") return undefined;
  const a = n.attrs;
  if (a.accumulate || a.bias || a.activation || a.transA || a.transB || a.batch?.length || a.offA || a.offB || a.offC) return undefined;
  if ((a.alpha ?? 1) !== 1 || (a.ldb !== undefined && a.ldb !== a.n) || (a.ldc !== undefined && a.ldc !== a.n)) return undefined;
  const w = mod.t(n.inputs[1]!);
  return w.kind === "weight" && !w.batched && w.shape.at(-1) === a.n && numel(w.shape) === (a.k as number) * a.n ? a.n : undefined;
}

function findMatches(mod: Module, prog: Program): Match[] {
  const reads = readCounts(prog);
  const aliased = new Set(mod.tensors.filter((t) => t.aliasOf !== undefined).map((t) => mod.storage(t).id));
  const readerOf = new Map<number, Node>();
  for (const n of prog.nodes) for (const i of n.inputs) readerOf.set(i, n);
  /** The only reader of a plain activation `id`, reading it once. */
  const sole = (id: number): Node | undefined => {
    const t = mod.t(id);
    if (t.kind !== "activation" || t.aliasOf !== undefined || aliased.has(t.id) || reads.get(id) !== 1) return undefined;
    return readerOf.get(id);
  };
  const isWeight = (id: number) => mod.t(id).kind === "weight";
  const matches: Match[] = [];
  for (const n of prog.nodes) {
    if (n.op !== "matmul" && n.op !== "conv2d" && n.op !== "depthwise_conv2d") continue;
    const c = productChannels(n, mod);
    if (c === undefined || !isWeight(n.inputs[1]!)) continue;
    let out = n.outputs[0]!;
    let next = sole(out);
    let biasAdd: NodeOf<"ew"> | undefined;
    if (isEw(next) && isBiasAddOf(next, out, c) && isWeight(next.inputs[1]!)) {
      biasAdd = next;
      out = next.outputs[0]!;
      next = sole(out);
    }
    if (!isEw(next) || next.inputs[0] !== out || next.inputs.length !== 5 || next.attrs.cols !== c || next.attrs.exprs.length !== 1) continue;
    if (next.attrs.accumulate?.some(Boolean) || !isFull(next.attrs.inputs[0]!)) continue;
    if (!next.attrs.inputs.slice(1).every((m) => isPerCol(m, c)) || !next.inputs.slice(1).every(isWeight)) continue;
    const eps = normalizedEpsilon(next.attrs.exprs[0]!);
    if (eps !== undefined) matches.push({ product: n, biasAdd, norm: next, eps, channels: c });
  }
  return matches;
}

/** `out = in0 + in1` with in1 per column of a `cols`-wide domain. */
function isBiasAddOf(e: NodeOf<"ew">, out: number, cols: number): boolean {
  const x = e.attrs.exprs[0]!, m = e.attrs.inputs;
  return e.inputs.length === 2 && e.inputs[0] === out && e.attrs.exprs.length === 1 && !e.attrs.accumulate?.some(Boolean)
    && e.attrs.cols === cols && isFull(m[0]!) && isPerCol(m[1]!, cols)
    && x.k === "bin" && x.op === "add" && x.a.k === "in" && x.a.i === 0 && x.b.k === "in" && x.b.i === 1;
}

/** Rewrites one match: one fold node (s and b' over the C channels) just before the product, which then computes act(sum·s + b'). */
function foldOne(mod: Module, prog: Program, m: Match): void {
  const { product: n, norm, eps, channels: c } = m;
  const [, mean, variance, gamma, beta] = norm.inputs.map((i) => mod.t(i)) as Tensor[];
  const layer = norm.layer;
  const perChannel = () => mod.tensor({ shape: [c], batched: false, dtype: "f32", kind: "activation", layer });
  const scale = perChannel(), shift = perChannel();
  const bias = m.biasAdd ? mod.t(m.biasAdd.inputs[1]!) : undefined;
  // Inputs γ, σ², μ, β [, b]: s = γ·rsqrt(σ² + ε); b' = (b − μ)·s + β, or (−μ)·s + β without a bias.
  const s = X.mul(X.in(0), X.un("rsqrt", X.add(X.in(1), X.c(eps))));
  const centered = bias ? X.sub(X.in(4), X.in(2)) : X.un("neg", X.in(2));
  const inputs = [gamma!, variance!, mean!, beta!, ...(bias ? [bias] : [])];
  const head: Program = { name: prog.name, nodes: [] };
  mod.node(head, "ew", inputs, [scale, shift], { rows: 1, cols: c, inputs: inputs.map(() => ({ div: 1 })), exprs: [s, X.add(X.mul(centered, s), X.in(3))] }, layer);
  prog.nodes.splice(prog.nodes.indexOf(n), 0, ...head.nodes);
  n.inputs = [n.inputs[0]!, n.inputs[1]!, shift.id, scale.id];
  n.outputs = [norm.outputs[0]!];
  n.attrs = { ...n.attrs, bias: true, scale: true };
  for (const gone of [m.biasAdd, norm]) if (gone) prog.nodes.splice(prog.nodes.indexOf(gone), 1);
}

/** Folds every matched normalization (moving statistics only: inference programs, frozen layers in train_step). */
export function foldBatchNorm(mod: Module): void {
  for (const prog of mod.programs) for (const m of findMatches(mod, prog)) foldOne(mod, prog, m);
}
