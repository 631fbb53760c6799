/**
 * kiln graph + weights → a Keras 3 `.keras` file, with the layout Keras 3's saving code writes
 * (keras/src/saving/saving_lib.py): a zip of metadata.json, config.json (a functional model,
 * Keras 3's serialized form, `compile_config` when the graph trains) and model.weights.h5 with
 * each layer's variables at `layers/<snake case class>[_n]/vars/<i>` (the places the importer reads,
 * from the same layer table). Written from Keras's source: not checked against Keras itself here.
 */
import { strToU8, zipSync } from "fflate";
import { KilnError, type Diagnostic } from "../frontend/diagnostics.js";
import { checkGraph } from "../frontend/index.js";
import type { Attrs, Graph, Layer, LossSpec, MetricSpec, OpName } from "../frontend/graph-types.js";
import { METRIC_TYPES } from "../frontend/metrics.js";
import { asFloat32, readSafetensors } from "../../runtime/safetensors.js";
import { KERAS_LAYERS } from "../import/layers.js";
import { kerasSnakeCase } from "../import/topology.js";

/** The Keras version whose saving layout this follows (written into metadata.json). */
export const KERAS_LAYOUT_VERSION = "3.6.0";

type KerasLayer = { className: string; config: Record<string, unknown>; module?: string; registeredName?: string; kwargs?: Record<string, unknown> } | string;

/** kiln activation → Keras 3's name, same formula. hard_sigmoid_legacy has none: Keras 3's hard_sigmoid is relu6(x + 3) / 6. */
const ACTIVATION: Record<string, string> = Object.assign(Object.create(null), {
  linear: "linear", relu: "relu", sigmoid: "sigmoid", tanh: "tanh", softmax: "softmax", gelu: "gelu", elu: "elu", silu: "silu", softplus: "softplus", leaky_relu: "leaky_relu",
  relu6: "relu6", hard_sigmoid: "hard_sigmoid", hard_silu: "hard_silu", mish: "mish", selu: "selu", exponential: "exponential", log_softmax: "log_softmax",
});

/** The layer's Keras class, or the refusal when its activation has no Keras 3 name. */
function activated(l: Layer, build: (activation: string) => KerasLayer): KerasLayer {
  const a = ACTIVATION[l.attrs.activation as string];
  return a ? build(a) : `${l.op} with activation "${l.attrs.activation as string}": Keras 3 has no activation with that formula (its hard_sigmoid is relu6(x + 3) / 6)`;
}

/** The window arguments of kiln's 2-D convolutions, as Keras 3's config writes them. */
const window = (a: Attrs, activation: string) => ({
  kernel_size: a.kernel_size, strides: a.strides, padding: a.padding, data_format: "channels_last", dilation_rate: a.dilation_rate, activation, use_bias: a.use_bias,
});

/** kiln's per-example axis (or list of axes, layer_normalization) as Keras counts it. */
const axis = (l: Layer) => (Array.isArray(l.attrs.axis) ? (l.attrs.axis as number[]).map((i) => i + 1) : (l.attrs.axis as number) + 1);
/** time_distributed's inner layer as a layer of its own (its attributes are the inner config's), for the export tables. */
export function wrappedLayer(l: Layer): Layer {
  const inner = l.attrs.layer as Attrs & { op: OpName; name: string };
  return { ...l, op: inner.op, name: inner.name, attrs: inner };
}
const merge = (className: string) => (): KerasLayer => ({ className, config: {} });

function recurrentLayer(op: "simple_rnn" | "lstm" | "gru", a: Attrs): { className: string; config: Record<string, unknown> } {
  const common = { units: a.units, use_bias: true, return_sequences: a.return_sequences, go_backwards: a.go_backwards ?? false };
  if (op === "simple_rnn") return { className: "SimpleRNN", config: { ...common, activation: ACTIVATION[a.activation as string] } };
  if (op === "lstm") return { className: "LSTM", config: { ...common, activation: "tanh", recurrent_activation: "sigmoid" } };
  return { className: "GRU", config: { ...common, activation: "tanh", recurrent_activation: "sigmoid", reset_after: a.reset_after !== false } };
}

