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
 *  replicated  small calls whose kernel stores each output once and that alone write their
 *          outputs (sums over the examples: batch statistics, bias gradients; 1/batch): every
 *          thread runs the whole call, storing the same bits, so the batch-split call after it
 *          reads what its own thread wrote and need not wait for thread 0;
 *  serial  everything else (losses, moving statistics, accumulated gradients): thread 0, whole batch.
 * Each thread has its own kernel scratch region. A barrier follows a call unless the next call
 * provably cannot see another thread's unfinished work (see `barriersAfter`).
 */
import { numel, type Module, type Node, type Program, type Tensor } from "../ir/ir.js";
import { primOf } from "../prims/index.js";
import type { ThreadStep } from "../assemble/module.js";
import { selectKernel, type SelectContext } from "./select.js";
import { bytesOf } from "./plan.js";

export type Split = { kind: "batch" } | { kind: "serial" } | { kind: "replicated" } | { kind: "parts"; parts: Node[] };

/**
 * The most elements (inputs and outputs at the largest batch) a replicated call may touch: every
 * thread does its whole work, which costs nothing where the others would wait for thread 0 at a
 * barrier anyway, but where they would have gone on it delays them; a sum over 64 examples of 64
 * channels touches 4,160.
 */
export const REPLICATE_MAX_ELEMENTS = 1 << 16;

/**
 * How one call is shared: its primitive's thread rule (compiler/prims/) decides. `ownWriter`:
 * whether no other call of the program writes the node's outputs (needed to replicate it: a
 * thread still replicating must not overwrite what another call wrote there since).
 */
export function splitOf(mod: Module, node: Node, parts: number, maxBatch = 1, ownWriter = false): Split {
  const rule = primOf(node.op).threads;
  const outsBatched = node.outputs.every((o) => mod.storage(mod.t(o)).batched);
  if (rule.batch?.(node, outsBatched)) return { kind: "batch" };
  const split = parts > 1 ? rule.parts?.(node, parts, outsBatched) : undefined;
  if (split) return { kind: "parts", parts: split as Node[] };
  return ownWriter && replicable(mod, node, maxBatch) ? { kind: "replicated" } : { kind: "serial" };
}

/** The primitive allows it, the call reads none of its outputs, and its work is small. */
function replicable(mod: Module, node: Node, maxBatch: number): boolean {
  const def = primOf(node.op);
  if (!def.threads.replicate?.(node as never, maxBatch) || def.writesInputs?.length) return false;
  const storage = (id: number) => mod.storage(mod.t(id));
  const outs = new Set(node.outputs.map((o) => storage(o).id));
  if (node.inputs.some((i) => outs.has(storage(i).id))) return false;
  const elements = [...node.inputs, ...node.outputs].reduce((sum, id) => {
    const s = storage(id);
    return sum + numel(s.shape) * (s.batched ? maxBatch : 1);
  }, 0);
  return elements <= REPLICATE_MAX_ELEMENTS;
}

/** Storage ids written by exactly one call of the program (outputs, and inputs updated in place). */
function soleWrites(mod: Module, prog: Program): Set<number> {
  const writers = new Map<number, number>();
  for (const n of prog.nodes) {
    const inPlace = primOf(n.op).writesInputs ?? [];
    const written = [...n.outputs, ...n.inputs.filter((_, i) => inPlace.includes(i))].map((id) => mod.storage(mod.t(id)).id);
    for (const s of new Set(written)) writers.set(s, (writers.get(s) ?? 0) + 1);
  }
  return new Set([...writers].filter(([, k]) => k === 1).map(([s]) => s));
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
 *  parts   part j runs on thread j mod N, N known only at run time: any thread;
 *  replicated  every thread writes the same bytes: a later read of them on any thread follows
 *          that thread's own write, so only a later write (or an earlier access) meets them.
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
  // `a` comes after `b`: reading what a replicated step wrote needs no wait.
  if (b.kind === "replicated" && y.write && !x.write) return false;
  if (a.kind === "batch" && b.kind === "batch" && x.storage === y.storage) return false;
  return true;
}

/**
 * For the runtime's balancer: how many barriers a threaded program passes, and the ordinals of
 * those that end a segment of batch-split calls only (the work the batch split can even out;
 * replicated calls, the same small work on every thread, do not count against it).
 */
export function segmentsOf(steps: { kind: Split["kind"]; barrier: boolean }[]): { barriers: number; batch: number[] } {
  const batch: number[] = [];
  let k = 0, onlyBatch = true;
  for (const step of steps) {
    onlyBatch &&= step.kind === "batch" || step.kind === "replicated";
    if (!step.barrier) continue;
    if (onlyBatch) batch.push(k);
    k++;
    onlyBatch = true;
  }
  return { barriers: k, batch };
}

/** The steps of a program's threaded entry point: each call with its share of the work, and where barriers go. */
export function threadSteps(mod: Module, prog: Program, parts: number, ctx: Omit<SelectContext, "scratch">, maxBatch: number): ThreadStep[] {
  const sole = soleWrites(mod, prog);
  const splits = prog.nodes.map((n) => splitOf(mod, n, parts, maxBatch, n.outputs.every((o) => sole.has(mod.storage(mod.t(o)).id))));
  const access = (id: number, write: boolean): Access => {
    const s = mod.storage(mod.t(id)), start = ctx.addr(s);
    return { storage: s.id, start, end: start + Math.max(bytesOf(s, maxBatch), 4), write };
  };
  const barrier = barriersAfter(splits.map((s) => s.kind), prog.nodes.map((n) => accessesOf(n, access)));
  return prog.nodes.map((n, i) => {
    const split = splits[i]!, after = barrier[i]!;
    if (split.kind === "batch") return { kind: "batch", barrier: after, calls: [selectKernel(n, { ...ctx, scratch: "scr_", batch: "nb_", batchOffset: "lo_" })] };
    if (split.kind === "serial" || split.kind === "replicated") return { kind: split.kind, barrier: after, calls: [selectKernel(n, { ...ctx, scratch: "scr_" })] };
    return { kind: "parts", barrier: after, calls: split.parts.map((p) => selectKernel(p, { ...ctx, scratch: "scr_" })) };
  });
}
