/**
 * Scheduling passes: sums over a whole batch are split in two, so that their bulk runs per
 * example (threaded builds split it across threads with the backward pass around it) and the
 * order of every sum depends on the shapes only — the same bits in every build.
 *  splitBatchSums        a reduce over all rows of a batch (bias gradients, batch statistics):
 *                        per example, then over the examples;
 *  chunkFilterGradients  a filter gradient: one partial per fixed chunk of examples, then their
 *                        sum in chunk order (`chunk_sum`).
 * In both, the first half moves right after its inputs are written; the second half stays
 * where the sum was.
 */
import { X } from "../ir/expr.js";
import { numel, type Module, type Node, type Program } from "../ir/ir.js";
import { primOf } from "../prims/index.js";

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
