/**
 * Threaded build: how each kernel call of a program is shared by N workers over one shared
 * memory, so that results are bit-identical for any N (no sum changes its order):
 *  batch   per-example kernels (conv, pooling, elementwise, softmax, row-wise matmul, ...): each
 *          thread takes a contiguous share of the batch (pointers of batched tensors offset);
 *          A filter gradient's partials over fixed chunks of examples (schedule.ts:
 *          chunkFilterGradients) split the same way, the shares aligned to the chunk;
 *  parts   reductions over the batch with many outputs (weight gradients, sums of filter-gradient
 *          partials, optimizer sweeps): split into P fixed column parts at compile time; part j
 *          runs on thread j mod N;
 *  serial  everything else (losses, batch statistics, bias gradients): thread 0, whole batch.
 * Each thread has its own kernel scratch region. A barrier follows a call unless the next call
 * provably cannot see another thread's unfinished work (see `barriersAfter`).
 */
import type { Module, Node, Program, Tensor } from "../ir/ir.js";
import { primOf } from "../prims/index.js";
import type { ThreadStep } from "../assemble/module.js";
import { selectKernel, type SelectContext } from "./select.js";
import { bytesOf } from "./plan.js";

export type Split = { kind: "batch" } | { kind: "serial" } | { kind: "parts"; parts: Node[] };

/** How one call is shared: its primitive's thread rule (compiler/prims/) decides. */
export function splitOf(mod: Module, node: Node, parts: number): Split {
  const rule = primOf(node.op).threads;
  const outsBatched = node.outputs.every((o) => mod.storage(mod.t(o)).batched);
  if (rule.batch?.(node, outsBatched)) return { kind: "batch" };
  const split = parts > 1 ? rule.parts?.(node, parts, outsBatched) : undefined;
  return split ? { kind: "parts", parts: split as Node[] } : { kind: "serial" };
}

/**
 * What every thread's share of the batch must start on a multiple of, in a program: the chunk of
 * its filter gradients' partials (1 where it has none, so inference splits by single examples).
 */
export function splitAlignment(prog: Program): number {
  const gcd = (a: number, b: number): number => (b ? gcd(b, a % b) : a);
  return prog.nodes.reduce((align, n) => {
    const chunk: number = primOf(n.op).chunkedOverBatch ? (n.attrs as { chunk?: number }).chunk ?? 1 : 1;
    return (align / gcd(align, chunk)) * chunk;
  }, 1);
}

/** The bytes one call reads or writes: a storage buffer (planned offset, bytes at maxBatch). */
export interface Access {
  storage: number;
  start: number;
  end: number;
  write: boolean;
}

/** What a node's call touches: its inputs (read, or written where the kernel updates them in place) and outputs. */
export function accessesOf(node: Node, access: (tensor: number, write: boolean) => Access): Access[] {
  const inPlace = primOf(node.op).writesInputs ?? [];
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

/** The steps of a program's threaded entry point: each call with its share of the work, and where barriers go. */
export function threadSteps(mod: Module, prog: Program, parts: number, ctx: Omit<SelectContext, "scratch">, maxBatch: number): ThreadStep[] {
  const splits = prog.nodes.map((n) => splitOf(mod, n, parts));
  const access = (id: number, write: boolean): Access => {
    const s = mod.storage(mod.t(id)), start = ctx.addr(s);
    return { storage: s.id, start, end: start + Math.max(bytesOf(s, maxBatch), 4), write };
  };
  const barrier = barriersAfter(splits.map((s) => s.kind), prog.nodes.map((n) => accessesOf(n, access)));
  return prog.nodes.map((n, i) => {
    const split = splits[i]!, after = barrier[i]!;
    if (split.kind === "batch") return { kind: "batch", barrier: after, calls: [selectKernel(n, { ...ctx, scratch: "scr_", batch: "nb_", batchOffset: "lo_" })] };
    if (split.kind === "serial") return { kind: "serial", barrier: after, calls: [selectKernel(n, { ...ctx, scratch: "scr_" })] };
    return { kind: "parts", barrier: after, calls: split.parts.map((p) => selectKernel(p, { ...ctx, scratch: "scr_" })) };
  });
}
