/**
 * Reading one Keras layer's config: every key the layer table reads is marked, and `finish()`
 * reports any key left over whose value is not null, so an argument kiln does not know is an
 * error, never dropped without a word. Activations and initializers are translated here, with
 * Keras's formulas per source (TF.js and Keras 2 define hard_sigmoid differently from Keras 3).
 */
import type { InitializerName } from "../frontend/graph-types.js";
import { ACTIVATIONS } from "../frontend/ops/attrs.js";
import { ImportProblems, isObject, quote, seg } from "./problems.js";

/** Where the model came from: decides version-dependent meanings (hard_sigmoid, config shapes). */
export type Flavor = "tfjs" | "keras2" | "keras3";

/**
 * Config keys with no effect on what kiln computes: identity, dtype bookkeeping (kiln computes in
 * float32; a non-float32 policy is noted by the model reader) and performance switches.
 */
const HARMLESS = new Set([
  "name", "trainable", "dtype", "batch_input_shape", "batch_shape", "input_shape", "input_dtype", "autocast",
  "seed", "implementation", "unroll", "use_cudnn", "input_length", "build_config", "fused", "zero_output_for_mask",
]);

/** Keras activation names kiln computes with the same formula. */
const SAME_ACTIVATIONS: Record<string, string> = Object.assign(Object.create(null), {
  linear: "linear", relu: "relu", sigmoid: "sigmoid", tanh: "tanh", softmax: "softmax", gelu: "gelu",
  elu: "elu", swish: "silu", silu: "silu", softplus: "softplus", relu6: "relu6", hard_silu: "hard_silu",
  hard_swish: "hard_silu", mish: "mish", selu: "selu", exponential: "exponential", log_softmax: "log_softmax",
});

/** Keras initializer classes (and their snake-case names) that kiln has. */
const INITIALIZERS: Record<string, InitializerName> = Object.assign(Object.create(null), {
  Zeros: "zeros", zeros: "zeros", Ones: "ones", ones: "ones", GlorotUniform: "glorot_uniform", glorot_uniform: "glorot_uniform",
  GlorotNormal: "glorot_normal", glorot_normal: "glorot_normal", HeUniform: "he_uniform", he_uniform: "he_uniform",
  HeNormal: "he_normal", he_normal: "he_normal", LecunNormal: "lecun_normal", lecun_normal: "lecun_normal",
  Orthogonal: "orthogonal", orthogonal: "orthogonal",
});

export class ArgReader {
  private readonly used = new Set<string>();

  constructor(
    readonly config: Record<string, unknown>,
    readonly label: string,
    readonly path: string,
    readonly flavor: Flavor,
    readonly problems: ImportProblems,
  ) {}

  /** The raw value (undefined when absent); marks the key as read. */
  get(key: string): unknown {
    this.used.add(key);
    return Object.hasOwn(this.config, key) ? this.config[key] : undefined;
  }

  fail(key: string | undefined, message: string): void {
    this.problems.error(key === undefined ? this.path : this.path + seg(key), message, this.label);
  }

  note(message: string): void {
    this.problems.note(`layer ${this.label}: ${message}`);
  }

  /** A positive integer (required when no default). */
  int(key: string, dflt?: number): number | undefined {
    const v = this.get(key) ?? dflt;
    if (typeof v === "number" && Number.isSafeInteger(v) && v >= 1) return v;
    this.fail(key, `${key} must be a positive integer; got ${quote(v)}`);
    return undefined;
  }

  num(key: string, dflt: number): number | undefined {
    const v = this.get(key) ?? dflt;
    if (typeof v === "number" && Number.isFinite(v)) return v;
    this.fail(key, `${key} must be a finite number; got ${quote(v)}`);
    return undefined;
  }

  bool(key: string, dflt: boolean): boolean | undefined {
    const v = this.get(key) ?? dflt;
    if (typeof v === "boolean") return v;
    this.fail(key, `${key} must be true or false; got ${quote(v)}`);
    return undefined;
  }

  /** A value kiln supports only in one form: anything else is refused with what would work. */
  require(key: string, ok: (v: unknown) => boolean, supported: string): void {
    const v = this.get(key);
    if (v === undefined || v === null || ok(v)) return;
    this.fail(key, `${key}=${quote(v)} is not supported: kiln supports ${supported}`);
  }

  /** An int or a list of ints (kernel_size, strides, ...): returned as kiln writes it. */
  intOrPair(key: string, dflt?: number | number[]): number | number[] | undefined {
    const v = this.get(key) ?? dflt;
    if (v === undefined) return undefined;
    const ok = (x: unknown) => typeof x === "number" && Number.isSafeInteger(x) && x >= 1;
    if (ok(v)) return v as number;
    if (Array.isArray(v) && v.length === 2 && v.every(ok)) return [v[0] as number, v[1] as number];
    if (Array.isArray(v) && v.length === 1 && ok(v[0])) return v[0] as number;
    this.fail(key, `${key} must be a positive integer or a list of 2 (2-D layers); got ${quote(v)}`);
    return undefined;
  }

  channelsLast(): void {
    this.require("data_format", (v) => v === "channels_last", `"channels_last" only (kiln is channels-last, as Keras's default)`);
  }

