/**
 * The Keras layer table: one entry per Keras class kiln imports, saying which kiln op it becomes,
 * how its config arguments become kiln attributes (every argument is read or refused: ArgReader
 * reports what nobody read), and where its weights live in Keras files. An op added to kiln
 * (depthwise, separable, transposed or 1-D convolutions, padding, upsampling, ...) is imported by
 * adding its Keras class here.
 */
import type { Attrs, OpName } from "../frontend/graph-types.js";
import { TIME_DISTRIBUTED_INNER } from "../frontend/ops/wrappers.js";
import { ArgReader, type Flavor } from "./args.js";
import { quote } from "./problems.js";

/** A reader of a config nested in the layer's (Bidirectional's wrapped layer), reporting under the same layer. */
class ArgReaderOf extends ArgReader {
  constructor(outer: ArgReader, config: Record<string, unknown>, sub: string) {
    super(config, outer.label, `${outer.path}/${sub}`, outer.flavor, outer.problems);
  }
}

/** How the layer was called (functional models): its input tensors and the call's keyword arguments. */
export interface CallInfo {
  inputs: string[];
  kwargs: Record<string, unknown>;
}

export interface LayerImport {
  op: OpName;
  /** Config → kiln attributes; undefined after reporting through the reader. */
  attrs(r: ArgReader, call: CallInfo): Attrs | undefined;
  /**
   * kiln weight name → its path under the layer in Keras files, when not the same
   * (Keras 3 `.keras` stores variables by position: "vars/0"; see `kerasVars`).
   */
  weights?: Record<string, string>;
  /**
   * Where TF.js and Keras 2 name a weight differently from Keras 3 (DepthwiseConv2D's
   * "depthwise_kernel"; TimeDistributed's inner weights, which they keep directly under the wrapper).
   */
  legacyWeights?: Record<string, string> | ((name: string) => string);
  /**
   * Where Keras 3's saving code puts each kiln weight, relative to the layer's store path
   * ("vars/0": variables by position, trainable ones first, in the order the layer creates them).
   */
  kerasStore?(attrs: Attrs): Record<string, string>;
  /** The kiln layer's inputs from the call (default: the call's inputs in order). */
  inputs?(call: CallInfo): string[];
}

/** The name of kiln weight `name` under the layer in a file of this flavor that names weights (TF.js, `.h5`). */
export function kerasWeightName(mapping: LayerImport, name: string, flavor: Flavor): string {
  const legacy = flavor === "keras3" ? undefined : typeof mapping.legacyWeights === "function" ? mapping.legacyWeights(name) : mapping.legacyWeights?.[name];
  return legacy ?? mapping.weights?.[name] ?? name;
}

const eq = (x: unknown) => (v: unknown) => v === x;
const isZero = (v: unknown) => v === 0;

/** kiln weight names in Keras's variable order → "<prefix>vars/<i>". */
function vars(names: string[], prefix = ""): Record<string, string> {
  return Object.fromEntries(names.map((n, i) => [n, `${prefix}vars/${i}`]));
}

function biasedVars(a: Attrs): Record<string, string> {
  return vars(a.use_bias === false ? ["kernel"] : ["kernel", "bias"]);
}

const dense: LayerImport = {
  op: "dense",
  attrs(r) {
    const a: Attrs = { units: r.int("units"), activation: r.activation("activation"), use_bias: r.bool("use_bias", true) };
    initializers(r, a, "kernel_initializer", "bias_initializer");
    r.require("lora_rank", isZero, "no LoRA");
    return a;
  },
  kerasStore: biasedVars,
};

const conv2d: LayerImport = {
  op: "conv2d",
  attrs(r) {
    r.channelsLast();
    r.require("groups", eq(1), "groups=1 only");
    const a: Attrs = {
      filters: r.int("filters"), kernel_size: r.intOrPair("kernel_size"), strides: r.intOrPair("strides", 1),
      padding: padding(r), dilation_rate: r.intOrPair("dilation_rate", 1), activation: r.activation("activation"),
      use_bias: r.bool("use_bias", true),
    };
    initializers(r, a, "kernel_initializer", "bias_initializer");
    r.require("lora_rank", isZero, "no LoRA");
    return a;
  },
  kerasStore: biasedVars,
};

function padding(r: ArgReader, causal = false): string | undefined {
  const v = r.get("padding") ?? "valid";
  if (v === "valid" || v === "same" || (causal && v === "causal")) return v;
  r.fail("padding", `padding=${JSON.stringify(v)} is not supported: kiln supports "valid" and "same"${causal ? ' and "causal"' : ""}`);
  return undefined;
}

