/**
 * Scheduling passes: sums over a whole batch are split in two, so that their bulk runs per
 * example (threaded builds split it across threads with the backward pass around it) and the
 * order of every sum depends on the shapes only — the same bits in every build.
 *  splitBatchSums        a reduce over all rows of a batch (bias gradients, batch statistics):
 *                        per example, then over the examples;
 *  chunkFilterGradients  a filter gradient: one partial per fixed chunk of examples, then their
 *                        sum in chunk order (`chunk_sum`);
 *  mergeAccumulatedSums  a zero fill and the sums over the examples that accumulate into it (a
 *                        gradient with several contributions): one reduction storing the total.
 * In both, the first half moves right after its inputs are written; the second half stays
 * where the sum was.
 */
import { X } from "../ir/expr.js";
import { numel, type Module, type Node, type Program } from "../ir/ir.js";
import { primOf } from "../prims/index.js";
import { storesOnce } from "../emit/reduce.js";

/**
 * Examples per chunk of a filter gradient. Fixed, not derived from maxBatch or the thread count,
 * so that the sums' order — and the bits — depend on the graph and the batch only.
 */
export const FILTER_GRAD_CHUNK = 4;

/** One sum split in two: `early` runs right after `node`'s inputs are written, `late` replaces `node`. */
interface Split { node: Node; early: Node; late: Node }

/**
 * A sum over all rows of a batched [B·k, q] domain (k ≥ 2: a conv's bias gradient, conv batch
 * statistics) becomes a sum over each example's k rows into [B, q], then a sum of those over B.
 * The first half splits by examples across threads (it is most of the work: conv1's bias
 * gradient reads 5.5 MB at batch 64).
 */
export function splitBatchSums(mod: Module): void {
  for (const prog of mod.programs) {
    const splits: Split[] = [];
    for (const n of prog.nodes) {
      if (n.op !== "reduce") continue;
      const a = n.attrs;
      if (a.axis !== "outer" || a.op !== "sum" || typeof a.outer === "number" || a.outer.batch < 2) continue;
      const q = a.mid * a.inner;
      const perExample = mod.tensor({ shape: [q], batched: true, dtype: "f32", kind: "activation", layer: n.layer });
      const early: Node = { ...n, outputs: [perExample.id], attrs: { outer: { batch: 1 }, mid: a.outer.batch, inner: q, axis: "mid", op: "sum", inputs: a.inputs, pre: a.pre, accumulate: false } };
      const late = mod.node(detached(prog), "reduce", [perExample], n.outputs.map((o) => mod.t(o)), { outer: { batch: 1 }, mid: 1, inner: q, axis: "outer", op: "sum", inputs: [{ div: 1 }], pre: X.in(0), scale: a.scale, accumulate: a.accumulate }, n.layer);
      splits.push({ node: n, early, late });
    }
    reschedule(mod, prog, splits);
  }
}

/**
 * A filter gradient dW = Σ over the batch becomes one partial gradient per fixed chunk of
 * FILTER_GRAD_CHUNK examples ([⌈maxBatch / chunk⌉, |W|]), then their sum in chunk order
 * (`chunk_sum`). The partials split by examples across threads like the backward pass around
 * them, so the runtime's balancer covers them, and each thread transforms only its own examples'
 * inputs (column slices of one gradient each transformed the whole batch).
 */
export function chunkFilterGradients(mod: Module, maxBatch: number): void {
  const chunk = FILTER_GRAD_CHUNK, chunks = Math.ceil(maxBatch / chunk);
  for (const prog of mod.programs) {
    const splits: Split[] = [];
    for (const n of prog.nodes) {
      if (!primOf(n.op).chunkedOverBatch || (n.attrs as { chunk?: number }).chunk) continue;
      const q = numel(mod.t(n.outputs[0]!).shape);
      const partials = mod.tensor({ shape: [chunks, q], batched: false, dtype: "f32", kind: "activation", layer: n.layer });
      const early = { ...n, outputs: [partials.id], attrs: { ...n.attrs, accumulate: false, chunk } } as Node;
      const late = mod.node(detached(prog), "chunk_sum", [partials], n.outputs.map((o) => mod.t(o)), { n: q, chunk, accumulate: !!(n.attrs as { accumulate?: boolean }).accumulate }, n.layer);
      splits.push({ node: n, early, late });
    }
    reschedule(mod, prog, splits);
  }
}

/**
 * `fill(T, 0)` and then the sums over the examples accumulating into T (the late halves of
 * splitBatchSums: a batch-norm input gradient's mean terms have two) become one reduction with a
 * term per sum, where the last one was: ((0 + ΣA) + ΣB) + …, the same bits, stored once. Thread 0
 * alone could run the chain (another thread's fill would wipe what it had added), with a wait
 * before the batch-split readers; the merged call is replicated (threads.ts), with no wait after.
 * Only where nothing else touches T between, the rows fit one chunk at maxBatch (emit/reduce.ts:
 * storesOnce; more chunks would add in another order) and the sums read plain per-example rows.
 */
