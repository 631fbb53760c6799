/**
 * The checked graph: what the front end (parse → validate → build → infer shapes) hands to the
 * compiler. Every attribute has its Keras default filled in and is normalized (see NOTES below),
 * layers are in topological order, every tensor shape is known. Shapes leave out the batch axis.
 */
import type { Diagnostic } from "./diagnostics.js";
import type { GraphFormat } from "./format.js";
import type { OptimizerType } from "../optimizers/index.js";
import type { Schedule } from "../optimizers/schedules.js";

export type DType = "float32" | "int32";

export type ActivationName =
  | "linear" | "relu" | "sigmoid" | "tanh" | "softmax" | "gelu" | "leaky_relu" | "elu" | "silu" | "softplus"
  | "relu6" | "hard_sigmoid" | "hard_sigmoid_legacy" | "hard_silu" | "mish" | "selu" | "exponential" | "log_softmax";

/** Every op name: the keys of the op registry (frontend/ops/index.ts). */
export type { OpName } from "./ops/index.js";
import type { OpName } from "./ops/index.js";

export type InitializerName =
  | "zeros" | "ones" | "glorot_uniform" | "glorot_normal" | "he_uniform" | "he_normal" | "lecun_normal"
  | "random_normal" | "random_uniform" | "uniform" | "orthogonal";

export interface Initializer {
  name: InitializerName;
  /** Fans as Keras computes them for this weight (conv: kh·kw·C and kh·kw·filters). */
  fanIn: number;
  fanOut: number;
  /** LSTM `unit_forget_bias`: elements [start, end) of the flat weight start at exactly 1. */
  onesRange?: [number, number];
}

export interface WeightSpec {
  /** Short name within the layer: "kernel", "bias", "query/kernel", "moving_mean". */
  name: string;
  /** Full name "<layer>/<name>" (spec §5). */
  fullName: string;
  shape: number[];
  /** false for moving statistics and for every weight of a frozen layer. */
  trainable: boolean;
  initializer: Initializer;
}

/**
 * NOTES on normalized attributes (per op; absent keys do not exist for that op):
 *  - kernel_size, strides, dilation_rate, pool_size: always [h, w] pairs.
 *  - axis (softmax, batch_normalization, layer_normalization, concatenate): a non-negative index
 *    into the per-example shape (batch axis excluded), whatever the file's counting: -1 on a
 *    rank-3 input becomes 2, and so does a kiln.graph/v2 axis 3 (Keras counts the batch axis).
 *  - reshape.target_shape: -1 resolved to the real size.
 *  - activation: always present where the op takes one ("linear" when not given); swish → silu.
 *  - use_bias, return_sequences, causal: booleans with defaults filled.
 *  - multi_head_attention.value_dim: filled with key_dim when not given.
 *  - initializers: every *_initializer attribute of the op with its Keras default filled in.
 */
export type Attrs = Record<string, unknown>;

export interface ValueInfo {
  name: string;
  shape: number[];
  dtype: DType;
}

export interface Layer {
  name: string;
  op: OpName;
  /** JSON pointer of the layer in the graph file, e.g. "/layers/3". */
  path: string;
  /** Names of graph inputs or earlier layers (defaults resolved). */
  inputs: string[];
  attrs: Attrs;
  trainable: boolean;
  /** The layer's name in the Keras / TF.js model it was imported from (`keras_name`), when kiln renamed it. */
  kerasName?: string;
  /** Output shape (batch axis excluded) and dtype. */
  shape: number[];
  dtype: DType;
  weights: WeightSpec[];
}

export type LossType =
  | "mean_squared_error" | "mean_absolute_error" | "binary_crossentropy"
  | "categorical_crossentropy" | "sparse_categorical_crossentropy";

/**
 * The optimizer with its attributes (defaults filled): what each type takes is its registry entry's
 * (compiler/optimizers/<type>.ts); clipping is shared by all.
 */
export type OptimizerSpec = {
  type: OptimizerType;
  /** A constant or a schedule (defaults filled). */
  learning_rate: number | Schedule;
  clipnorm?: number;
  global_clipnorm?: number;
} & Record<string, unknown>;

export type { MetricSpec } from "./metrics.js";
import type { MetricSpec } from "./metrics.js";

/** One output's loss; `weight` is its Keras `loss_weights` entry (1 when none is given). */
export interface LossSpec { type: LossType; output: string; target: string; from_logits: boolean; weight: number }

export interface TrainingSpec {
  /** The first (for one output, the only) loss. */
  loss: LossSpec;
  /** Every output's loss, in graph.outputs order (Keras: the total is Σ weight·loss). */
  losses: LossSpec[];
  optimizer: OptimizerSpec;
  /** Per output in graph.outputs order, each output's metrics in the file's order. */
  metrics: MetricSpec[];
  /** The log names the module reports after `loss`: `<output>_loss` per output when several, then the metrics (Keras 3's names). */
  logNames: string[];
}

export interface Graph {
  /** The file's format; v1 axes are already converted (every attrs.axis is per-example). */
  format: GraphFormat;
  name: string;
  seed: number;
  inputs: ValueInfo[];
  targets: ValueInfo[];
  /** Topological order; a layer's inputs are graph inputs or layers listed before it. */
  layers: Layer[];
  outputs: string[];
  training?: TrainingSpec;
  /** Things worth telling the user that are not errors (a v1 file and how its axes were read). */
  notes?: Diagnostic[];
}