/** kernel_size, strides, padding, dilation_rate, activation, use_bias: the window arguments Keras's 2-D convolutions share. */
function convWindow(r: ArgReader): Attrs {
  r.channelsLast();
  return {
    kernel_size: r.intOrPair("kernel_size"), strides: r.intOrPair("strides", 1), padding: padding(r),
    dilation_rate: r.intOrPair("dilation_rate", 1), activation: r.activation("activation"), use_bias: r.bool("use_bias", true),
  };
}

/** True when a dilation_rate (int or pair) is 1 on every axis. */
const undilated = (d: unknown) => (Array.isArray(d) ? d : [d]).every((x) => x === 1);

/**
 * TF.js's DepthwiseConv2D and Conv2DTranspose accept a dilation_rate but compute without it
 * (tfjs-layers 4.22 passes no dilation to the kernel): such a file is refused rather than imported
 * with a meaning TF.js does not give it.
 */
function tfjsUndilated(r: ArgReader, a: Attrs, cls: string): void {
  if (r.flavor === "tfjs" && !undilated(a.dilation_rate)) {
    r.fail("dilation_rate", `dilation_rate=${quote(a.dilation_rate)} from TF.js is not supported: tfjs-layers' ${cls} ignores dilation_rate (it computes dilation 1), so the file does not say what it computes`);
  }
}

/** DepthwiseConv2D: Keras 3 names its kernel "kernel", TF.js and Keras 2 "depthwise_kernel" (kiln: kernel [kh, kw, C, m]). */
const depthwiseConv2d: LayerImport = {
  op: "depthwise_conv2d",
  attrs(r) {
    const a: Attrs = { ...convWindow(r), depth_multiplier: r.int("depth_multiplier", 1) };
    r.require("groups", eq(1), "groups=1 only"); // Keras 2 writes Conv2D's groups into its config
    tfjsUndilated(r, a, "DepthwiseConv2D");
    initializers(r, a, "depthwise_initializer", "bias_initializer");
    return a;
  },
  legacyWeights: { kernel: "depthwise_kernel" },
  kerasStore: biasedVars,
};

/** SeparableConv2D: depthwise kernel, pointwise kernel, bias: the same names in Keras 2, Keras 3 and TF.js. */
const separableConv2d: LayerImport = {
  op: "separable_conv2d",
  attrs(r) {
    const a: Attrs = { filters: r.int("filters"), ...convWindow(r), depth_multiplier: r.int("depth_multiplier", 1) };
    r.require("groups", eq(1), "groups=1 only");
    initializers(r, a, "depthwise_initializer", "pointwise_initializer", "bias_initializer");
    return a;
  },
  kerasStore: (a) => vars(a.use_bias === false ? ["depthwise_kernel", "pointwise_kernel"] : ["depthwise_kernel", "pointwise_kernel", "bias"]),
};

/** Conv2DTranspose: kernel [kh, kw, filters, C] in every source; output_padding as Keras 3 (TF.js has none). */
const conv2dTranspose: LayerImport = {
  op: "conv2d_transpose",
  attrs(r) {
    const a: Attrs = { filters: r.int("filters"), ...convWindow(r) };
    const op = r.get("output_padding");
    if (op !== undefined && op !== null) a.output_padding = op;
    r.require("groups", eq(1), "groups=1 only");
    tfjsUndilated(r, a, "Conv2DTranspose");
    initializers(r, a, "kernel_initializer", "bias_initializer");
    return a;
  },
  kerasStore: biasedVars,
};

const conv1d: LayerImport = {
  op: "conv1d",
  attrs(r) {
    r.channelsLast();
    r.require("groups", eq(1), "groups=1 only");
    const a: Attrs = {
      filters: r.int("filters"), kernel_size: r.intOrPair("kernel_size"), strides: r.intOrPair("strides", 1),
      padding: padding(r, true), dilation_rate: r.intOrPair("dilation_rate", 1), activation: r.activation("activation"),
      use_bias: r.bool("use_bias", true),
    };
    if (a.padding === "causal" && r.flavor === "tfjs") {
      // Measured with tfjs-layers 4.22: a causal Conv1D over 10 steps with kernel 3 outputs 8 steps, as "valid" would.
      r.fail("padding", 'padding="causal" from TF.js is not supported: tfjs-layers gives it the output length of "valid", unlike Keras, whose causal padding kiln follows');
    }
    initializers(r, a, "kernel_initializer", "bias_initializer");
    r.require("lora_rank", isZero, "no LoRA");
    return a;
  },
  kerasStore: biasedVars,
};

