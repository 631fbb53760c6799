/**
 * Keras training configs → kiln's `training` section, only where kiln has the same thing: the loss,
 * the optimizer with its hyper-parameters (a constant rate or one of Keras's five learning-rate
 * schedules), metrics. Sources: TF.js `trainingConfig` (camel-case optimizer config), Keras 2
 * `training_config` (also inside a converted model.json's modelTopology), Keras 3 `compile_config`.
 * Anything kiln would train differently (clipvalue, amsgrad, several outputs, loss weights, a loss,
 * optimizer or schedule kiln lacks) leaves the graph inference-only and says why, by name, in a note;
 * a metric kiln lacks is left out with a note.
 */
import { isObject, quote } from "./problems.js";
import { snake, type Flavor } from "./args.js";
import { METRIC_DEFS, type MetricType } from "../frontend/metrics.js";
import { SCHEDULES, type ScheduleName } from "../optimizers/schedules.js";

export interface KilnTraining {
  loss: { type: string; from_logits?: boolean };
  optimizer: Record<string, unknown>;
  metrics: (string | Record<string, unknown>)[];
}

const LOSSES: Record<string, string> = Object.assign(Object.create(null), {
  mean_squared_error: "mean_squared_error", mse: "mean_squared_error", mean_absolute_error: "mean_absolute_error", mae: "mean_absolute_error",
  binary_crossentropy: "binary_crossentropy", categorical_crossentropy: "categorical_crossentropy",
  sparse_categorical_crossentropy: "sparse_categorical_crossentropy",
});

/**
 * Keras metric ids (function names, snake-cased class names and their aliases) → kiln's metric
 * type. The accuracies all become kiln's `accuracy`, which follows the loss as Keras's "accuracy"
 * string does (the file's own choice of kind agrees with its loss in every model Keras can train).
 */
const METRICS: Record<string, MetricType> = Object.assign(Object.create(null), {
  accuracy: "accuracy", acc: "accuracy", binary_accuracy: "accuracy", categorical_accuracy: "accuracy", sparse_categorical_accuracy: "accuracy",
  mean_squared_error: "mean_squared_error", mse: "mean_squared_error", mean_absolute_error: "mean_absolute_error", mae: "mean_absolute_error",
  root_mean_squared_error: "root_mean_squared_error", r2_score: "r2_score",
  // snake() of TopKCategoricalAccuracy keeps "KC" together.
  top_k_categorical_accuracy: "top_k_categorical_accuracy", top_kcategorical_accuracy: "top_k_categorical_accuracy",
  sparse_top_k_categorical_accuracy: "sparse_top_k_categorical_accuracy", sparse_top_kcategorical_accuracy: "sparse_top_k_categorical_accuracy",
  precision: "precision", recall: "recall", auc: "auc",
});

/** Keras config keys a metric class may carry at their default (null, false) without kiln having them. */
const METRIC_DEFAULT_ONLY: Record<string, unknown[]> = { top_k: [null], class_id: [null], multi_label: [false], num_labels: [null], label_weights: [null], thresholds: [null] };

/**
 * One metric of a training config as kiln's entry (a name, or {type, name, ...arguments} when the
 * serialized class sets arguments kiln has), or the reason it is left out.
 */
function mapMetric(m: unknown): string | Record<string, unknown> | { why: string } {
  const id = identifier(m);
  const type = id === undefined ? undefined : METRICS[id];
  if (!type) return { why: `kiln imports ${Object.keys(METRIC_DEFS).join(", ")} from training configurations` };
  const cfg = isObject(m) && isObject(m.config) ? m.config : undefined;
  if (!cfg || type === "accuracy") return type;
  const attrs = METRIC_DEFS[type].attrs, out: Record<string, unknown> = { type };
  for (const [key, v] of Object.entries(cfg)) {
    if (key === "name" || key === "dtype") continue;
    // Keras's precision/recall `thresholds` may be one number or a list; kiln takes one.
    const value = key === "thresholds" && Array.isArray(v) && v.length === 1 ? v[0] : v;
    if (Object.hasOwn(attrs, key) && value !== null && !(key === "thresholds" && Array.isArray(value))) out[key] = value;
    else if (!(Object.hasOwn(METRIC_DEFAULT_ONLY, key) && METRIC_DEFAULT_ONLY[key]!.includes(value))) {
      return { why: `kiln's ${type} has no ${key} ${quote(v)}` };
    }
  }
  return Object.keys(out).length === 1 ? type : out;
}