  /** The activation named at `key`, as kiln names it, or undefined after an error. */
  activation(key: string, dflt = "linear"): string | undefined {
    let v = this.get(key) ?? dflt;
    // Keras 3 may serialize a built-in activation as {class_name: "function", config: "relu"}.
    if (isObject(v) && typeof v.config === "string") v = v.config;
    if (typeof v !== "string") {
      this.fail(key, `${key} must name an activation; got ${quote(v)} (custom activation functions cannot be imported)`);
      return undefined;
    }
    const name = snake(v);
    if (SAME_ACTIVATIONS[name]) return SAME_ACTIVATIONS[name];
    if (name === "leaky_relu" && this.flavor === "keras3") return "leaky_relu"; // keras.activations.leaky_relu: slope 0.2, as kiln's
    // Keras 3: relu6(x + 3) / 6; TF.js and Keras 2: clip(0.2·x + 0.5, 0, 1) — kiln has both.
    if (name === "hard_sigmoid") return this.flavor === "keras3" ? "hard_sigmoid" : "hard_sigmoid_legacy";
    this.fail(key, `activation ${quote(v)}${activationFormula(name, this.flavor)} is not one kiln has; kiln's activations: ${ACTIVATIONS.join(", ")}`);
    return undefined;
  }

  /** A kiln initializer name for the Keras initializer at `key`, or undefined (with a note) when kiln has none like it. */
  initializer(key: string): InitializerName | undefined {
    const v = this.get(key);
    if (v === undefined || v === null) return undefined;
    const cls = typeof v === "string" ? v : isObject(v) ? v.class_name : undefined;
    const cfg = isObject(v) && isObject(v.config) ? v.config : {};
    const known = typeof cls === "string" ? INITIALIZERS[cls] ?? varianceScaling(cls, cfg) ?? plainRandom(cls, cfg) : undefined;
    if (known) return known;
    this.note(`${key} ${quote(v)} has no kiln equivalent; the imported weights are unaffected, but re-initializing this layer uses kiln's default`);
    return undefined;
  }

  /** Regularizers, constraints and dropout-like arguments kiln's training lacks: noted, predictions are unaffected. */
  trainingOnly(key: string, isDefault: (v: unknown) => boolean, what: string): void {
    const v = this.get(key);
    if (v === undefined || v === null || isDefault(v)) return;
    this.note(`${key}=${quote(v)} left out (${what}); predictions are unaffected, training in kiln will differ from Keras`);
  }

  /** Reports every key nobody read whose value is set: unknown arguments are never dropped silently. */
  finish(): void {
    for (const [key, v] of Object.entries(this.config)) {
      if (this.used.has(key) || HARMLESS.has(key) || v === null || v === undefined) continue;
      if (key.endsWith("_regularizer") || key.endsWith("_constraint")) {
        this.trainingOnly(key, () => false, "kiln has no regularizers or constraints");
        continue;
      }
      this.fail(key, `argument ${quote(key)}=${quote(v)} is not supported by kiln's import of this layer`);
    }
  }
}

/** "hardSigmoid" → "hard_sigmoid" (TF.js writes some names in camel case). */
export function snake(s: string): string {
  return s.replace(/([a-z0-9])([A-Z])/g, "$1_$2").toLowerCase();
}

/** The formula a missing activation has in this source, so the error says which one was meant. */
function activationFormula(name: string, flavor: Flavor): string {
  if (name === "hard_sigmoid") return flavor === "keras3" ? " (Keras 3: relu6(x + 3) / 6)" : ` (${flavor === "tfjs" ? "TF.js" : "Keras 2"}: max(0, min(1, 0.2·x + 0.5)))`;
  if (name === "leaky_relu") return " (no fixed slope in this source; use a LeakyReLU layer with alpha 0.2)";
  return "";
}

/** VarianceScaling configs that are one of kiln's named initializers. */
function varianceScaling(cls: string, cfg: Record<string, unknown>): InitializerName | undefined {
  if (cls !== "VarianceScaling") return undefined;
  const { scale, mode, distribution } = cfg;
  const normal = distribution === "normal" || distribution === "truncated_normal";
  if (scale === 1 && mode === "fan_avg") return distribution === "uniform" ? "glorot_uniform" : normal ? "glorot_normal" : undefined;
  if (scale === 2 && mode === "fan_in") return distribution === "uniform" ? "he_uniform" : normal ? "he_normal" : undefined;
  if (scale === 1 && mode === "fan_in" && normal) return "lecun_normal";
  return undefined;
}

/** RandomNormal(0, 0.05) and RandomUniform(±0.05): kiln's random_normal and random_uniform. */
function plainRandom(cls: string, cfg: Record<string, unknown>): InitializerName | undefined {
  if ((cls === "RandomNormal" || cls === "random_normal") && (cfg.mean ?? 0) === 0 && (cfg.stddev ?? 0.05) === 0.05) return "random_normal";
  if ((cls === "RandomUniform" || cls === "random_uniform") && (cfg.minval ?? -0.05) === -0.05 && (cfg.maxval ?? 0.05) === 0.05) return "random_uniform";
  return undefined;
}