/** ZeroPadding / Cropping 1-D and 2-D: the amounts as Keras writes them (int, pair, or pairs of pairs). */
function amounts(op: "zero_padding1d" | "zero_padding2d" | "cropping1d" | "cropping2d", key: "padding" | "cropping"): LayerImport {
  return {
    op,
    attrs(r) {
      r.channelsLast();
      const v = r.get(key);
      return v === undefined || v === null ? {} : { [key]: v };
    },
  };
}

const upsampling2d: LayerImport = {
  op: "upsampling2d",
  attrs(r) {
    r.channelsLast();
    const interpolation = r.get("interpolation") ?? "nearest";
    if (interpolation !== "nearest" && interpolation !== "bilinear") {
      r.fail("interpolation", `interpolation=${JSON.stringify(interpolation)} is not supported: kiln supports "nearest" and "bilinear"`);
      return undefined;
    }
    if (interpolation === "bilinear" && r.flavor === "tfjs") {
      // TF.js resizes without half-pixel centres; kiln's bilinear is Keras 3's (spec §2.1).
      r.fail("interpolation", 'interpolation="bilinear" from TF.js is not supported: TF.js resizes without half-pixel centres and kiln follows Keras 3\'s resize; "nearest" imports');
      return undefined;
    }
    return { size: r.intOrPair("size", 2), interpolation };
  },
};

const upsampling1d: LayerImport = { op: "upsampling1d", attrs: (r) => ({ size: r.int("size", 2) }) };
const repeatVector: LayerImport = { op: "repeat_vector", attrs: (r) => ({ n: r.int("n") }) };

const permute: LayerImport = {
  op: "permute",
  attrs(r) {
    const dims = r.get("dims");
    if (Array.isArray(dims) && dims.every((d) => Number.isSafeInteger(d))) return { dims };
    r.fail("dims", `dims must be a list of axes (1 = the first axis of an example); got ${JSON.stringify(dims)}`);
    return undefined;
  },
};

/** Max / average pooling, 1-D and 2-D: the same arguments. */
function pool(op: "max_pooling2d" | "average_pooling2d" | "max_pooling1d" | "average_pooling1d"): LayerImport {
  return {
    op,
    attrs(r) {
      r.channelsLast();
      const a: Attrs = { pool_size: r.intOrPair("pool_size", 2), padding: padding(r) };
      const strides = r.get("strides");
      if (strides !== null && strides !== undefined) a.strides = r.intOrPair("strides");
      return a;
    },
  };
}

function globalPool(op: "global_average_pooling2d" | "global_max_pooling2d" | "global_average_pooling1d" | "global_max_pooling1d"): LayerImport {
  return {
    op,
    attrs(r) {
      r.channelsLast();
      r.require("keepdims", eq(false), "keepdims=false only (output [C])");
      return {};
    },
  };
}

const flatten: LayerImport = {
  op: "flatten",
  attrs(r) {
    r.channelsLast();
    return {};
  },
};

const reshape: LayerImport = {
  op: "reshape",
  attrs(r) {
    const t = r.get("target_shape");
    if (Array.isArray(t) && t.length <= 8 && t.every((d) => d === -1 || d === null || (Number.isSafeInteger(d) && (d as number) >= 1))) {
      return { target_shape: t.map((d) => (d === null ? -1 : d)) };
    }
    r.fail("target_shape", `target_shape must be a list of at most 8 positive integers (one may be -1); got ${JSON.stringify(t)}`);
    return undefined;
  },
};

const activationLayer: LayerImport = { op: "activation", attrs: (r) => ({ activation: r.activation("activation") }) };

const softmax: LayerImport = {
  op: "softmax",
  attrs(r) {
    const axis = singleAxis(r, "axis");
    return axis === undefined ? undefined : { axis };
  },
};

/** An axis given as an int or a list of one int (Keras 2 BatchNormalization, Keras 3 LayerNormalization). */
function singleAxis(r: ArgReader, key: string): number | undefined {
  const v = r.get(key) ?? -1;
  const one = Array.isArray(v) && v.length === 1 ? v[0] : v;
  if (typeof one === "number" && Number.isSafeInteger(one)) return one;
  r.fail(key, `${key} must be one axis (kiln normalizes over one axis); got ${JSON.stringify(v)}`);
  return undefined;
}

/** A number ≥ 0 (or, with `nullable`, null), else reported. */
function nonNegative(r: ArgReader, key: string, dflt: number | null): number | null | undefined {
  const v = r.get(key) ?? dflt;
  if (v === null || (typeof v === "number" && Number.isFinite(v) && v >= 0)) return v;
  r.fail(key, `${key} must be a number >= 0${dflt === null ? " or null" : ""}; got ${quote(v)}`);
  return undefined;
}

