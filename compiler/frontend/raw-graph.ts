/**
 * The shape of a graph file once it has passed schema validation: what the build stages may rely
 * on (types and ranges are checked; names, references and shapes are not yet).
 */
import type { RawMetric } from "./metrics.js";
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

export interface RawLoss { type: string; output?: string; target: string; from_logits?: boolean }

export interface RawTraining {
  /** One loss, a list (one per output, in order) or a map by output name. */
  loss: RawLoss | RawLoss[] | Record<string, RawLoss>;
  /** A number (one loss), a list or a map by output name, as Keras `loss_weights`. */
  loss_weights?: number | number[] | Record<string, number>;
  optimizer: { type: string; [attr: string]: unknown };
  /** A list of entries (one output), a list of lists (one per output) or a map by output name. */
  metrics?: RawMetric[] | RawMetric[][] | Record<string, RawMetric[]>;
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
