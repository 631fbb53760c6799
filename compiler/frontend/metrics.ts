/**
 * The metrics a graph may ask for (spec §4): Keras 3's names, arguments and defaults. A metric
 * entry is a name ("accuracy", "auc", …) or an object `{ type, name?, ...arguments }`. The schema's
 * `metric_<type>` definitions come from METRIC_DEFS; `resolveMetric` turns an entry into the
 * checked MetricSpec the lowering computes (emit/metrics.ts) for one output.
 */
import type { JsonSchema } from "./ops/op.js";
import type { LossType } from "./graph-types.js";

export const METRIC_TYPES = [
  "accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
  "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy",
  "precision", "recall", "auc",
  "mean_squared_error", "mean_absolute_error", "root_mean_squared_error", "r2_score",
] as const;
export type MetricType = (typeof METRIC_TYPES)[number];

/** What the module computes: `accuracy` resolved to one of the accuracy kinds. */
export type ResolvedMetricType = Exclude<MetricType, "accuracy">;

export interface MetricSpec {
  type: ResolvedMetricType;
  /** The log name without the output prefix (Keras: the string given, or the metric's `name`). */
  name: string;
  /** The graph output and the target it is compared with (those of the output's loss). */
  output: string;
  target: string;
  /** binary_accuracy; precision and recall (Keras `thresholds`, one value). */
  threshold?: number;
  /** top-k accuracies. */
  k?: number;
  /** auc. */
  num_thresholds?: number;
  curve?: "ROC" | "PR";
  summation_method?: "interpolation" | "minoring" | "majoring";
  /** auc: sigmoid applied to the output first. */
  from_logits?: boolean;
  /** r2_score. */
  class_aggregation?: "uniform_average" | "variance_weighted_average";
  num_regressors?: number;
}

interface MetricDef {
  /** Arguments as JSON Schema, each with its Keras default. */
  attrs: Record<string, JsonSchema>;
  /** Which targets fit: float32 of the output's shape, int32 class ids (one axis fewer), or either. */
  target: "dense" | "sparse" | "any";
  description: string;
}

const unit = (title: string, dflt: number, description: string): JsonSchema =>
  ({ title, description, type: "number", exclusiveMinimum: 0, exclusiveMaximum: 1, default: dflt });
const kAttr: JsonSchema = { title: "an integer ≥ 1", description: "How many of the highest predictions count.", type: "integer", minimum: 1, maximum: 1 << 20, default: 5 };
const thresholdAttr: JsonSchema = {
  title: "a number in [0, 1]", description: "Keras `thresholds` (one value): a prediction above it counts as positive (0 for logits).",
  type: "number", minimum: 0, maximum: 1, default: 0.5,
};