/** One entry per kiln op: its Keras 3 class and config. */
export const KERAS_EXPORT: Record<OpName, (l: Layer) => KerasLayer> = {
  dense: (l) => activated(l, (activation) => ({ className: "Dense", config: { units: l.attrs.units, activation, use_bias: l.attrs.use_bias } })),
  conv2d: (l) => activated(l, (activation) => ({ className: "Conv2D", config: { filters: l.attrs.filters, kernel_size: l.attrs.kernel_size, strides: l.attrs.strides, padding: l.attrs.padding, data_format: "channels_last", dilation_rate: l.attrs.dilation_rate, groups: 1, activation, use_bias: l.attrs.use_bias } })),
  max_pooling2d: (l) => ({ className: "MaxPooling2D", config: { pool_size: l.attrs.pool_size, strides: l.attrs.strides, padding: l.attrs.padding, data_format: "channels_last" } }),
  average_pooling2d: (l) => ({ className: "AveragePooling2D", config: { pool_size: l.attrs.pool_size, strides: l.attrs.strides, padding: l.attrs.padding, data_format: "channels_last" } }),
  global_average_pooling2d: () => ({ className: "GlobalAveragePooling2D", config: { data_format: "channels_last", keepdims: false } }),
  global_max_pooling2d: () => ({ className: "GlobalMaxPooling2D", config: { data_format: "channels_last", keepdims: false } }),
  flatten: () => ({ className: "Flatten", config: { data_format: "channels_last" } }),
  reshape: (l) => ({ className: "Reshape", config: { target_shape: l.attrs.target_shape } }),
  activation: (l) => activated(l, (activation) => ({ className: "Activation", config: { activation } })),
  softmax: (l) => ({ className: "Softmax", config: { axis: axis(l) } }),
  dropout: (l) => ({ className: "Dropout", config: { rate: l.attrs.rate, noise_shape: null, seed: null } }),
  batch_normalization: (l) => ({ className: "BatchNormalization", config: { axis: axis(l), momentum: l.attrs.momentum, epsilon: l.attrs.epsilon, center: l.attrs.center, scale: l.attrs.scale } }),
  layer_normalization: (l) => ({ className: "LayerNormalization", config: { axis: axis(l), epsilon: l.attrs.epsilon, center: l.attrs.center, scale: l.attrs.scale, rms_scaling: false } }),
  embedding: (l) => ({ className: "Embedding", config: { input_dim: l.attrs.input_dim, output_dim: l.attrs.output_dim, mask_zero: false } }),
  position_embedding: (l) => ({ className: "PositionEmbedding", module: "keras_hub.layers", registeredName: "keras_hub>PositionEmbedding", config: { sequence_length: l.attrs.sequence_length } }),
  simple_rnn: (l) => activated(l, () => recurrentLayer("simple_rnn", l.attrs)),
  lstm: (l) => recurrentLayer("lstm", l.attrs),
  gru: (l) => recurrentLayer("gru", l.attrs),
  bidirectional: (l) => {
    const inner = l.attrs.layer as { op: "simple_rnn" | "lstm" | "gru"; name: string; attrs: Attrs };
    if (inner.op === "simple_rnn" && !ACTIVATION[inner.attrs.activation as string]) return activated({ ...l, op: inner.op, attrs: inner.attrs }, () => "");
    const t = recurrentLayer(inner.op, inner.attrs);
    return { className: "Bidirectional", config: { layer: { module: "keras.layers", class_name: t.className, config: { ...t.config, name: inner.name }, registered_name: null }, merge_mode: l.attrs.merge_mode } };
  },
  multi_head_attention: (l) => ({
    className: "MultiHeadAttention",
    config: { num_heads: l.attrs.num_heads, key_dim: l.attrs.key_dim, value_dim: l.attrs.value_dim, dropout: 0, use_bias: true, output_shape: null, attention_axes: null },
    kwargs: l.attrs.causal ? { use_causal_mask: true } : {},
  }),
  add: merge("Add"), multiply: merge("Multiply"), average: merge("Average"), maximum: merge("Maximum"), minimum: merge("Minimum"), subtract: merge("Subtract"),
  concatenate: (l) => ({ className: "Concatenate", config: { axis: axis(l) } }),
  conv1d: (l) => activated(l, (activation) => ({ className: "Conv1D", config: { filters: l.attrs.filters, kernel_size: [l.attrs.kernel_size], strides: [l.attrs.strides], padding: l.attrs.padding, data_format: "channels_last", dilation_rate: [l.attrs.dilation_rate], groups: 1, activation, use_bias: l.attrs.use_bias } })),
  max_pooling1d: (l) => ({ className: "MaxPooling1D", config: { pool_size: [l.attrs.pool_size], strides: [l.attrs.strides], padding: l.attrs.padding, data_format: "channels_last" } }),
  average_pooling1d: (l) => ({ className: "AveragePooling1D", config: { pool_size: [l.attrs.pool_size], strides: [l.attrs.strides], padding: l.attrs.padding, data_format: "channels_last" } }),
  global_average_pooling1d: () => ({ className: "GlobalAveragePooling1D", config: { data_format: "channels_last", keepdims: false } }),
  global_max_pooling1d: () => ({ className: "GlobalMaxPooling1D", config: { data_format: "channels_last", keepdims: false } }),
  upsampling2d: (l) => ({ className: "UpSampling2D", config: { size: l.attrs.size, data_format: "channels_last", interpolation: l.attrs.interpolation } }),
  upsampling1d: (l) => ({ className: "UpSampling1D", config: { size: l.attrs.size } }),
  zero_padding2d: (l) => ({ className: "ZeroPadding2D", config: { padding: l.attrs.padding, data_format: "channels_last" } }),
  zero_padding1d: (l) => ({ className: "ZeroPadding1D", config: { padding: l.attrs.padding } }),
  cropping2d: (l) => ({ className: "Cropping2D", config: { cropping: l.attrs.cropping, data_format: "channels_last" } }),
  cropping1d: (l) => ({ className: "Cropping1D", config: { cropping: l.attrs.cropping } }),
  repeat_vector: (l) => ({ className: "RepeatVector", config: { n: l.attrs.n } }),
  permute: (l) => ({ className: "Permute", config: { dims: l.attrs.dims } }),
  depthwise_conv2d: (l) => activated(l, (act) => ({ className: "DepthwiseConv2D", config: { ...window(l.attrs, act), depth_multiplier: l.attrs.depth_multiplier } })),
  separable_conv2d: (l) => activated(l, (act) => ({ className: "SeparableConv2D", config: { filters: l.attrs.filters, ...window(l.attrs, act), depth_multiplier: l.attrs.depth_multiplier } })),
  conv2d_transpose: (l) => activated(l, (act) => ({ className: "Conv2DTranspose", config: { filters: l.attrs.filters, ...window(l.attrs, act), output_padding: l.attrs.output_padding } })),
  relu: (l) => ({ className: "ReLU", config: { max_value: l.attrs.max_value, negative_slope: l.attrs.negative_slope, threshold: l.attrs.threshold } }),
  leaky_relu: (l) => ({ className: "LeakyReLU", config: { negative_slope: l.attrs.negative_slope } }),
  elu: (l) => ({ className: "ELU", config: { alpha: l.attrs.alpha } }),
  prelu: (l) => ({ className: "PReLU", config: { shared_axes: (l.attrs.shared_axes as number[]).length ? (l.attrs.shared_axes as number[]).map((i) => i + 1) : null } }),
  time_distributed: (l) => {
    const inner = wrappedLayer(l);
    const k = KERAS_EXPORT[inner.op](inner);
    if (typeof k === "string") return `inner layer ${inner.name}: ${k}`;
    return {
      className: "TimeDistributed",
      config: { layer: { module: k.module ?? "keras.layers", class_name: k.className, config: { name: inner.name, trainable: l.trainable, dtype: "float32", ...k.config }, registered_name: k.registeredName ?? null } },
    };
  },
  group_normalization: (l) => ({ className: "GroupNormalization", config: { groups: l.attrs.groups, axis: axis(l), epsilon: l.attrs.epsilon, center: l.attrs.center, scale: l.attrs.scale } }),
  dot: (l) => ({ className: "Dot", config: { axes: (l.attrs.axes as number[]).map((i) => i + 1), normalize: l.attrs.normalize } }),
  spatial_dropout1d: (l) => ({ className: "SpatialDropout1D", config: { rate: l.attrs.rate, seed: null } }),
  spatial_dropout2d: (l) => ({ className: "SpatialDropout2D", config: { rate: l.attrs.rate, data_format: "channels_last", seed: null } }),
  gaussian_noise: (l) => ({ className: "GaussianNoise", config: { stddev: l.attrs.stddev, seed: null } }),
  gaussian_dropout: (l) => ({ className: "GaussianDropout", config: { rate: l.attrs.rate, seed: null } }),
};

