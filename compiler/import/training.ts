/**
 * Keras training configs → kiln's `training` section, only where kiln has the same thing: the loss,
 * the optimizer with its hyper-parameters, metrics. Sources: TF.js `trainingConfig` (camel-case
 * optimizer config), Keras 2 `training_config`, Keras 3 `compile_config`. Anything kiln would train
 * differently (a learning-rate schedule, clipvalue, amsgrad, several outputs, a loss kiln lacks)
 * leaves the graph inference-only and says why in a note.
 */
import { isObject, quote } from "./problems.js";
import { snake } from "./args.js";

export interface KilnTraining {
  loss: { type: string; from_logits?: boolean };
  optimizer: Record<string, unknown>;
  metrics: string[];
}

const LOSSES: Record<string, string> = Object.assign(Object.create(null), {
  mean_squared_error: "mean_squared_error", mse: "mean_squared_error", mean_absolute_error: "mean_absolute_error", mae: "mean_absolute_error",
  binary_crossentropy: "binary_crossentropy", categorical_crossentropy: "categorical_crossentropy",
  sparse_categorical_crossentropy: "sparse_categorical_crossentropy",
});

const METRICS: Record<string, string> = Object.assign(Object.create(null), {
  accuracy: "accuracy", acc: "accuracy", binary_accuracy: "accuracy", categorical_accuracy: "accuracy", sparse_categorical_accuracy: "accuracy",
  mean_squared_error: "mean_squared_error", mse: "mean_squared_error", mean_absolute_error: "mean_absolute_error", mae: "mean_absolute_error",
});

/** Optimizer keys per kiln type, with the source spellings that mean them. */
const OPTIMIZER_KEYS: Record<string, Record<string, string>> = {
  sgd: { learning_rate: "learning_rate", lr: "learning_rate", learningRate: "learning_rate", momentum: "momentum", nesterov: "nesterov", useNesterov: "nesterov" },
  adam: { learning_rate: "learning_rate", lr: "learning_rate", learningRate: "learning_rate", beta_1: "beta_1", beta1: "beta_1", beta_2: "beta_2", beta2: "beta_2", epsilon: "epsilon" },
  adamw: { learning_rate: "learning_rate", learningRate: "learning_rate", beta_1: "beta_1", beta_2: "beta_2", epsilon: "epsilon", weight_decay: "weight_decay" },
  rmsprop: { learning_rate: "learning_rate", lr: "learning_rate", learningRate: "learning_rate", rho: "rho", decay: "rho", momentum: "momentum", epsilon: "epsilon" },
};

/** Keys that change nothing when at these values (or null). */
const NEUTRAL: Record<string, unknown[]> = {
  name: [], is_legacy_optimizer: [], jit_compile: [], use_ema: [false], ema_momentum: [], ema_overwrite_frequency: [],
  amsgrad: [false], centered: [false], clipvalue: [null], loss_scale_factor: [null], gradient_accumulation_steps: [null],
  decay: [0], weight_decay: [0], global_clipnorm: [], clipnorm: [],
};

/** The config in one shape: { loss, metrics, optimizer: {class_name, config} }. */
export function normalizeTrainingConfig(raw: unknown): { loss: unknown; metrics: unknown; optimizer: unknown } | undefined {
  if (!isObject(raw)) return undefined;
  return { loss: raw.loss, metrics: raw.metrics, optimizer: raw.optimizer_config ?? raw.optimizer };
}

/** kiln training for a model with `outputs` outputs, or the reasons it is left out. */
export function mapTraining(raw: unknown, outputs: number): { training?: KilnTraining; notes: string[] } {
  const cfg = normalizeTrainingConfig(raw);
  if (!cfg) return { notes: [] };
  const why: string[] = [];
  const notes: string[] = [];
  if (outputs !== 1) why.push(`the model has ${outputs} outputs and kiln trains one loss on one output`);
  const loss = mapLoss(cfg.loss, why);
  const optimizer = mapOptimizer(cfg.optimizer, why);
  const metrics: string[] = [];
  for (const m of flatMetrics(cfg.metrics)) {
    const name = typeof m === "string" ? METRICS[snake(m)] : isObject(m) && typeof m.class_name === "string" ? METRICS[snake(m.class_name)] : undefined;
    if (name) {
      if (!metrics.includes(name)) metrics.push(name);
    } else notes.push(`metric ${quote(m)} left out: kiln imports accuracy, mean_squared_error and mean_absolute_error from training configurations (a graph can name the others, spec §4)`);
  }
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
  if (typeof v === "string") {
    const type = LOSSES[snake(v)];
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

function mapOptimizer(opt: unknown, why: string[]): Record<string, unknown> | undefined {
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
  for (const [k, v] of Object.entries(cfg)) {
    const kiln = keys[k];
    if (kiln && v !== null && v !== undefined) {
      if (typeof v !== "number" && typeof v !== "boolean") {
        why.push(`optimizer ${k}=${quote(v)} (a schedule or object; kiln takes a constant)`);
        continue;
      }
      out[kiln] = v;
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
  return out;
}
