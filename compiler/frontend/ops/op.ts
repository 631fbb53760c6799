/**
 * The op contract. Every op of spec §2 is defined once, in one OpDef: its attribute schema (from
 * which schemas/graph.schema.json is generated), how raw attributes are normalized, how the output
 * shape follows from the input shapes, and which weights it owns. Later stages (lowering) add
 * their own fields next to these, so the registry in ops/index.ts stays the single place an op lives.
 */
import type { Attrs, DType, Initializer, OpName } from "../graph-types.js";

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
  name: OpName;
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
}