/** Optimizer keys per kiln type, with the source spellings that mean them. */
const OPTIMIZER_KEYS: Record<string, Record<string, string>> = {
  sgd: { learning_rate: "learning_rate", lr: "learning_rate", learningRate: "learning_rate", momentum: "momentum", nesterov: "nesterov", useNesterov: "nesterov" },
  adam: { learning_rate: "learning_rate", lr: "learning_rate", learningRate: "learning_rate", beta_1: "beta_1", beta1: "beta_1", beta_2: "beta_2", beta2: "beta_2", epsilon: "epsilon" },
  adamw: { learning_rate: "learning_rate", learningRate: "learning_rate", beta_1: "beta_1", beta_2: "beta_2", epsilon: "epsilon", weight_decay: "weight_decay" },
  rmsprop: { learning_rate: "learning_rate", lr: "learning_rate", learningRate: "learning_rate", rho: "rho", momentum: "momentum", epsilon: "epsilon" },
};

/** Keras's schedule classes (keras.optimizers.schedules, Keras 2 and 3) → kiln's schedule names. */
const SCHEDULE_CLASSES: Record<string, ScheduleName> = Object.assign(Object.create(null), {
  ExponentialDecay: "exponential_decay", InverseTimeDecay: "inverse_time_decay", PolynomialDecay: "polynomial_decay",
  CosineDecay: "cosine_decay", PiecewiseConstantDecay: "piecewise_constant",
});

/** Keys that change nothing when at these values (or null). */
const NEUTRAL: Record<string, unknown[]> = {
  name: [], is_legacy_optimizer: [], jit_compile: [], use_ema: [false], ema_momentum: [], ema_overwrite_frequency: [],
  amsgrad: [false], centered: [false], clipvalue: [null], loss_scale_factor: [null], gradient_accumulation_steps: [null],
  decay: [0], weight_decay: [0], global_clipnorm: [], clipnorm: [],
};

/** The config in one shape: { loss, metrics, optimizer: {class_name, config}, ... }. */
export function normalizeTrainingConfig(raw: unknown): { loss: unknown; metrics: unknown; optimizer: unknown; lossWeights: unknown; weightedMetrics: unknown } | undefined {
  if (!isObject(raw)) return undefined;
  return { loss: raw.loss, metrics: raw.metrics, optimizer: raw.optimizer_config ?? raw.optimizer, lossWeights: raw.loss_weights, weightedMetrics: raw.weighted_metrics };
}

/**
 * The name a loss or metric is given by: a string, a serialized class (`{class_name, config}`) or a
 * serialized function (Keras 3: `{class_name: "function", config: "mean_squared_error"}`).
 */
function identifier(v: unknown): string | undefined {
  if (typeof v === "string") return snake(v);
  if (!isObject(v) || typeof v.class_name !== "string") return undefined;
  if (v.class_name === "function") return typeof v.config === "string" ? snake(v.config) : undefined;
  return snake(v.class_name);
}

