/**
 * Static memory plan: every tensor gets a byte offset at compile time; nothing is allocated while
 * running. Layout (each buffer 64-byte aligned, sized for maxBatch when batched):
 *   [BASE] trainable weights | frozen weights and moving statistics | gradients | optimizer slots
 *          | state, hyper-parameters, results | inputs, targets, outputs | decode caches | arena | scratch
 * Trainable weights, gradients and each slot kind are contiguous in the same order, so an
 * optimizer can sweep them. The arena is shared by the programs (they never run at once); within
 * a program, activation buffers are reused once their last reader has run (liveness), in every
 * program: a train step keeps only what its backward part reads (the NaN finder checks each layer
 * output right after the call that writes it). `reuse` false (threaded builds) gives every activation its own bytes.
 */
import { numel, type Module, type Tensor } from "../ir/ir.js";
import { FirstFitArena } from "./first-fit.js";
import { MinHeap } from "../util/heap.js";

export const BASE = 65536;
export const ALIGN = 64;

export interface Plan {
  offsets: Map<number, number>;
  /**
   * Debug builds: [offset, bytes] of the guard regions (one after each buffer): those between
   * persistent buffers, and per program those in its arena (programs share the arena, so one
   * program's guard may lie inside another's buffer).
   */
  guards: { persistent: [number, number][]; programs: Record<string, [number, number][]> };
  weightsBytes: number;
  arenaStart: number;
  arenaBytes: number;
  /** Arena bytes each program needs. */
  programArena: Record<string, number>;
  end: number;
  /**
   * Every buffer in the order the plan placed it (persistent regions, then each program's arena):
   * where it starts and ends. The memory check (memory.ts) walks it to name the buffer, and so the
   * layer, that takes the module past its memory limit.
   */
  placements: Placement[];
}

export interface Placement {
  tensor: number;
  start: number;
  end: number;
  /** The program whose arena holds it; undefined for the persistent regions. */
  program?: string;
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

export function bytesOf(t: Tensor, maxBatch: number): number {
  return numel(t.shape) * 4 * (t.batched ? maxBatch : 1);
}

const PERSISTENT_ORDER: Tensor["kind"][] = ["weight", "grad", "slot", "state", "hyper", "result", "input", "target", "output", "cache"];

/**
 * `guardBytes` > 0 (debug builds) leaves that many bytes after every buffer; the runtime fills
 * them with a pattern and checks them after every kernel, so a kernel that writes one element
 * too far is caught in the act instead of silently corrupting a neighbour.
 */
export function planMemory(mod: Module, maxBatch: number, trainableFirst: (t: Tensor) => number, guardBytes = 0, reuse = true): Plan {
  const offsets = new Map<number, number>();
  const guards: Plan["guards"] = { persistent: [], programs: {} };
  const placements: Placement[] = [];
  let cursor = BASE;
  const place = (t: Tensor) => {
    offsets.set(t.id, cursor);
    const start = cursor;
    cursor = align(cursor + Math.max(bytesOf(t, maxBatch), 4));
    placements.push({ tensor: t.id, start, end: cursor });
    if (guardBytes) {
      guards.persistent.push([cursor, guardBytes]);
      cursor = align(cursor + guardBytes);
    }
  };
  let weightsEnd = BASE;
  for (const kind of PERSISTENT_ORDER) {
    const group = mod.tensors.filter((t) => t.kind === kind && t.aliasOf === undefined);
    if (kind === "weight" || kind === "grad" || kind === "slot") group.sort((a, b) => trainableFirst(a) - trainableFirst(b));
    group.forEach(place);
    if (kind === "weight") weightsEnd = cursor;
  }
  const arenaStart = cursor;
  const programArena: Record<string, number> = {};
  let arenaBytes = 0;
  for (const prog of mod.programs) {
    const placed = (tensor: number, start: number, end: number) => placements.push({ tensor, start, end, program: prog.name });
    const used = planArena(mod, prog.nodes, maxBatch, arenaStart, offsets, guardBytes, (guards.programs[prog.name] = []), reuse, placed);
    programArena[prog.name] = used;
    arenaBytes = Math.max(arenaBytes, used);
  }
  return { offsets, guards, weightsBytes: weightsEnd - BASE, arenaStart, arenaBytes, programArena, end: arenaStart + arenaBytes, placements };
}

/**
 * Liveness-based first-fit allocation of one program's activations, in order of first use; a
 * buffer is freed once its last reader has run (never with `reuse` off or in debug builds, so a
 * guard never lies inside a later buffer). Returns the bytes used. O(n log n): a heap of live
 * buffers by last use, the free gaps in FirstFitArena.
 */
function planArena(mod: Module, nodes: Module["programs"][number]["nodes"], maxBatch: number, start: number, offsets: Map<number, number>, guardBytes: number, guards: [number, number][], reuse: boolean, placed: (tensor: number, start: number, end: number) => void): number {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  nodes.forEach((n, i) => {
    for (const id of [...n.inputs, ...n.outputs]) {
      const s = mod.storage(mod.t(id));
      if (s.kind !== "activation" && s.kind !== "scalar") continue;
      if (!first.has(s.id)) first.set(s.id, i);
      last.set(s.id, i);
    }
  });
  const order = [...first.keys()].sort((a, b) => first.get(a)! - first.get(b)! || a - b);
  const arena = new FirstFitArena();
  const live = new MinHeap<{ last: number; off: number; size: number }>((a, b) => a.last < b.last);
  for (const id of order) {
    const now = first.get(id)!;
    if (reuse && !guardBytes) while (live.size && live.peek()!.last < now) {
      const dead = live.pop()!;
      arena.free(dead.off, dead.size);
    }
    const bytes = align(Math.max(bytesOf(mod.t(id), maxBatch), 4));
    const size = bytes + (guardBytes ? align(guardBytes) : 0);
    const off = arena.allocate(size);
    live.push({ last: last.get(id)!, off, size });
    offsets.set(id, start + off);
    placed(id, start + off, start + off + bytes);
    if (guardBytes) guards.push([start + off + bytes, guardBytes]);
  }
  return arena.high;
}

/**
 * After the plan, 64 bytes of control words: the barrier's two i32 (arrivals, generation) at
 * `sync`, thread control at sync + 16 (threadControl), the progress cell at sync + 48 (the index
 * of the call a `<program>_range` is about to make: the runtime names a trap's kernel and layer);
 * then, in threaded builds, where each thread's share of the batch starts (i32[threads + 1], set
 * by the runtime before every call, so it can give a slower core fewer examples), then each
 * thread's progress cell (i32[threads], set by `<program>_t`: a trap is blamed on the layer of the
 * thread that trapped); then one kernel scratch region per thread.
 */
export interface ControlLayout {
  sync: number;
  threadControl: number;
  progress: number;
  splits: number;
  threadProgress: number;
  scratch: number;
}

export function layoutControl(plan: Pick<Plan, "end">, threads: number): ControlLayout {
  const sync = Math.ceil(plan.end / 64) * 64;
  const splits = sync + 64;
  const scratch = splits + (threads ? Math.ceil((4 * (2 * threads + 1)) / 64) * 64 : 0);
  return { sync, threadControl: sync + 16, progress: sync + 48, splits, threadProgress: splits + 4 * (threads + 1), scratch };
}