/** ReLU layer: kiln's relu op with Keras's three arguments (TF.js writes max_value only). */
const reluLayer: LayerImport = {
  op: "relu",
  attrs(r) {
    const a: Attrs = { max_value: nonNegative(r, "max_value", null), negative_slope: nonNegative(r, "negative_slope", 0), threshold: r.num("threshold", 0) };
    return a.max_value === undefined || a.negative_slope === undefined ? undefined : a;
  },
};

/** ThresholdedReLU (TF.js, Keras 2): x for x > theta, else 0 — Keras's ReLU with threshold = theta (theta defaults to 1). */
const thresholdedRelu: LayerImport = { op: "relu", attrs: (r) => ({ threshold: r.num("theta", 1) }) };

/**
 * LeakyReLU layer: Keras 3 names the slope `negative_slope`, TF.js and Keras 2 `alpha` (Keras 3
 * still accepts it); every source defaults it to 0.3.
 */
const leakyRelu: LayerImport = {
  op: "leaky_relu",
  attrs(r) {
    const key = r.config.negative_slope !== undefined && r.config.negative_slope !== null ? "negative_slope" : "alpha";
    const slope = nonNegative(r, key, 0.3);
    const other = r.get(key === "alpha" ? "negative_slope" : "alpha");
    if (other !== undefined && other !== null && other !== slope) {
      r.fail("alpha", `alpha=${quote(other)} and negative_slope=${quote(slope)} disagree; they name the same slope`);
      return undefined;
    }
    return slope === undefined ? undefined : { negative_slope: slope };
  },
};

const eluLayer: LayerImport = { op: "elu", attrs: (r) => ({ alpha: r.num("alpha", 1) }) };

/** PReLU: the learned alpha (weight "alpha", Keras's shape: the input's with 1 on each shared axis). */
const preluLayer: LayerImport = {
  op: "prelu",
  attrs(r) {
    const v = r.get("shared_axes");
    const shared = typeof v === "number" ? [v] : v; // Keras and TF.js accept one axis as an int
    if (shared !== undefined && shared !== null && !(Array.isArray(shared) && shared.every((x) => Number.isSafeInteger(x)))) {
      r.fail("shared_axes", `shared_axes must be null or a list of axes (1 = the first axis of an example); got ${quote(v)}`);
      return undefined;
    }
    const a: Attrs = { shared_axes: shared ?? null };
    initializers(r, a, "alpha_initializer");
    return a;
  },
  kerasStore: () => vars(["alpha"]),
};

/** A drop rate in [0, 1) (default 0), else reported. */
function rate(r: ArgReader): number | undefined {
  const v = r.num("rate", 0);
  if (v !== undefined && (v < 0 || v >= 1)) {
    r.fail("rate", `rate must lie in [0, 1); got ${v}`);
    return undefined;
  }
  return v;
}

const dropout: LayerImport = {
  op: "dropout",
  attrs(r) {
    r.require("noise_shape", () => false, "noise_shape=null only");
    return { rate: rate(r) };
  },
};

/** SpatialDropout1D / 2D: whole channels dropped in training; identity in predict, as kiln's ops. */
function spatialDropout(op: "spatial_dropout1d" | "spatial_dropout2d"): LayerImport {
  return {
    op,
    attrs(r) {
      if (op === "spatial_dropout2d") r.channelsLast();
      r.require("noise_shape", () => false, "noise_shape=null only (whole channels are dropped)");
      const v = rate(r);
      return v === undefined ? undefined : { rate: v };
    },
  };
}

const gaussianNoise: LayerImport = {
  op: "gaussian_noise",
  attrs(r) {
    const v = r.get("stddev");
    if (typeof v === "number" && Number.isFinite(v) && v >= 0) return { stddev: v };
    r.fail("stddev", `stddev must be a number >= 0; got ${quote(v)}`);
    return undefined;
  },
};

const gaussianDropout: LayerImport = {
  op: "gaussian_dropout",
  attrs(r) {
    const v = rate(r);
    return v === undefined ? undefined : { rate: v };
  },
};