export function mergeAccumulatedSums(mod: Module, maxBatch: number): void {
  const sid = (id: number) => mod.storage(mod.t(id)).id;
  for (const prog of mod.programs) {
    const drop = new Set<Node>(), replace = new Map<Node, Node>();
    prog.nodes.forEach((fill, i) => {
      if (fill.op !== "fill" || fill.attrs.value !== 0 || drop.has(fill)) return;
      const target = sid(fill.outputs[0]!), t = mod.t(fill.outputs[0]!);
      if (t.batched || fill.attrs.n !== numel(t.shape)) return;
      const sums: Node[] = [];
      for (const n of prog.nodes.slice(i + 1)) {
        const reads = n.inputs.some((id) => sid(id) === target), writes = n.outputs.some((id) => sid(id) === target);
        if (!reads && !writes) continue;
        if (!writes || !isPlainSum(n, t.shape, maxBatch)) break;
        sums.push(n);
      }
      if (sums.length < 2) return;
      // Each sum's input must still hold what it held at that sum when the last one runs.
      const last = prog.nodes.indexOf(sums.at(-1)!);
      const writes = (m: Node) => [...m.outputs, ...m.inputs.filter((_, k) => primOf(m.op).writesInputs?.includes(k))].map(sid);
      const rewritten = sums.some((n) => prog.nodes.slice(prog.nodes.indexOf(n) + 1, last).some((m) => writes(m).includes(sid(n.inputs[0]!))));
      if (rewritten) return;
      const a = sums[0]!.attrs as Extract<Node, { op: "reduce" }>["attrs"];
      const merged: Node = { ...sums.at(-1)!, inputs: sums.map((n) => n.inputs[0]!), attrs: { ...a, inputs: sums.map(() => ({ div: 1 })), pre: X.in(0), terms: sums.slice(1).map((_, k) => X.in(k + 1)), accumulate: false } } as Node;
      drop.add(fill);
      sums.slice(0, -1).forEach((n) => drop.add(n));
      replace.set(sums.at(-1)!, merged);
    });
    prog.nodes = prog.nodes.filter((n) => !drop.has(n)).map((n) => replace.get(n) ?? n);
  }
}

/** A late half of splitBatchSums accumulating: Σ over the examples of one plain per-example input, one row chunk. */
function isPlainSum(n: Node, shape: number[], maxBatch: number): boolean {
  if (n.op !== "reduce" || n.inputs.length !== 1 || n.outputs.length !== 1) return false;
  const a = n.attrs;
  if (a.axis !== "outer" || a.op !== "sum" || !a.accumulate || (a.scale ?? 1) !== 1 || a.terms?.length) return false;
  if (typeof a.outer === "number" || a.outer.batch !== 1 || a.mid !== 1 || a.inner !== numel(shape) || a.inner < 4) return false;
  const input = a.inputs[0]!;
  if (input.div !== 1 || input.mod !== undefined || a.pre.k !== "in" || a.pre.i !== 0) return false;
  return storesOnce({ ...a, outer: maxBatch, accumulate: false });
}

/** A program to create nodes in without adding them to `prog` (they are placed by `reschedule`). */
function detached(prog: Program): Program {
  return { name: prog.name, nodes: [] };
}

/**
 * Replaces each split node by its late half and puts its early half right after the last node
 * before it that writes one of its inputs (first of all when none does). Early halves that land
 * after the same node go in reverse order of their nodes: the order of inserting them one by one
 * in program order, which the golden snapshots pin down. One pass over the program.
 */
function reschedule(mod: Module, prog: Program, splits: Split[]): void {
  if (!splits.length) return;
  const byNode = new Map(splits.map((s) => [s.node, s]));
  const lastWriter = new Map<number, number>();
  const after = new Map<number, Node[]>(); // position (−1: before everything) → early halves, in program order
  prog.nodes.forEach((n, i) => {
    const split = byNode.get(n);
    if (split) {
      const at = Math.max(-1, ...n.inputs.map((id) => lastWriter.get(mod.storage(mod.t(id)).id) ?? -1));
      const list = after.get(at) ?? [];
      list.push(split.early);
      after.set(at, list);
    }
    for (const o of n.outputs) lastWriter.set(mod.storage(mod.t(o)).id, i);
  });
  const nodes: Node[] = [...(after.get(-1) ?? [])].reverse();
  prog.nodes.forEach((n, i) => {
    nodes.push(byNode.get(n)?.late ?? n);
    nodes.push(...(after.get(i) ?? []).reverse());
  });
  prog.nodes = nodes;
}