/** kiln training for a model with `outputs` outputs, or the reasons it is left out. */
export function mapTraining(raw: unknown, outputs: number, flavor: Flavor = "keras3"): { training?: KilnTraining; notes: string[] } {
  const cfg = normalizeTrainingConfig(raw);
  if (!cfg) return { notes: [] };
  const why: string[] = [];
  const notes: string[] = [];
  if (outputs !== 1) why.push(`the model has ${outputs} outputs and kiln trains one loss on one output`);
  const loss = mapLoss(cfg.loss, why);
  const optimizer = mapOptimizer(cfg.optimizer, flavor, why);
  const weights = flatMetrics(cfg.lossWeights);
  if (weights.some((w) => w !== 1)) why.push(`loss_weights ${quote(cfg.lossWeights)} (kiln's loss is unweighted)`);
  const metrics: KilnTraining["metrics"] = [];
  for (const m of flatMetrics(cfg.metrics)) {
    const entry = mapMetric(m);
    if (typeof entry === "object" && "why" in entry) notes.push(`metric ${quote(m)} left out: ${entry.why}`);
    else if (!metrics.some((x) => JSON.stringify(x) === JSON.stringify(entry))) metrics.push(entry);
  }
  const weighted = flatMetrics(cfg.weightedMetrics);
  if (weighted.length) notes.push(`weighted_metrics ${quote(cfg.weightedMetrics)} left out: kiln's metrics ignore sample weights (it has no weighted_metrics)`);
  if (why.length || !loss || !optimizer) {
    return { notes: [...notes, `training configuration left out, the graph compiles for inference only: ${why.join("; ")}`] };
  }
  return { training: { loss, optimizer, metrics }, notes };
}

/** Metrics as a flat list: Keras 2 nests them per output ([["accuracy"]] or {out: [...]}); depth-limited against hostile files. */
function flatMetrics(m: unknown, depth = 0): unknown[] {
  if (m === undefined || m === null) return [];
  if (depth > 4) return [m];
  if (Array.isArray(m)) return m.flatMap((x) => flatMetrics(x, depth + 1));
  if (isObject(m) && typeof m.class_name !== "string") return Object.values(m).flatMap((x) => flatMetrics(x, depth + 1));
  return [m];
}

function mapLoss(loss: unknown, why: string[]): KilnTraining["loss"] | undefined {
  let v = loss;
  if (Array.isArray(v) && v.length === 1) v = v[0];
  if (isObject(v) && typeof v.class_name !== "string") {
    const vals = Object.values(v);
    if (vals.length === 1) v = vals[0];
  }
  if (typeof v === "string" || (isObject(v) && v.class_name === "function")) {
    const id = identifier(v);
    const type = id === undefined ? undefined : LOSSES[id];
    if (type) return { type };
  } else if (isObject(v) && typeof v.class_name === "string") {
    const type = LOSSES[snake(v.class_name)];
    const c = isObject(v.config) ? v.config : {};
    if (type) {
      const extra = Object.entries(c).filter(([k, x]) => !["name", "reduction", "from_logits", "dtype", "fn"].includes(k) && x !== null && x !== 0 && !(k === "axis" && x === -1));
      const reduction = c.reduction ?? "sum_over_batch_size";
      if (extra.length) why.push(`loss ${quote(v.class_name)} with ${extra.map(([k, x]) => `${k}=${quote(x)}`).join(", ")} (kiln's losses take only from_logits)`);
      else if (reduction !== "sum_over_batch_size" && reduction !== "auto") why.push(`loss reduction ${quote(reduction)} (kiln's is sum_over_batch_size)`);
      else return c.from_logits === true ? { type, from_logits: true } : { type };
      return undefined;
    }
  }
  why.push(`loss ${quote(loss)} is not one kiln has (${Object.values(LOSSES).filter((x, i, a) => a.indexOf(x) === i).join(", ")})`);
  return undefined;
}