const MERGES = new Set<OpName>(["add", "multiply", "average", "maximum", "minimum", "subtract", "concatenate", "dot"]);

/** The `.keras` file's bytes. */
export async function exportKeras(graphInput: string | unknown, weightsBytes: Uint8Array): Promise<Uint8Array> {
  const graph: Graph = checkGraph(graphInput);
  const shapes = new Map<string, number[]>([...graph.inputs.map((i) => [i.name, i.shape] as const), ...graph.layers.map((l) => [l.name, l.shape] as const)]);
  const dtypes = new Map(graph.inputs.map((i) => [i.name, i.dtype]));
  const tensor = (name: string) => ({ class_name: "__keras_tensor__", config: { shape: [null, ...shapes.get(name)!], dtype: dtypes.get(name) ?? "float32", keras_history: [name, 0, 0] } });
  const problems: Diagnostic[] = [];
  const used = new Map<string, number>();
  const storeOf = (className: string) => {
    const base = kerasSnakeCase(className);
    const n = used.has(base) ? used.get(base)! + 1 : 0;
    used.set(base, n);
    return `layers/${n ? `${base}_${n}` : base}`;
  };
  const layers: Record<string, unknown>[] = graph.inputs.map((i) => {
    storeOf("InputLayer");
    return { module: "keras.layers", class_name: "InputLayer", config: { batch_shape: [null, ...i.shape], dtype: i.dtype, sparse: false, name: i.name }, registered_name: null, name: i.name, inbound_nodes: [] };
  });
  const stores: { layer: Layer; className: string; store: string }[] = [];
  for (const l of graph.layers) {
    const k = KERAS_EXPORT[l.op](l);
    if (typeof k === "string") {
      problems.push({ code: "export", path: l.path, layer: l.name, message: `cannot export ${l.op} to Keras: ${k}` });
      continue;
    }
    stores.push({ layer: l, className: k.className, store: storeOf(k.className) });
    const args = MERGES.has(l.op) ? [l.inputs.map(tensor)] : l.inputs.map(tensor);
    layers.push({
      module: k.module ?? "keras.layers", class_name: k.className, registered_name: k.registeredName ?? null,
      config: { name: l.name, trainable: l.trainable, dtype: "float32", ...k.config },
      build_config: { input_shape: l.inputs.length === 1 ? [null, ...shapes.get(l.inputs[0]!)!] : l.inputs.map((i) => [null, ...shapes.get(i)!]) },
      name: l.name, inbound_nodes: [{ args, kwargs: k.kwargs ?? {} }],
    });
  }
  if (problems.length) throw new KilnError(problems);
  const st = readSafetensors(weightsBytes);
  const vars: [string, number[], Float32Array][] = [];
  for (const { layer, className, store } of stores) {
    const places = KERAS_LAYERS[className]!.kerasStore?.(layer.attrs) ?? {};
    for (const w of layer.weights) {
      const t = st.tensors.get(w.fullName);
      if (!t || t.shape.length !== w.shape.length || t.shape.some((d, i) => d !== w.shape[i])) {
        problems.push({ code: "export", path: w.fullName, layer: layer.name, message: t ? `weight has shape [${t.shape.join(", ")}]; the graph needs [${w.shape.join(", ")}]` : "weight missing from the weights file" });
        continue;
      }
      vars.push([`${store}/${places[w.name]}`, w.shape, asFloat32(t, w.fullName)]);
    }
  }
  if (problems.length) throw new KilnError(problems);
  const config: Record<string, unknown> = {
    module: "keras.src.models.functional", class_name: "Functional", registered_name: "Functional",
    config: { name: graph.name, trainable: true, layers, input_layers: graph.inputs.map((i) => [i.name, 0, 0]), output_layers: graph.outputs.map((o) => [o, 0, 0]) },
  };
  if (graph.training) config.compile_config = compileConfig(graph);
  const h5 = await writeStore(vars, stores.map((s) => s.store));
  return zipSync({
    "metadata.json": strToU8(JSON.stringify({ keras_version: KERAS_LAYOUT_VERSION, date_saved: "kiln export" })),
    "config.json": strToU8(JSON.stringify(config)),
    "model.weights.h5": h5,
  });
}

