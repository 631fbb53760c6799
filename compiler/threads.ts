/**
 * Threaded build: how each kernel call of a program is shared by N workers over one shared
 * memory, so that results are bit-identical for any N (no sum changes its order):
 *  batch   per-example kernels (conv, pooling, elementwise, softmax, row-wise matmul, ...): each
 *          thread takes a contiguous share of the batch (pointers of batched tensors offset);
 *  parts   reductions over the batch with many outputs (weight and filter gradients, optimizer sweeps):
 *          split into P fixed column parts at compile time; part j runs on thread j mod N;
 *  serial  everything else (losses, batch statistics, bias gradients): thread 0, whole batch.
 * Each thread has its own kernel scratch region. A barrier follows a call unless the next call
 * provably cannot see another thread's unfinished work (see `barriersAfter`).
 */
import { leadingDims } from "./prims.js";
import { Module, type Dim, type Node } from "./ir.js";

export type Split = { kind: "batch" } | { kind: "serial" } | { kind: "parts"; parts: Node[] };

const BATCH_OPS = new Set(["matmul", "conv2d", "conv2d_grad_input", "pool2d", "pool2d_grad", "ew", "softmax", "softmax_grad", "copy", "gather", "fill", "reduce"]);

const isBatchDim = (d: Dim | undefined) => d !== undefined && typeof d !== "number";

export function splitOf(mod: Module, node: Node, parts: number): Split {
  const outsBatched = node.outputs.every((o) => mod.storage(mod.t(o)).batched);
  if (outsBatched && BATCH_OPS.has(node.op) && batchShaped(node)) return { kind: "batch" };
  if (parts > 1 && node.op === "matmul" && !outsBatched && !node.attrs.batch?.length) {
    const split = matmulParts(node, parts);
    if (split) return { kind: "parts", parts: split };
  }
  if (parts > 1 && node.op === "conv2d_grad_filter" && node.attrs.f >= 8 * parts) {
    // Filters are independent columns of dW = im2col(x)ᵀ·dy: each part takes a slice of them.
    return { kind: "parts", parts: chunks(node.attrs.f, parts, 8).map(([c0, cn]) => ({ ...node, attrs: { ...node.attrs, f: cn, ldf: node.attrs.f, fOffset: c0 } })) };
  }
  if (parts > 1 && node.op === "opt_update" && node.attrs.n >= 64 * parts) {
    return { kind: "parts", parts: chunks(node.attrs.n, parts, 4).map(([c0, cn]) => ({ ...node, attrs: { ...node.attrs, n: cn, offset: c0 } })) };
  }
  return { kind: "serial" };
}

/** Does the node's work scale with the batch along its outermost runtime dimension only? */
function batchShaped(node: Node): boolean {
  const a = node.attrs;
  switch (node.op) {
    case "matmul": return typeof a.k === "number" && (isBatchDim(a.m) || isBatchDim(a.batch?.[0]?.count));
    case "ew": return isBatchDim(a.rows);
    case "reduce": return a.axis === "mid" && isBatchDim(a.outer);
    case "softmax": case "softmax_grad": return isBatchDim(a.outer);
    case "copy": return isBatchDim(a.shape[0]);
    case "gather": return isBatchDim(a.rows);
    case "fill": return isBatchDim(a.n);
    default: return true; // conv2d, conv2d_grad_input, pool2d, pool2d_grad: per example
  }
}

/** [start, count] of `parts` near-equal chunks of n, chunk sizes multiples of `align` where possible. */
function chunks(n: number, parts: number, align: number): [number, number][] {
  const size = Math.max(align, Math.ceil(n / parts / align) * align);
  const out: [number, number][] = [];
  for (let c0 = 0; c0 < n; c0 += size) out.push([c0, Math.min(size, n - c0)]);
  return out;
}

/** Column parts of C = op(A)·op(B): each part is the same product over a slice of C's columns. */
function matmulParts(node: Node, parts: number): Node[] | undefined {
  const a = node.attrs;
  if (a.n < 8 * parts || a.bias) return undefined;
  const { lda, ldb, ldc } = leadingDims(a);
  return chunks(a.n, parts, 8).map(([c0, cn]) => ({
    ...node,
    attrs: {
      ...a, n: cn, lda, ldb, ldc,
      offB: (a.offB ?? 0) + (a.transB ? c0 * ldb : c0),
      offC: (a.offC ?? 0) + c0,
    },
  }));
}

/** The bytes one call reads or writes: a storage buffer (planned offset, bytes at maxBatch). */
export interface Access {
  storage: number;
  start: number;
  end: number;
  write: boolean;
}

/**
 * Whether each step needs a barrier after it. Only two cases go without one:
 *  - serial after serial: both run on thread 0, in program order;
 *  - batch after batch, when no buffer the new call touches overlaps a *different* buffer touched
 *    since the last barrier with a write on either side. A batch call on thread t touches exactly
 *    examples [lo_t, lo_t + nb_t) of every batched buffer, the same bytes in every batch call, and
 *    only reads unbatched ones; so within one buffer threads never meet. Two buffers that share
 *    arena bytes (liveness reuse) may lay those bytes out differently, so a thread that ran ahead
 *    could overwrite what a slower thread still reads: that needs the barrier.
 * The last step always has one (the caller joins there).
 */
export function barriersAfter(kinds: Split["kind"][], accesses: Access[][]): boolean[] {
  const barrier = kinds.map(() => true);
  let segment: Access[] = [];
  kinds.forEach((kind, i) => {
    if (i > 0 && kind === "serial" && kinds[i - 1] === "serial") barrier[i - 1] = false;
    if (i > 0 && kind === "batch" && kinds[i - 1] === "batch" && !accesses[i]!.some((a) => segment.some((b) => conflict(a, b)))) {
      barrier[i - 1] = false;
      segment.push(...accesses[i]!);
    } else segment = [...accesses[i]!];
  });
  return barrier;
}

const conflict = (a: Access, b: Access) => a.storage !== b.storage && (a.write || b.write) && a.start < b.end && b.start < a.end;
