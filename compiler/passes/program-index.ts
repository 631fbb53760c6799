/**
 * Who reads and who writes each buffer of a program, and where each node stands, kept current
 * while a rewrite changes the program — so a rewrite costs O(log n) per node it looks at instead
 * of a scan of the program (issue 22: fusion used to rebuild its reader map for every candidate,
 * and grew faster than n² with the node count).
 *
 * Positions are those of the program when the index was built; removed nodes keep theirs until
 * `commit()` drops them from the program, so a rewrite never shifts an array under its own feet.
 */
import type { Module, Node, Program, Tensor } from "../ir/ir.js";

export class ProgramIndex {
  private readonly position = new Map<Node, number>();
  /** storage id → reader → how many of its inputs name that storage */
  private readonly readers = new Map<number, Map<Node, number>>();
  /** storage id → positions of the nodes that write it, ascending */
  private readonly writers = new Map<number, number[]>();
  private readonly removed = new Set<Node>();
  /** Storage ids some alias views (never fused away: the view's readers are not counted here). */
  readonly aliased = new Set<number>();

  constructor(readonly mod: Module, readonly prog: Program) {
    prog.nodes.forEach((n, i) => {
      this.position.set(n, i);
      this.addReads(n);
      for (const s of this.storages(n.outputs)) this.writerList(s).push(i);
    });
    for (const t of mod.tensors) if (t.aliasOf !== undefined) this.aliased.add(mod.storage(t).id);
  }

  storageOf(id: number): number {
    return this.mod.storage(this.mod.t(id)).id;
  }

  at(n: Node): number {
    const p = this.position.get(n);
    if (p === undefined) throw new Error(`internal: node ${n.id} is not in program ${this.prog.name}`);
    return p;
  }

  /** The only node that reads `t`'s buffer, reading it once; undefined when none or several do. */
  soleReader(t: Tensor): Node | undefined {
    const r = this.readers.get(this.mod.storage(t).id);
    if (!r || r.size !== 1) return undefined;
    const [[node, times]] = r;
    return times === 1 ? node : undefined;
  }

  /** Readers of a storage whose position is after `pos`. */
  readersAfter(storage: number, pos: number): Node[] {
    return [...(this.readers.get(storage)?.keys() ?? [])].filter((n) => this.at(n) > pos);
  }

  /** Is `storage` written by a live node at a position in (from, to)? */
  writtenBetween(storage: number, from: number, to: number): boolean {
    const list = this.writers.get(storage);
    if (!list) return false;
    for (let k = firstAbove(list, from); k < list.length && list[k]! < to; k++) {
      if (!this.removed.has(this.prog.nodes[list[k]!]!)) return true;
    }
    return false;
  }

  /** Is `storage` written after `pos` by a live node other than `except`? */
  writtenAfter(storage: number, pos: number, except?: Node): boolean {
    const list = this.writers.get(storage);
    if (!list) return false;
    for (let k = firstAbove(list, pos); k < list.length; k++) {
      const n = this.prog.nodes[list[k]!]!;
      if (n !== except && !this.removed.has(n)) return true;
    }
    return false;
  }

  setInputs(n: Node, inputs: number[]): void {
    this.removeReads(n);
    n.inputs = inputs;
    this.addReads(n);
  }

  setOutputs(n: Node, outputs: number[]): void {
    const at = this.at(n);
    for (const s of this.storages(n.outputs)) removeSorted(this.writerList(s), at);
    n.outputs = outputs;
    for (const s of this.storages(n.outputs)) insertSorted(this.writerList(s), at);
  }

  remove(n: Node): void {
    this.removeReads(n);
    this.removed.add(n);
  }

  isRemoved(n: Node): boolean {
    return this.removed.has(n);
  }

  /** Drops the removed nodes from the program. The index must not be used afterwards. */
  commit(): void {
    if (this.removed.size) this.prog.nodes = this.prog.nodes.filter((n) => !this.removed.has(n));
  }

  private storages(ids: number[]): Set<number> {
    return new Set(ids.map((id) => this.storageOf(id)));
  }

  private writerList(storage: number): number[] {
    let list = this.writers.get(storage);
    if (!list) this.writers.set(storage, (list = []));
    return list;
  }

  private addReads(n: Node): void {
    for (const id of n.inputs) {
      const s = this.storageOf(id);
      let r = this.readers.get(s);
      if (!r) this.readers.set(s, (r = new Map()));
      r.set(n, (r.get(n) ?? 0) + 1);
    }
  }

  private removeReads(n: Node): void {
    for (const id of n.inputs) {
      const r = this.readers.get(this.storageOf(id))!;
      const times = r.get(n)! - 1;
      if (times) r.set(n, times);
      else r.delete(n);
    }
  }
}

/** Index of the first element > x in an ascending list. */
function firstAbove(list: number[], x: number): number {
  let lo = 0, hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (list[mid]! > x) hi = mid;
    else lo = mid + 1;
  }
  return lo;
}

function insertSorted(list: number[], x: number): void {
  const k = firstAbove(list, x);
  if (list[k - 1] !== x) list.splice(k, 0, x);
}

function removeSorted(list: number[], x: number): void {
  const k = firstAbove(list, x) - 1;
  if (list[k] === x) list.splice(k, 1);
}