const batchNormalization: LayerImport = {
  op: "batch_normalization",
  attrs(r) {
    const a: Attrs = { axis: singleAxis(r, "axis"), momentum: r.num("momentum", 0.99), epsilon: r.num("epsilon", 0.001) };
    // center=false / scale=false: no beta / gamma, in the file as in kiln's op.
    a.center = r.bool("center", true);
    a.scale = r.bool("scale", true);
    r.require("renorm", eq(false), "renorm=false only");
    r.require("synchronized", eq(false), "synchronized=false only");
    r.require("virtual_batch_size", () => false, "virtual_batch_size=null only");
    r.require("adjustment", () => false, "adjustment=null only");
    initializers(r, a, "beta_initializer", "gamma_initializer", "moving_mean_initializer", "moving_variance_initializer");
    return a;
  },
  kerasStore: (a) => vars([...affineWeights(a), "moving_mean", "moving_variance"]),
};
/** LayerNormalization's axis: one axis, or a list of distinct axes (kiln's layer_normalization takes either; gamma/beta follow the list's order as in Keras). */
function axisOrAxes(r: ArgReader, key: string): number | number[] | undefined {
  const v = r.get(key) ?? -1;
  if (!Array.isArray(v) || v.length === 1) return singleAxis(r, key);
  if (v.length > 0 && v.every((a) => typeof a === "number" && Number.isSafeInteger(a))) return v as number[];
  r.fail(key, `${key} must be an axis or a list of axes; got ${JSON.stringify(v)?.slice(0, 80)}`);
  return undefined;
}

/** The normalizations' gamma and beta in the order Keras 3 creates them, each only when scale / center asks for it. */
const affineWeights = (a: Attrs) => [...(a.scale !== false ? ["gamma"] : []), ...(a.center !== false ? ["beta"] : [])];

const layerNormalization: LayerImport = {
  op: "layer_normalization",
  attrs(r) {
    const a: Attrs = { axis: axisOrAxes(r, "axis"), epsilon: r.num("epsilon", 0.001) };
    a.center = r.bool("center", true);
    a.scale = r.bool("scale", true);
    r.require("rms_scaling", eq(false), "rms_scaling=false only");
    initializers(r, a, "beta_initializer", "gamma_initializer");
    return a;
  },
  kerasStore: (a) => vars(affineWeights(a)),
};

/** GroupNormalization (Keras 3): kiln's op has Keras's center / scale, so no weight is filled in. */
const groupNormalization: LayerImport = {
  op: "group_normalization",
  attrs(r) {
    const groups = r.get("groups") ?? 32;
    if (!(Number.isSafeInteger(groups) && ((groups as number) >= 1 || groups === -1))) {
      r.fail("groups", `groups must be a positive integer or -1; got ${quote(groups)}`);
      return undefined;
    }
    const a: Attrs = { groups, axis: singleAxis(r, "axis"), epsilon: r.num("epsilon", 0.001), center: r.bool("center", true), scale: r.bool("scale", true) };
    initializers(r, a, "beta_initializer", "gamma_initializer");
    return a;
  },
  kerasStore: (a) => vars(affineWeights(a)),
};

/** Dot: `axes` one axis or one per input (Keras counting, 1 = the example's first axis), `normalize` for cosine similarity. */
const dotLayer: LayerImport = {
  op: "dot",
  attrs(r) {
    const axes = r.get("axes");
    const ok = (x: unknown) => Number.isSafeInteger(x);
    if (!(ok(axes) || (Array.isArray(axes) && axes.length === 2 && axes.every(ok)))) {
      r.fail("axes", `axes must be an axis or a list of 2 axes (1 = the first axis of an example); got ${quote(axes)}`);
      return undefined;
    }
    return { axes, normalize: r.bool("normalize", false) };
  },
};

const embedding: LayerImport = {
  op: "embedding",
  attrs(r) {
    r.require("mask_zero", eq(false), "mask_zero=false only (kiln has no masks)");
    r.require("sparse", eq(false), "sparse=false only");
    r.require("lora_rank", isZero, "no LoRA");
    const a: Attrs = { input_dim: r.int("input_dim"), output_dim: r.int("output_dim") };
    initializers(r, a, "embeddings_initializer");
    return a;
  },
  kerasStore: () => vars(["embeddings"]),
};

/** SimpleRNN, LSTM, GRU: kiln's recurrent layers run forward, stateless, returning the last state or all. */
function recurrent(op: "simple_rnn" | "lstm" | "gru"): LayerImport {
  return {
    op,
    attrs(r) {
      const a: Attrs = { units: r.int("units"), return_sequences: r.bool("return_sequences", false) };
      if (op === "simple_rnn") a.activation = r.activation("activation", "tanh");
      else {
        r.require("activation", (v) => v === "tanh", `activation "tanh" only`);
        r.require("recurrent_activation", (v) => v === "sigmoid", `recurrent_activation "sigmoid" only (TF.js defaults to hard_sigmoid: build it with recurrentActivation: "sigmoid")`);
      }
      // TF.js's GRU is always reset_after=false; Keras files always write the argument.
      if (op === "gru") a.reset_after = r.bool("reset_after", r.flavor !== "tfjs");
      a.go_backwards = r.bool("go_backwards", false);
      r.require("use_bias", eq(true), "use_bias=true only");
      r.require("return_state", eq(false), "return_state=false only");
      r.require("stateful", eq(false), "stateful=false only");
      r.require("time_major", eq(false), "time_major=false only");
      r.trainingOnly("dropout", isZero, "kiln's recurrent layers have no input dropout");
      r.trainingOnly("recurrent_dropout", isZero, "kiln's recurrent layers have no recurrent dropout");
      r.get("unit_forget_bias"); // only decides the initial bias, which the file's weights replace
      initializers(r, a, "kernel_initializer", "recurrent_initializer", "bias_initializer");
      return a;
    },
    // The variables belong to the layer's cell: layers/lstm/cell/vars/0..2.
    kerasStore: () => vars(RECURRENT_WEIGHTS, "cell/"),
  };
}

