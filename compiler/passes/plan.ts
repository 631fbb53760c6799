/**
 * Static memory plan: every tensor gets a byte offset at compile time; nothing is allocated while
 * running. Layout (each buffer 64-byte aligned, sized for maxBatch when batched):
 *   [BASE] trainable weights | frozen weights and moving statistics | gradients | optimizer slots
 *          | state, hyper-parameters, results | inputs, targets, outputs | arena | scratch
 * Trainable weights, gradients and each slot kind are contiguous in the same order, so an
 * optimizer can sweep them. The arena is shared by the programs (they never run at once); within
 * a program, activation buffers are reused once their last reader has run (liveness); `keepAlive`
 * tensors (train_step's layer outputs, for the NaN finder) stay intact until the program ends.
 * `reuse` false (threaded builds) gives every activation its own bytes.
 */
import { numel, type Module, type Tensor } from "../ir/ir.js";

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
}

const align = (n: number) => Math.ceil(n / ALIGN) * ALIGN;

export function bytesOf(t: Tensor, maxBatch: number): number {
  return numel(t.shape) * 4 * (t.batched ? maxBatch : 1);
}

const PERSISTENT_ORDER: Tensor["kind"][] = ["weight", "grad", "slot", "state", "hyper", "result", "input", "target", "output"];

/**
 * `guardBytes` > 0 (debug builds) leaves that many bytes after every buffer; the runtime fills
 * them with a pattern and checks them after every kernel, so a kernel that writes one element
 * too far is caught in the act instead of silently corrupting a neighbour.
 */
export function planMemory(mod: Module, maxBatch: number, trainableFirst: (t: Tensor) => number, guardBytes = 0, keepAlive = new Map<string, Set<number>>(), reuse = true): Plan {
  const offsets = new Map<number, number>();
  const guards: Plan["guards"] = { persistent: [], programs: {} };
  let cursor = BASE;
  const place = (t: Tensor) => {
    offsets.set(t.id, cursor);
    cursor = align(cursor + Math.max(bytesOf(t, maxBatch), 4));
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
    const used = planArena(mod, prog.nodes, maxBatch, arenaStart, offsets, guardBytes, (guards.programs[prog.name] = []), keepAlive.get(prog.name), reuse);
    programArena[prog.name] = used;
    arenaBytes = Math.max(arenaBytes, used);
  }
  return { offsets, guards, weightsBytes: weightsEnd - BASE, arenaStart, arenaBytes, programArena, end: arenaStart + arenaBytes };
}

/** Liveness-based first-fit allocation of one program's activations; returns the bytes used. */
function planArena(mod: Module, nodes: Module["programs"][number]["nodes"], maxBatch: number, start: number, offsets: Map<number, number>, guardBytes: number, guards: [number, number][], keep: Set<number> | undefined, reuse: boolean): number {
  const first = new Map<number, number>();
  const last = new Map<number, number>();
  nodes.forEach((n, i) => {
    for (const id of [...n.inputs, ...n.outputs]) {
      const s = mod.storage(mod.t(id));
      if (s.kind !== "activation" && s.kind !== "scalar") continue;
      if (!first.has(s.id)) first.set(s.id, i);
      last.set(s.id, keep?.has(s.id) ? nodes.length : i);
    }
  });
  const order = [...first.keys()].sort((a, b) => first.get(a)! - first.get(b)! || a - b);
  const live: { off: number; size: number; id: number }[] = [];
  let high = 0;
  for (const id of order) {
    const now = first.get(id)!;
    // Debug builds never reuse arena memory, so a guard never lies inside a later buffer.
    if (reuse && !guardBytes) for (let k = live.length - 1; k >= 0; k--) if (last.get(live[k]!.id)! < now) live.splice(k, 1);
    const bytes = align(Math.max(bytesOf(mod.t(id), maxBatch), 4));
    const size = bytes + (guardBytes ? align(guardBytes) : 0);
    live.sort((a, b) => a.off - b.off);
    let off = 0;
    for (const blk of live) {
      if (blk.off - off >= size) break;
      off = Math.max(off, blk.off + blk.size);
    }
    live.push({ off, size, id });
    offsets.set(id, start + off);
    if (guardBytes) guards.push([start + off + bytes, guardBytes]);
    high = Math.max(high, off + size);
  }
  return high;
}

/**
 * After the plan, 64 bytes of control words: the barrier's two i32 (arrivals, generation) at
 * `sync`, thread control at sync + 16 (threadControl), the progress cell at sync + 48 (the index
 * of the call a `<program>_range` is about to make: the runtime names a trap's kernel and layer);
 * then, in threaded builds, where each thread's share of the batch starts (i32[threads + 1], set
 * by the runtime before every call, so it can give a slower core fewer examples); then one kernel
 * scratch region per thread.
 */
export interface ControlLayout {
  sync: number;
  threadControl: number;
  progress: number;
  splits: number;
  scratch: number;
}

export function layoutControl(plan: Plan, threads: number): ControlLayout {
  const sync = Math.ceil(plan.end / 64) * 64;
  const splits = sync + 64;
  const scratch = splits + (threads ? Math.ceil((4 * (threads + 1)) / 64) * 64 : 0);
  return { sync, threadControl: sync + 16, progress: sync + 48, splits, scratch };
}