export const METRIC_DEFS: Record<MetricType, MetricDef> = {
  accuracy: { attrs: {}, target: "any", description: "Follows the output's loss: binary (> 0.5, or > 0 with from_logits) for binary_crossentropy, sparse categorical for sparse_categorical_crossentropy, categorical otherwise." },
  binary_accuracy: { attrs: { threshold: unit("a number in (0, 1)", 0.5, "A prediction above it is class 1.") }, target: "dense", description: "How often (prediction > threshold) equals the target, over every element." },
  categorical_accuracy: { attrs: {}, target: "dense", description: "How often the argmax of the prediction equals the argmax of the one-hot target (first index wins ties)." },
  sparse_categorical_accuracy: { attrs: {}, target: "sparse", description: "How often the argmax of the prediction equals the int32 class id." },
  top_k_categorical_accuracy: { attrs: { k: kAttr }, target: "dense", description: "How often the target's argmax class is among the k highest predictions (fewer than k classes score strictly higher)." },
  sparse_top_k_categorical_accuracy: { attrs: { k: kAttr }, target: "sparse", description: "How often the int32 class id is among the k highest predictions (fewer than k classes score strictly higher)." },
  precision: { attrs: { thresholds: thresholdAttr }, target: "dense", description: "TP / (TP + FP) over every element, a target ≠ 0 being positive; 0 while nothing is predicted positive." },
  recall: { attrs: { thresholds: thresholdAttr }, target: "dense", description: "TP / (TP + FN) over every element, a target ≠ 0 being positive; 0 while no target is positive." },
  auc: {
    attrs: {
      num_thresholds: { title: "an integer in [2, 100000]", description: "Buckets of the curve.", type: "integer", minimum: 2, maximum: 100000, default: 200 },
      curve: { title: 'one of "ROC", "PR"', description: "ROC or precision-recall curve.", enum: ["ROC", "PR"], default: "ROC" },
      summation_method: { title: 'one of "interpolation", "minoring", "majoring"', description: "Keras's Riemann sum.", enum: ["interpolation", "minoring", "majoring"], default: "interpolation" },
      from_logits: { title: "true or false", description: "Apply a sigmoid to the output first.", type: "boolean", default: false },
    },
    target: "dense",
    description: "Keras's AUC: confusion counts at num_thresholds thresholds (−1e-7, 1/(n−1), …, 1+1e-7), ROC or PR, flattened over every element.",
  },
  mean_squared_error: { attrs: {}, target: "any", description: "Mean of (prediction − target)² over every element (an int32 target as one-hot rows)." },
  mean_absolute_error: { attrs: {}, target: "any", description: "Mean of |prediction − target| over every element (an int32 target as one-hot rows)." },
  root_mean_squared_error: { attrs: {}, target: "any", description: "The square root of the epoch's mean squared error." },
  r2_score: {
    attrs: {
      class_aggregation: { title: 'one of "uniform_average", "variance_weighted_average"', description: "How the per-column scores combine.", enum: ["uniform_average", "variance_weighted_average"], default: "uniform_average" },
      num_regressors: { title: "an integer ≥ 0", description: "Adjusted R² with this many regressors (0: plain R²).", type: "integer", minimum: 0, maximum: 1 << 30, default: 0 },
    },
    target: "dense",
    description: "Keras's R2Score over the columns of a [D] (or scalar) output.",
  },
};

/** A metric entry as the file gives it. */
export type RawMetric = string | ({ type: string; name?: string } & Record<string, unknown>);

/**
 * The checked spec of one entry for one output, or the problem (a sentence) when the entry does
 * not fit that output. `loss` is the loss of that output, which `accuracy` follows.
 */
export function resolveMetric(
  entry: RawMetric, loss: { type: LossType; from_logits: boolean; output: string; target: string },
  out: { shape: number[] }, target: { dtype: string; shape: number[] },
): MetricSpec | string {
  const raw = typeof entry === "string" ? { type: entry } : entry;
  const type = raw.type as MetricType;
  const def = METRIC_DEFS[type];
  const spec: MetricSpec = { type: type as ResolvedMetricType, name: typeof entry === "string" ? entry : (raw.name as string | undefined) ?? type, output: loss.output, target: loss.target };
  for (const [attr, s] of Object.entries(def.attrs)) (spec as any)[attr] = raw[attr] ?? s.default;
  if (type === "accuracy") {
    if (loss.type === "binary_crossentropy") Object.assign(spec, { type: "binary_accuracy", threshold: loss.from_logits ? 0 : 0.5 });
    else spec.type = loss.type === "sparse_categorical_crossentropy" ? "sparse_categorical_accuracy" : "categorical_accuracy";
  }
  if ("thresholds" in spec) {
    spec.threshold = (spec as any).thresholds;
    delete (spec as any).thresholds;
  }
  const sparse = target.dtype === "int32";
  const kind = METRIC_DEFS[spec.type].target;
  if (kind === "dense" && sparse) return `${type} compares with a float32 target of the output's shape; "${loss.target}" holds int32 class ids (use the sparse_ variant, or accuracy)`;
  if (kind === "sparse" && !sparse) return `${type} compares with int32 class ids; "${loss.target}" is float32 (use the variant without sparse_)`;
  if (spec.type === "r2_score" && out.shape.length > 1) return `r2_score needs an output of shape [D] or [] (Keras's R2Score takes 2-D batches); "${loss.output}" has ${out.shape.length} axes per example`;
  return spec;
}
