/**
 * Threaded build: how each kernel call of a program is shared by N workers over one shared
 * memory, so that results are bit-identical for any N (no sum changes its order):
 *  batch   per-example kernels (conv, pooling, elementwise, softmax, row-wise matmul, ...): each
 *          thread takes a contiguous share of the batch (pointers of batched tensors offset);
 *          A filter gradient's partials over fixed chunks of examples (fuse.ts:
 *          chunkFilterGradients) split the same way, the shares aligned to the chunk;
 *  parts   reductions over the batch with many outputs (weight gradients, sums of filter-gradient
 *          partials, optimizer sweeps): split into P fixed column parts at compile time; part j
 *          runs on thread j mod N;
 *  serial  everything else (losses, batch statistics, bias gradients): thread 0, whole batch.
 * Each thread has its own kernel scratch region. A barrier follows a call unless the next call
 * provably cannot see another thread's unfinished work (see `barriersAfter`).
 */
import { leadingDims } from "../prims/grad-rules.js";
import { Module, type Dim, type Node, type Program } from "../ir/ir.js";

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
  // A filter gradient's partials, one per fixed chunk of examples: a thread's share of the batch
  // starts on a chunk boundary (the runtime aligns the split to `chunk`), so each thread writes
  // the partials of its own examples only.
  if (node.op === "conv2d_grad_filter" && node.attrs.chunk) return { kind: "batch" };
  if (parts > 1 && node.op === "chunk_sum" && node.attrs.n >= 64 * parts) {
    return { kind: "parts", parts: columnParts(node.attrs.n, parts, 4).map(([c0, cn]) => ({ ...node, attrs: { ...node.attrs, cols: cn, offset: c0 } })) };
  }
  if (parts > 1 && node.op === "opt_update" && node.attrs.n >= 64 * parts) {
    return { kind: "parts", parts: columnParts(node.attrs.n, parts, 4).map(([c0, cn]) => ({ ...node, attrs: { ...node.attrs, n: cn, offset: c0 } })) };
  }
  return { kind: "serial" };
}

/**
 * What every thread's share of the batch must start on a multiple of, in a program: the chunk of
 * its filter gradients' partials (1 where it has none, so inference splits by single examples).
 */
export function splitAlignment(prog: Program): number {
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  return prog.nodes.reduce((align, n) => {
    const chunk: number = n.op === "conv2d_grad_filter" ? n.attrs.chunk ?? 1 : 1;
    return (align / gcd(align, chunk)) * chunk;
  }, 1);
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
function columnParts(n: number, parts: number, align: number): [number, number][] {
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
  return columnParts(a.n, parts, 8).map(([c0, cn]) => ({
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

/** Inputs a kernel updates in place besides its outputs (opt_step counts the iterations in its state). */
const WRITES_INPUTS: Partial<Record<string, number[]>> = { opt_step: [0] };

/** What a node's call touches: its inputs (read, or written where the kernel updates them in place) and outputs. */
export function accessesOf(node: Node, access: (tensor: number, write: boolean) => Access): Access[] {
  const inPlace = WRITES_INPUTS[node.op] ?? [];
  return [...node.inputs.map((id, i) => access(id, inPlace.includes(i))), ...node.outputs.map((id) => access(id, true))];
}

/**
 * Whether each step needs a barrier after it: only where a thread could otherwise touch bytes
 * another thread may still be reading or writing. Since the last barrier, every thread has run
 * its share of each step of the segment, at its own pace; a new step may join the segment
 * unless one of its accesses meets an earlier one of the segment — same bytes, a write on either
 * side — that another thread may have made. Who makes an access:
 *  serial  thread 0 only: serial steps never meet each other;
 *  batch   thread t touches exactly examples [lo_t, lo_t + nb_t) of every batched buffer, the
 *          same bytes in every batch call, and only reads unbatched ones — but for a filter
 *          gradient's partials, where it writes the chunks of those examples, which only that
 *          step writes: two batch steps meet only through *different* buffers sharing bytes
 *          (each lays them out its own way);
 *  parts   part j runs on thread j mod N, N known only at run time: any thread.
 * The last step always has one (the caller joins there).
 */
export function barriersAfter(kinds: Split["kind"][], accesses: Access[][]): boolean[] {
  const barrier = kinds.map(() => true);
  let segment: Touch[] = [];
  kinds.forEach((kind, i) => {
    const mine = accesses[i]!.map((access) => ({ kind, access }));
    const meets = mine.some((a) => segment.some((b) => conflict(a, b)));
    if (i > 0 && !meets) barrier[i - 1] = false;
    segment = i > 0 && !meets ? [...segment, ...mine] : mine;
  });
  return barrier;
}

type Touch = { kind: Split["kind"]; access: Access };

function conflict(a: Touch, b: Touch): boolean {
  const x = a.access, y = b.access;
  if (!(x.write || y.write) || x.start >= y.end || y.start >= x.end) return false;
  if (a.kind === "serial" && b.kind === "serial") return false;
  if (a.kind === "batch" && b.kind === "batch" && x.storage === y.storage) return false;
  return true;
}

/**
 * For the runtime's balancer: how many barriers a threaded program passes, and the ordinals of
 * those that end a segment of batch-split calls only (the work the batch split can even out).
 */
export function segmentsOf(steps: { kind: Split["kind"]; barrier: boolean }[]): { barriers: number; batch: number[] } {
  const batch: number[] = [];
  let k = 0, onlyBatch = true;
  for (const step of steps) {
    onlyBatch &&= step.kind === "batch";
    if (!step.barrier) continue;
    if (onlyBatch) batch.push(k);
    k++;
    onlyBatch = true;
  }
  return { barriers: k, batch };
}
