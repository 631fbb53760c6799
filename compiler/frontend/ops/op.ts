/**
 * The op contract. Every op of spec §2 is defined once, in one OpDef: its attribute schema (from
 * which schemas/graph.schema.json is generated), how raw attributes are normalized, how the output
 * shape follows from the input shapes, which weights it owns, and how it lowers to primitives
 * (`lower`), so the registry in ops/index.ts stays the single place an op lives.
 */
import type { Attrs, DType, Initializer } from "../graph-types.js";
import type { Lowering } from "../../passes/lower/layers.js";

/** kiln.graph/v2 counts axes as Keras (0 is the batch axis); kiln.graph/v1 counted within one example. */
export type AxisCounting = "keras" | "example";

/** A JSON Schema fragment (draft 2020-12). `title` is the short phrase errors use for "expected …". */
export type JsonSchema = Record<string, unknown>;

/** What an op sees of the layer it is checking, and where it reports problems. */
export interface OpContext {
  /** The layer name. */
  readonly layer: string;
  /** JSON pointer of the layer, e.g. "/layers/3". */
  readonly path: string;
  /** Shapes (batch axis excluded) and names of the layer's inputs, in order. */
  readonly inputShapes: readonly (readonly number[])[];
  readonly inputNames: readonly string[];
  /** How the file counts axis attributes: "keras" (kiln.graph/v2, 0 = the batch axis) or "example" (v1). */
  readonly axisCounting: AxisCounting;
  /** Report a problem; `attr` names the offending attribute (the path gets "/attr"). */
  error(message: string, attr?: string, code?: string): void;
}

/** A weight an op owns, before the graph builder adds its full name and trainability. */
export interface WeightDecl {
  name: string;
  shape: number[];
  initializer: Initializer;
  /** false for weights that never train (batch_normalization moving statistics). */
  trainable?: boolean;
}

export interface OpDef {
  /** Its key in the registry (ops/index.ts), which the graph file's `op` names. */
  name: string;
  /** One sentence for the schema's description of this op. */
  description: string;
  minInputs: number;
  maxInputs: number;
  /** dtype every input must have (default float32). */
  inputDtype?: DType;
  /** Op-specific attributes (besides name, op, inputs, trainable) as JSON Schema with defaults. */
  attrs: Record<string, JsonSchema>;
  required?: readonly string[];
  /** Fill Keras defaults and normalize (pairs, axes, -1 in reshape); undefined after an error. */
  normalize(raw: Attrs, ctx: OpContext): Attrs | undefined;
  /** Output shape from input shapes; undefined after reporting an error through ctx. */
  shape(inputShapes: readonly (readonly number[])[], attrs: Attrs, ctx: OpContext): number[] | undefined;
  /** The layer's weights in Keras layout (spec §2 table). */
  weights(inputShapes: readonly (readonly number[])[], attrs: Attrs): WeightDecl[];
  /** How the checked layer becomes IR primitives (the lower pass calls it; Keras semantics). */
  lower: Lowering;
  /**
   * Non-trainable elements Keras counts for the layer but kiln keeps no weight for, so parameter
   * counts stay Keras's (Normalization's `count` from adapt(), which nothing computes with).
   */
  kerasOnlyParams?(attrs: Attrs): number;
}