const OPTIMIZER_CLASS: Record<string, string> = { sgd: "SGD", adam: "Adam", adamw: "AdamW", rmsprop: "RMSprop" };
const LOSS_CLASS: Record<string, string> = {
  mean_squared_error: "MeanSquaredError", mean_absolute_error: "MeanAbsoluteError", binary_crossentropy: "BinaryCrossentropy",
  categorical_crossentropy: "CategoricalCrossentropy", sparse_categorical_crossentropy: "SparseCategoricalCrossentropy",
};

function compileConfig(graph: Graph): Record<string, unknown> {
  const t = graph.training!;
  const { type, ...hyper } = t.optimizer;
  const lossConfig = (l: LossSpec) => l.type.endsWith("crossentropy")
    ? { module: "keras.losses", class_name: LOSS_CLASS[l.type], config: { name: l.type, reduction: "sum_over_batch_size", from_logits: l.from_logits }, registered_name: null }
    : l.type;
  const several = t.losses.length > 1;
  const byOutput = <T>(f: (l: LossSpec) => T) => Object.fromEntries(t.losses.map((l) => [l.output, f(l)]));
  // Metrics by name (a metric with non-default arguments is written as its type: Keras's defaults apply).
  const metricName = (m: MetricSpec) => ((METRIC_TYPES as readonly string[]).includes(m.name) ? m.name : m.type);
  const metrics = several ? byOutput((l) => t.metrics.filter((m) => m.output === l.output).map(metricName)) : t.metrics.map(metricName);
  const weighted = t.losses.some((l) => l.weight !== 1);
  return {
    optimizer: { module: "keras.optimizers", class_name: OPTIMIZER_CLASS[type], config: { name: type, ...hyper }, registered_name: null },
    loss: several ? byOutput(lossConfig) : lossConfig(t.loss),
    loss_weights: weighted ? (several ? byOutput((l) => l.weight) : t.loss.weight) : null,
    metrics: t.metrics.length ? metrics : null, weighted_metrics: null, run_eagerly: false, steps_per_execution: 1, jit_compile: false,
  };
}

async function writeStore(vars: [string, number[], Float32Array][], layerStores: string[]): Promise<Uint8Array> {
  const lib = await import("h5wasm");
  await lib.ready;
  const FS = lib.FS as unknown as { readFile(p: string): Uint8Array; unlink(p: string): void };
  const path = `/kiln-export-${Date.now()}-${Math.floor(Math.random() * 1e9)}.h5`;
  const f = new lib.File(path, "w");
  try {
    const group = (p: string) => {
      let at: InstanceType<typeof lib.Group> = f;
      for (const part of p.split("/")) {
        // keys() first: get() of a missing path makes the HDF5 library print its error stack.
        if (!at.keys().includes(part)) at.create_group(part);
        at = at.get(part) as InstanceType<typeof lib.Group>;
      }
      return at;
    };
    for (const s of layerStores) group(`${s}/vars`);
    for (const [p, shape, data] of vars) {
      const cut = p.lastIndexOf("/");
      group(p.slice(0, cut)).create_dataset({ name: p.slice(cut + 1), data, shape, dtype: "<f" });
    }
    group("optimizer/vars");
  } finally {
    f.close();
  }
  const bytes = new Uint8Array(FS.readFile(path));
  FS.unlink(path);
  return bytes;
}