/** A recurrent layer's weights in the order its Keras cell creates them (Keras 3 stores them by that position). */
const RECURRENT_WEIGHTS = ["kernel", "recurrent_kernel", "bias"];

/** The one definition of the recurrent classes: the layer table's entries and the layers Bidirectional wraps. */
const RECURRENT_CLASSES: Record<string, LayerImport> = Object.assign(Object.create(null), {
  SimpleRNN: recurrent("simple_rnn"), LSTM: recurrent("lstm"), GRU: recurrent("gru"),
});

/** Keras names the inner layer; kiln's inner name must follow kiln's name rule. */
function innerName(v: unknown, fallback: string): string {
  const n = typeof v === "string" && v.length ? v : fallback;
  let base = n.replace(/[^A-Za-z0-9_]/g, "_");
  if (!/^[A-Za-z_]/.test(base)) base = `k_${base}`;
  return base.slice(0, 64);
}

/**
 * Bidirectional(layer): the wrapped SimpleRNN / LSTM / GRU read by its own table entry; a
 * backward_layer, when the file has one (Keras 3 writes it), must be the same layer run backwards.
 */
const bidirectional: LayerImport = {
  op: "bidirectional",
  attrs(r, call) {
    const inner = r.get("layer") as { class_name?: unknown; config?: unknown } | undefined;
    const mapping = typeof inner?.class_name === "string" ? RECURRENT_CLASSES[inner.class_name] : undefined;
    if (!inner || !mapping || typeof inner.config !== "object" || inner.config === null || Array.isArray(inner.config)) {
      r.fail("layer", `the wrapped layer must be one of ${Object.keys(RECURRENT_CLASSES).join(", ")}; got ${JSON.stringify(inner?.class_name ?? inner)}`);
      return undefined;
    }
    const cfg = inner.config as Record<string, unknown>;
    const ir = new ArgReaderOf(r, cfg, "layer/config");
    const attrs = mapping.attrs(ir, call);
    ir.finish();
    const mergeMode = r.get("merge_mode") ?? "concat";
    if (mergeMode === null || !["concat", "sum", "mul", "ave"].includes(mergeMode as string)) {
      r.fail("merge_mode", `merge_mode=${JSON.stringify(mergeMode)} is not supported: kiln supports "concat", "sum", "mul", "ave" (a kiln layer has one output)`);
      return undefined;
    }
    const backward = r.get("backward_layer") as { class_name?: unknown; config?: Record<string, unknown> } | undefined | null;
    if (backward) {
      const same = backward.class_name === inner.class_name && backward.config !== undefined &&
        Object.keys({ ...cfg, ...backward.config }).every((k) => k === "name" || k === "go_backwards" || JSON.stringify(cfg[k]) === JSON.stringify(backward.config![k])) &&
        backward.config.go_backwards === !(cfg.go_backwards ?? false);
      if (!same) r.fail("backward_layer", "a backward_layer that is not the wrapped layer run backwards is not supported: kiln's backward copy is the same layer with go_backwards negated");
    }
    if (!attrs) return undefined;
    return { layer: { op: mapping.op, name: innerName(cfg.name, mapping.op), ...attrs }, merge_mode: mergeMode };
  },
  // Keras 3 keeps the two copies as sublayers forward_layer and backward_layer, each with its cell.
  kerasStore(a) {
    const inner = a.layer as { name: string };
    return Object.fromEntries(["forward", "backward"].flatMap((dir) =>
      Object.entries(vars(RECURRENT_WEIGHTS, `${dir}_layer/cell/`)).map(([w, place]) => [`${dir}_${inner.name}/${w}`, place])));
  },
};

/** The Keras class's mapping when kiln's time_distributed can wrap its op (Dense, Conv2D, the pools, Flatten, ...). */
function wrappableByTimeDistributed(className: unknown): LayerImport | undefined {
  const mapping = typeof className === "string" ? KERAS_LAYERS[className] : undefined;
  return mapping && Object.hasOwn(TIME_DISTRIBUTED_INNER, mapping.op) ? mapping : undefined;
}

