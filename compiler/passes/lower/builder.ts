/**
 * Lowering helpers: build primitive IR nodes for one program while lowering layers. Layer
 * lowerings (lower/*.ts) only speak in these terms — matmul, ew, reduce, copy, ... — so the
 * primitive set stays small and every primitive has one gradient rule (prims.ts).
 */
import type { ActivationName, Graph, Layer } from "../../frontend/graph-types.js";
import { FULL, X, perCol, type EwExpr, type EwInput, type EwUnary } from "../../ir/expr.js";
import { compositeActivation, lowerLogSoftmax } from "./activations.js";
import type { MatmulAttrs } from "../../prims/matmul.js";
import { Module, numel, type Dim, type Program, type Tensor } from "../../ir/ir.js";
import type { DecodeProgram } from "./decode.js";

export type Mode = "train" | "infer";

export class Builder {
  /** Layer name → its output tensor (and graph inputs/targets by name). */
  readonly values = new Map<string, Tensor>();
  layer = "";

  constructor(
    readonly mod: Module,
    readonly prog: Program,
    readonly mode: Mode,
    readonly graph: Graph,
    readonly weights: Map<string, Tensor>,
    readonly state: { rng?: Tensor; dropoutStreams: number },
    /** Set while lowering the decode program: one position per example, against key/value caches (decode.ts). */
    readonly decode?: DecodeProgram,
  ) {}

  /** Does this layer use batch statistics (a training step, and not frozen — spec §2 Freezing)? */
  training(layer: Layer): boolean {
    return this.mode === "train" && layer.trainable;
  }

  weight(layer: Layer, name: string): Tensor {
    const t = this.weights.get(`${layer.name}/${name}`);
    if (!t) throw new Error(`internal: weight ${layer.name}/${name} was not declared`);
    return t;
  }

  act(shape: number[], batched = true): Tensor {
    return this.mod.tensor({ shape, batched, dtype: "f32", kind: "activation", layer: this.layer });
  }

  alias(of: Tensor, shape: number[]): Tensor {
    return this.mod.tensor({ shape, batched: of.batched, dtype: of.dtype, kind: "activation", layer: this.layer, aliasOf: of.id });
  }

  /** Rows of a batched tensor viewed as [rows, lastAxis]. */
  rows(t: Tensor): Dim {
    const perExample = numel(t.shape.slice(0, -1));
    return t.batched ? { batch: perExample } : perExample;
  }

  ew(expr: EwExpr, inputs: [Tensor, EwInput][], out: Tensor, cols = out.shape.at(-1) ?? 1): Tensor {
    const rows: Dim = out.batched ? { batch: numel(out.shape) / cols } : numel(out.shape) / cols;
    this.mod.node(this.prog, "ew", inputs.map((i) => i[0]), [out], { rows, cols, inputs: inputs.map((i) => i[1]), exprs: [expr] }, this.layer);
    return out;
  }

  matmul(a: Tensor, b: Tensor, out: Tensor, attrs: MatmulAttrs): Tensor {
    this.mod.node(this.prog, "matmul", [a, b], [out], attrs, this.layer);
    return out;
  }

  addBias(x: Tensor, bias: Tensor): Tensor {
    const cols = x.shape.at(-1)!;
    return this.ew(X.add(X.in(0), X.in(1)), [[x, FULL], [bias, perCol(cols)]], this.act(x.shape), cols);
  }

  activation(x: Tensor, act: ActivationName): Tensor {
    if (act === "linear") return x;
    if (act === "softmax") return this.softmax(x, x.shape.length - 1);
    if (act === "log_softmax") return lowerLogSoftmax(this, x);
    const expr = compositeActivation(act, X.in(0)) ?? X.un(act as EwUnary, X.in(0));
    return this.ew(expr, [[x, FULL]], this.act(x.shape));
  }

  softmax(x: Tensor, axis: number): Tensor {
    const outer = numel(x.shape.slice(0, axis));
    const attrs = { outer: x.batched ? { batch: outer } : outer, mid: x.shape[axis]!, inner: numel(x.shape.slice(axis + 1)) };
    const y = this.act(x.shape);
    this.mod.node(this.prog, "softmax", [x], [y], attrs, this.layer);
    return y;
  }

  /** 1/(batch·k) as a one-element tensor, computed at the start of the entry point. */
  recipBatch(k: number): Tensor {
    const t = this.mod.tensor({ shape: [1], batched: false, dtype: "f32", kind: "scalar", layer: this.layer });
    this.mod.node(this.prog, "recip_batch", [], [t], { k }, this.layer);
    return t;
  }

  /** An unbatched [n] tensor holding compile-time values, written at the start of the entry point. */
  constant(values: readonly number[]): Tensor {
    const t = this.act([values.length], false);
    this.mod.node(this.prog, "constant", [], [t], { values: [...values] }, this.layer);
    return t;
  }

  /** Strided copy; shape[0] may be a batch Dim. Offsets and strides in elements. */
  copy(src: Tensor, dst: Tensor, attrs: { shape: Dim[]; srcStrides: number[]; dstStrides: number[]; srcOffset?: number; dstOffset?: number; accumulate?: boolean }): void {
    this.mod.node(this.prog, "copy", [src], [dst], attrs, this.layer);
  }
}
