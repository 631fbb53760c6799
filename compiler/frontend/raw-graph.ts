/**
 * The shape of a graph file once it has passed schema validation: what the build stages may rely
 * on (types and ranges are checked; names, references and shapes are not yet).
 */
import type { DType, OpName } from "./graph-types.js";
import type { GraphFormat } from "./format.js";

export interface RawValue {
  name: string;
  shape: number[];
  dtype?: DType;
}

export interface RawLayer {
  name: string;
  op: OpName;
  inputs?: string[];
  trainable?: boolean;
  keras_name?: string;
  [attr: string]: unknown;
}

export interface RawTraining {
  loss: { type: string; output: string; target: string; from_logits?: boolean };
  optimizer: { type: string; [attr: string]: unknown };
  metrics?: string[];
}

export interface RawGraph {
  format: GraphFormat;
  name: string;
  seed?: number;
  inputs: RawValue[];
  targets?: RawValue[];
  layers: RawLayer[];
  outputs?: string[];
  training?: RawTraining;
}

/** Keys every layer has that are not op attributes. */
export const LAYER_KEYS: ReadonlySet<string> = new Set(["name", "op", "inputs", "trainable", "keras_name"]);
