/**
 * The kernel-level IR: one program per entry point (predict, train_step, evaluate), a flat list
 * of primitive nodes over tensors. Every primitive maps to one kernel emitter (emit/*.ts); the
 * passes lower → autodiff → fuse → plan → emit all read and write this one shape.
 *
 * Tensors are whole buffers. A batched tensor has a leading runtime batch axis (at most
 * maxBatch); its `shape` is the per-example shape. Sizes that depend on the batch are `Dim`s:
 * a constant, or `{ batch: k }` meaning batch·k, passed to kernels as i32 parameters.
 */
import type { PrimAttrs } from "../prims/index.js";

export type { PrimAttrs };

export type Dim = number | { batch: number };

export type TensorKind =
  | "input" | "target" | "output" | "weight" | "grad" | "slot" | "activation"
  | "result" | "state" | "hyper" | "scalar"
  /** Persists between calls of the decode program: attention key/value caches (lower/decode.ts). */
  | "cache";

export type IRDType = "f32" | "i32";

export interface Tensor {
  id: number;
  /** Per-example shape when batched, full shape otherwise. */
  shape: number[];
  batched: boolean;
  dtype: IRDType;
  kind: TensorKind;
  /** The user-visible name (input, output layer, weight full name). Data only: never emitted as code. */
  name?: string;
  /** The layer this tensor belongs to, for error messages and the printer. */
  layer?: string;
  /** For reshape/flatten: this tensor shares the buffer of another (same element count). */
  aliasOf?: number;
}

/**
 * The primitives and their attributes: one entry per primitive, each defined with its gradient
 * rule, kernel selection and thread split in compiler/prims/ (PRIMS holds them all).
 */
export type PrimOp = keyof PrimAttrs;

/** A node of primitive K: its attributes are typed by the primitive. */
export interface NodeOf<K extends PrimOp> {
  id: number;
  op: K;
  inputs: number[];
  outputs: number[];
  attrs: PrimAttrs[K];
  /** The layer (or "loss", "optimizer") the node was lowered from: named in errors and `--emit ir`. */
  layer: string;
}

/** Any node; checking `op` narrows `attrs`. */
export type Node = { [K in PrimOp]: NodeOf<K> }[PrimOp];

export interface Program {
  name: "predict" | "train_step" | "evaluate" | "decode";
  nodes: Node[];
}

/** All tensors of a module (shared across its programs) and the programs over them. */
export class Module {
  readonly tensors: Tensor[] = [];
  readonly programs: Program[] = [];
  private nextNode = 0;

  tensor(t: Omit<Tensor, "id">): Tensor {
    const full: Tensor = { id: this.tensors.length, ...t };
    this.tensors.push(full);
    return full;
  }

  node<K extends PrimOp>(program: Program, op: K, inputs: Tensor[], outputs: Tensor[], attrs: PrimAttrs[K], layer: string): NodeOf<K> {
    const n: NodeOf<K> = { id: this.nextNode++, op, inputs: inputs.map((t) => t.id), outputs: outputs.map((t) => t.id), attrs, layer };
    program.nodes.push(n as Node);
    return n;
  }

  t(id: number): Tensor {
    return this.tensors[id]!;
  }

  /** The tensor whose buffer `t` uses (follows aliases). */
  storage(t: Tensor): Tensor {
    let s = t;
    while (s.aliasOf !== undefined) s = this.tensors[s.aliasOf]!;
    return s;
  }
}

export function numel(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Elements per example (batched) or in total (unbatched). */
export function elems(t: Tensor): number {
  return numel(t.shape);
}

export function sameDim(a: Dim, b: Dim): boolean {
  return typeof a === "number" ? a === b : typeof b !== "number" && a.batch === b.batch;
}

export function dimStr(d: Dim): string {
  return typeof d === "number" ? String(d) : d.batch === 1 ? "B" : `B*${d.batch}`;
}