/** The table entry for a kiln op (the first class mapping to it: aliases and ThresholdedReLU share their op's weights, none). */
export function layerImportOf(op: string): LayerImport | undefined {
  return Object.values(KERAS_LAYERS).find((m) => m.op === op);
}

/**
 * TimeDistributed(layer): the wrapped layer read by its own table entry, for every class whose
 * kiln op time_distributed wraps (TIME_DISTRIBUTED_INNER); any other class is refused.
 * Weights: kiln `<inner name>/kernel`; TF.js and Keras 2 keep them directly under the wrapper
 * (`td/kernel`: the inner layers with weights, Dense, Conv1D and Conv2D, name them alike in every
 * flavor), Keras 3 stores the wrapped layer as the sublayer `layer` (`layer/vars/0`).
 */
const timeDistributed: LayerImport = {
  op: "time_distributed",
  attrs(r, call) {
    const inner = r.get("layer") as { class_name?: unknown; config?: unknown } | undefined;
    const mapping = wrappableByTimeDistributed(inner?.class_name);
    if (!inner || !mapping || typeof inner.config !== "object" || inner.config === null || Array.isArray(inner.config)) {
      const classes = Object.keys(KERAS_LAYERS).filter((c) => wrappableByTimeDistributed(c));
      r.fail("layer", `kiln's time_distributed wraps ${classes.join(", ")}; got ${quote(inner?.class_name ?? inner)} (a model that applies it per step needs the steps folded into the batch before the layer)`);
      return undefined;
    }
    const cfg = inner.config as Record<string, unknown>;
    const ir = new ArgReaderOf(r, cfg, "layer/config");
    const attrs = mapping.attrs(ir, call);
    ir.finish();
    return attrs && { layer: { op: mapping.op, name: innerName(cfg.name, mapping.op), ...attrs } };
  },
  legacyWeights: (name) => name.slice(name.indexOf("/") + 1),
  kerasStore: (a) => {
    const inner = a.layer as Attrs;
    const places = layerImportOf(inner.op as string)?.kerasStore?.(inner) ?? {};
    return Object.fromEntries(Object.entries(places).map(([w, place]) => [`${inner.name as string}/${w}`, `layer/${place}`]));
  },
};

const multiHeadAttention: LayerImport = {
  op: "multi_head_attention",
  attrs(r, call) {
    const a: Attrs = { num_heads: r.int("num_heads"), key_dim: r.int("key_dim") };
    const vd = r.get("value_dim");
    if (vd !== null && vd !== undefined) a.value_dim = r.int("value_dim");
    r.require("use_bias", eq(true), "use_bias=true only");
    r.require("output_shape", () => false, "output_shape=null only (output size = the query's)");
    r.require("attention_axes", (v) => Array.isArray(v) && v.length === 1 && (v[0] === 1 || v[0] === -2), "attention over the sequence axis only (attention_axes null or [1])");
    r.trainingOnly("dropout", isZero, "kiln's attention has no dropout");
    r.get("flash_attention");
    initializers(r, a, "kernel_initializer", "bias_initializer");
    if (call.kwargs.use_causal_mask === true) a.causal = true;
    return a;
  },
  weights: {
    "query/kernel": "query/kernel", "query/bias": "query/bias", "key/kernel": "key/kernel", "key/bias": "key/bias",
    "value/kernel": "value/kernel", "value/bias": "value/bias",
    "attention_output/kernel": "attention_output/kernel", "attention_output/bias": "attention_output/bias",
  },
  // Keras 3 keeps the four projections as EinsumDense sublayers _query_dense, _key_dense, _value_dense, _output_dense.
  kerasStore: () => ({
    "query/kernel": "_query_dense/vars/0", "query/bias": "_query_dense/vars/1", "key/kernel": "_key_dense/vars/0", "key/bias": "_key_dense/vars/1",
    "value/kernel": "_value_dense/vars/0", "value/bias": "_value_dense/vars/1",
    "attention_output/kernel": "_output_dense/vars/0", "attention_output/bias": "_output_dense/vars/1",
  }),
  inputs: (call) => {
    // Keras calls mha(query, value, key); self-attention (all the same tensor) is kiln's [query].
    const [q, v = q, k = v] = call.inputs;
    return q === v && v === k ? [q!] : k === v ? [q!, v!] : [q!, v!, k!];
  },
};

const positionEmbedding: LayerImport = {
  op: "position_embedding",
  attrs(r) {
    const a: Attrs = { sequence_length: r.int("sequence_length") };
    const init = r.initializer("initializer");
    if (init) a.initializer = init;
    return a;
  },
  kerasStore: () => vars(["embeddings"]),
};