function mapOptimizer(opt: unknown, flavor: Flavor, why: string[]): Record<string, unknown> | undefined {
  if (typeof opt === "string") opt = { class_name: opt, config: {} };
  if (!isObject(opt) || typeof opt.class_name !== "string") {
    why.push(`optimizer ${quote(opt)} is not an optimizer config`);
    return undefined;
  }
  let type = snake(opt.class_name).replace(/_/g, "");
  const cfg = isObject(opt.config) ? opt.config : {};
  if (type === "momentum") type = "sgd"; // TF.js's momentum optimizer is Keras SGD with momentum
  const keys = OPTIMIZER_KEYS[type];
  if (!keys) {
    why.push(`optimizer ${quote(opt.class_name)} is not one kiln has (sgd, adam, adamw, rmsprop)`);
    return undefined;
  }
  const out: Record<string, unknown> = { type };
  let legacyDecay = 0;
  for (const [k, v] of Object.entries(cfg)) {
    // TF.js's RMSProp calls rho `decay`; in Keras 2's legacy optimizers `decay` is a time decay of the rate.
    const kiln = type === "rmsprop" && k === "decay" && flavor === "tfjs" ? "rho" : Object.hasOwn(keys, k) ? keys[k] : undefined;
    if (kiln === "learning_rate" && isObject(v)) {
      const schedule = mapSchedule(v, why);
      if (schedule) out.learning_rate = schedule;
      continue;
    }
    if (kiln && v !== null && v !== undefined) {
      if (typeof v !== "number" && typeof v !== "boolean") {
        why.push(`optimizer ${k}=${quote(v)} (kiln takes a number here)`);
        continue;
      }
      out[kiln] = v;
      continue;
    }
    if (k === "decay" && typeof v === "number" && v > 0 && flavor !== "keras3") {
      legacyDecay = v;
      continue;
    }
    // Keras 2.11+ and 3 apply weight_decay in the base optimizer (w −= w·wd·lr): on Adam that is AdamW.
    if (k === "weight_decay" && type === "adam" && typeof v === "number" && v > 0) {
      out.type = "adamw";
      out.weight_decay = v;
      continue;
    }
    if ((k === "clipnorm" || k === "global_clipnorm") && typeof v === "number") {
      out[k] = v;
      continue;
    }
    const neutral = Object.hasOwn(NEUTRAL, k) ? NEUTRAL[k]! : undefined;
    if (neutral && (v === null || v === undefined || neutral.length === 0 || neutral.includes(v))) continue;
    if (v === null || v === undefined) continue;
    why.push(`optimizer ${opt.class_name} ${k}=${quote(v)} (kiln's ${type} has no such setting)`);
  }
  if (out.clipnorm !== undefined && out.global_clipnorm !== undefined) why.push("both clipnorm and global_clipnorm");
  if (legacyDecay > 0) {
    // Keras 2's legacy optimizers: lr / (1 + decay·iterations), iterations counted before the update.
    if (isObject(out.learning_rate)) why.push(`optimizer ${opt.class_name} decay=${legacyDecay} on top of a schedule`);
    else out.learning_rate = { schedule: "inverse_time_decay", initial_learning_rate: out.learning_rate ?? KERAS_DEFAULT_RATE[out.type as string], decay_steps: 1, decay_rate: legacyDecay };
  }
  return out;
}

/** Keras's default learning rates (the legacy decay needs the rate when the file leaves it out). */
const KERAS_DEFAULT_RATE: Record<string, number> = { sgd: 0.01, adam: 0.001, adamw: 0.001, rmsprop: 0.001 };

/**
 * A serialized Keras schedule (`{class_name, config}`, Keras 3 with `module` and `registered_name`
 * too) → kiln's `{schedule, ...arguments}`. Arguments keep Keras's names; null ones (CosineDecay's
 * warmup_target) are Keras's "none" and left out; one kiln does not know is named in `why`. The
 * values are checked by checkGraph when the training section is added.
 */
function mapSchedule(v: Record<string, unknown>, why: string[]): Record<string, unknown> | undefined {
  const cls = v.class_name;
  const name = typeof cls === "string" ? SCHEDULE_CLASSES[cls] : undefined;
  if (!name) {
    why.push(`learning-rate schedule ${quote(cls ?? v)} is not one kiln has (${Object.keys(SCHEDULE_CLASSES).join(", ")})`);
    return undefined;
  }
  const cfg = isObject(v.config) ? v.config : {};
  const known = SCHEDULES[name].attrs as Record<string, unknown>;
  const out: Record<string, unknown> = { schedule: name };
  let ok = true;
  for (const [k, x] of Object.entries(cfg)) {
    if (k === "name" || x === null || x === undefined) continue;
    if (!Object.hasOwn(known, k)) {
      why.push(`learning-rate schedule ${cls} ${k}=${quote(x)} (kiln's ${name} has no such argument)`);
      ok = false;
      continue;
    }
    out[k] = x;
  }
  return ok ? out : undefined;
}