function merge(op: "add" | "multiply" | "average" | "maximum" | "minimum" | "subtract"): LayerImport {
  return { op, attrs: () => ({}) };
}

const concatenate: LayerImport = {
  op: "concatenate",
  attrs(r) {
    const axis = singleAxis(r, "axis");
    return axis === undefined ? undefined : { axis };
  },
};

function initializers(r: ArgReader, a: Attrs, ...keys: string[]): void {
  for (const k of keys) {
    const init = r.initializer(k);
    if (init) a[k] = init;
  }
}

/** Keras class name → how kiln imports it. A null-prototype map: a class name from a file is a key. */
export const KERAS_LAYERS: Record<string, LayerImport> = Object.assign(Object.create(null) as Record<string, LayerImport>, {
  Dense: dense,
  Conv2D: conv2d, Convolution2D: conv2d,
  DepthwiseConv2D: depthwiseConv2d,
  SeparableConv2D: separableConv2d, SeparableConvolution2D: separableConv2d,
  Conv2DTranspose: conv2dTranspose, Convolution2DTranspose: conv2dTranspose,
  MaxPooling2D: pool("max_pooling2d"), MaxPool2D: pool("max_pooling2d"),
  AveragePooling2D: pool("average_pooling2d"), AvgPool2D: pool("average_pooling2d"),
  GlobalAveragePooling2D: globalPool("global_average_pooling2d"), GlobalAvgPool2D: globalPool("global_average_pooling2d"),
  GlobalMaxPooling2D: globalPool("global_max_pooling2d"), GlobalMaxPool2D: globalPool("global_max_pooling2d"),
  Conv1D: conv1d, Convolution1D: conv1d,
  MaxPooling1D: pool("max_pooling1d"), MaxPool1D: pool("max_pooling1d"),
  AveragePooling1D: pool("average_pooling1d"), AvgPool1D: pool("average_pooling1d"),
  GlobalAveragePooling1D: globalPool("global_average_pooling1d"), GlobalAvgPool1D: globalPool("global_average_pooling1d"),
  GlobalMaxPooling1D: globalPool("global_max_pooling1d"), GlobalMaxPool1D: globalPool("global_max_pooling1d"),
  UpSampling1D: upsampling1d, UpSampling2D: upsampling2d,
  ZeroPadding1D: amounts("zero_padding1d", "padding"), ZeroPadding2D: amounts("zero_padding2d", "padding"),
  Cropping1D: amounts("cropping1d", "cropping"), Cropping2D: amounts("cropping2d", "cropping"),
  RepeatVector: repeatVector,
  Permute: permute,
  Flatten: flatten,
  Reshape: reshape,
  Activation: activationLayer,
  Softmax: softmax,
  ReLU: reluLayer,
  ThresholdedReLU: thresholdedRelu,
  LeakyReLU: leakyRelu,
  ELU: eluLayer,
  PReLU: preluLayer,
  Dropout: dropout,
  SpatialDropout1D: spatialDropout("spatial_dropout1d"), SpatialDropout2D: spatialDropout("spatial_dropout2d"),
  GaussianNoise: gaussianNoise, GaussianDropout: gaussianDropout,
  BatchNormalization: batchNormalization,
  LayerNormalization: layerNormalization,
  GroupNormalization: groupNormalization,
  Embedding: embedding,
  ...RECURRENT_CLASSES,
  Bidirectional: bidirectional,
  TimeDistributed: timeDistributed,
  MultiHeadAttention: multiHeadAttention,
  PositionEmbedding: positionEmbedding,
  Add: merge("add"), Multiply: merge("multiply"), Average: merge("average"),
  Maximum: merge("maximum"), Minimum: merge("minimum"), Subtract: merge("subtract"),
  Concatenate: concatenate,
  Dot: dotLayer,
});

/** Classes that are models: flattened into the graph. */
export const MODEL_CLASSES = new Set(["Sequential", "Functional", "Model"]);

/** What would work instead, for classes kiln refuses that people often meet. */
export const REFUSED_HINTS: Record<string, string> = Object.assign(Object.create(null), {
  Lambda: "a Lambda layer is Python code; rewrite it as kiln layers",
  TFOpLambda: "a TensorFlow op recorded as a layer is Python code; rewrite it as kiln layers",
  AlphaDropout: "kiln has no alpha dropout (its training noise keeps SELU's mean and variance); it does nothing in predict, so removing the layer keeps predictions (GaussianDropout or Dropout train differently)",
  Rescaling: "scale the inputs before predict",
  Normalization: "normalize the inputs before predict",
});
