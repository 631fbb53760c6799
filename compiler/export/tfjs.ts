/**
 * kiln graph + safetensors weights → a TensorFlow.js layers model: `model.json` (a functional
 * "Model" config in the snake-case form tfjs-layers' model.save writes, Keras 2 style
 * `inbound_nodes`) and one weight shard, loadable by `tf.loadLayersModel`. One entry per kiln op
 * in TFJS_EXPORT; an op TF.js has no layer for (or computes differently: GRU reset_after, which
 * TF.js lacks) refuses the export, naming the layer.
 */
import { KilnError, type Diagnostic } from "../frontend/diagnostics.js";
import { checkGraph } from "../frontend/index.js";
import type { Attrs, Graph, Layer, OpName } from "../frontend/graph-types.js";
import { asFloat32, readSafetensors } from "../../runtime/safetensors.js";
import { KERAS_LAYERS, kerasWeightName } from "../import/layers.js";
import { wrappedLayer } from "./keras.js";

/** What a kiln layer is in TF.js: class and config, or the reason TF.js cannot express it. */
type TfjsLayer = { className: string; config: Record<string, unknown> } | string;

/** kiln activation → TF.js activation identifier. leaky_relu has none (an `activation` layer becomes LeakyReLU). */
const ACTIVATION: Record<string, string> = Object.assign(Object.create(null), {
  linear: "linear", relu: "relu", sigmoid: "sigmoid", tanh: "tanh", softmax: "softmax", gelu: "gelu", elu: "elu", silu: "swish", softplus: "softplus",
  relu6: "relu6", selu: "selu", mish: "mish", log_softmax: "logSoftmax",
  // TF.js's hardSigmoid is clip(0.2·x + 0.5, 0, 1): kiln's hard_sigmoid_legacy (Keras 3's hard_sigmoid has no TF.js name).
  hard_sigmoid_legacy: "hardSigmoid",
});

function act(a: Attrs): string | undefined {
  return ACTIVATION[a.activation as string];
}

/** kiln's per-example axis (or list of axes, layer_normalization) as Keras counts it. */
const kerasAxis = (a: Attrs) => (Array.isArray(a.axis) ? (a.axis as number[]).map((i) => i + 1) : (a.axis as number) + 1);
const noActivation = (l: Layer) => `${l.op} with activation "${l.attrs.activation as string}": TF.js has no such activation name`;

const merge = (className: string) => (): TfjsLayer => ({ className, config: {} });

/** SimpleRNN / LSTM / GRU config (also inside Bidirectional); TF.js's GRU is reset_after=false only. */
function recurrentLayer(op: "simple_rnn" | "lstm" | "gru", a: Attrs, l: Layer): TfjsLayer {
  const common = { units: a.units, return_sequences: a.return_sequences, go_backwards: a.go_backwards ?? false };
  if (op === "simple_rnn") return act(a) ? { className: "SimpleRNN", config: { ...common, activation: act(a) } } : noActivation(l);
  if (op === "lstm") return { className: "LSTM", config: { ...common, activation: "tanh", recurrent_activation: "sigmoid" } };
  if (a.reset_after !== false) return "TF.js's GRU computes reset_after=false only; this gru is reset_after=true";
  return { className: "GRU", config: { ...common, activation: "tanh", recurrent_activation: "sigmoid", reset_after: false } };
}

/** A layer whose kernel TF.js computes without dilation (DepthwiseConv2D, Conv2DTranspose): refused when kiln's is dilated. */
const dilated = (l: Layer) => (l.attrs.dilation_rate as number[]).some((d) => d !== 1);

/** The window arguments of kiln's 2-D convolutions, as TF.js's config writes them. */
const window = (a: Attrs) => ({ kernel_size: a.kernel_size, strides: a.strides, padding: a.padding, data_format: "channels_last", activation: act(a), use_bias: a.use_bias });

/** kiln's shared_axes (0 = the example's first axis) → Keras's (1 = the first), null when none. */
const kerasAxes = (axes: number[]) => (axes.length ? axes.map((i) => i + 1) : null);

/** TF.js's ReLU has max_value only; a threshold alone is its ThresholdedReLU (x for x > theta). */
function reluLayer(a: Attrs): TfjsLayer {
  if (a.negative_slope !== 0) return "TF.js's ReLU has no negative_slope; this relu sets it";
  if (a.threshold === 0) return { className: "ReLU", config: { max_value: a.max_value } };
  if (a.max_value === null) return { className: "ThresholdedReLU", config: { theta: a.threshold } };
  return "TF.js's ReLU has no threshold and its ThresholdedReLU no max_value; this relu sets both";
}

export const TFJS_EXPORT: Record<OpName, (l: Layer) => TfjsLayer> = {
  dense: (l) => act(l.attrs) ? { className: "Dense", config: { units: l.attrs.units, activation: act(l.attrs), use_bias: l.attrs.use_bias } } : noActivation(l),
  conv2d: (l) => act(l.attrs) ? {
    className: "Conv2D",
    config: { filters: l.attrs.filters, kernel_size: l.attrs.kernel_size, strides: l.attrs.strides, padding: l.attrs.padding, data_format: "channels_last", dilation_rate: l.attrs.dilation_rate, activation: act(l.attrs), use_bias: l.attrs.use_bias },
  } : noActivation(l),
  max_pooling2d: (l) => ({ className: "MaxPooling2D", config: { pool_size: l.attrs.pool_size, strides: l.attrs.strides, padding: l.attrs.padding, data_format: "channels_last" } }),
  average_pooling2d: (l) => ({ className: "AveragePooling2D", config: { pool_size: l.attrs.pool_size, strides: l.attrs.strides, padding: l.attrs.padding, data_format: "channels_last" } }),
  global_average_pooling2d: () => ({ className: "GlobalAveragePooling2D", config: { data_format: "channels_last" } }),
  global_max_pooling2d: () => ({ className: "GlobalMaxPooling2D", config: { data_format: "channels_last" } }),
  flatten: () => ({ className: "Flatten", config: {} }),
  reshape: (l) => ({ className: "Reshape", config: { target_shape: l.attrs.target_shape } }),
  activation: (l) => l.attrs.activation === "leaky_relu" ? { className: "LeakyReLU", config: { alpha: 0.2 } }
    : act(l.attrs) ? { className: "Activation", config: { activation: act(l.attrs) } } : noActivation(l),
  softmax: (l) => ({ className: "Softmax", config: { axis: kerasAxis(l.attrs) } }),
  dropout: (l) => ({ className: "Dropout", config: { rate: l.attrs.rate } }),
  batch_normalization: (l) => ({ className: "BatchNormalization", config: { axis: kerasAxis(l.attrs), momentum: l.attrs.momentum, epsilon: l.attrs.epsilon, center: l.attrs.center, scale: l.attrs.scale } }),
  layer_normalization: (l) => ({ className: "LayerNormalization", config: { axis: kerasAxis(l.attrs), epsilon: l.attrs.epsilon, center: l.attrs.center, scale: l.attrs.scale } }),
  embedding: (l) => ({ className: "Embedding", config: { input_dim: l.attrs.input_dim, output_dim: l.attrs.output_dim } }),
  position_embedding: () => "TF.js has no position embedding layer",
  simple_rnn: (l) => recurrentLayer("simple_rnn", l.attrs, l),
  lstm: (l) => recurrentLayer("lstm", l.attrs, l),
  gru: (l) => recurrentLayer("gru", l.attrs, l),
  bidirectional: (l) => {
    const inner = l.attrs.layer as { op: "simple_rnn" | "lstm" | "gru"; name: string; attrs: Attrs };
    const t = recurrentLayer(inner.op, inner.attrs, l);
    return typeof t === "string" ? t : { className: "Bidirectional", config: { layer: { class_name: t.className, config: { ...t.config, name: inner.name } }, merge_mode: l.attrs.merge_mode } };
  },
  multi_head_attention: () => "TF.js has no MultiHeadAttention layer",
  add: merge("Add"), multiply: merge("Multiply"), average: merge("Average"), maximum: merge("Maximum"), minimum: merge("Minimum"),
  subtract: () => "TF.js has no Subtract layer",
  concatenate: (l) => ({ className: "Concatenate", config: { axis: kerasAxis(l.attrs) } }),
  conv1d: (l) => l.attrs.padding === "causal" ? "tfjs-layers gives causal padding the output length of \"valid\", unlike Keras and kiln" : act(l.attrs) ? {
    className: "Conv1D",
    config: { filters: l.attrs.filters, kernel_size: [l.attrs.kernel_size], strides: [l.attrs.strides], padding: l.attrs.padding, data_format: "channels_last", dilation_rate: [l.attrs.dilation_rate], activation: act(l.attrs), use_bias: l.attrs.use_bias },
  } : noActivation(l),
  max_pooling1d: (l) => ({ className: "MaxPooling1D", config: { pool_size: [l.attrs.pool_size], strides: [l.attrs.strides], padding: l.attrs.padding } }),
  average_pooling1d: (l) => ({ className: "AveragePooling1D", config: { pool_size: [l.attrs.pool_size], strides: [l.attrs.strides], padding: l.attrs.padding } }),
  global_average_pooling1d: () => ({ className: "GlobalAveragePooling1D", config: {} }),
  global_max_pooling1d: () => ({ className: "GlobalMaxPooling1D", config: {} }),
  upsampling2d: (l) => l.attrs.interpolation === "nearest" ? { className: "UpSampling2D", config: { size: l.attrs.size, data_format: "channels_last", interpolation: "nearest" } }
    : "TF.js's bilinear UpSampling2D resizes without half-pixel centres; kiln's bilinear is Keras 3's",
  upsampling1d: () => "TF.js has no UpSampling1D layer",
  zero_padding2d: (l) => ({ className: "ZeroPadding2D", config: { padding: l.attrs.padding, data_format: "channels_last" } }),
  zero_padding1d: () => "TF.js has no ZeroPadding1D layer",
  cropping2d: (l) => ({ className: "Cropping2D", config: { cropping: l.attrs.cropping, data_format: "channels_last" } }),
  cropping1d: () => "TF.js has no Cropping1D layer",
  repeat_vector: (l) => ({ className: "RepeatVector", config: { n: l.attrs.n } }),
  permute: (l) => ({ className: "Permute", config: { dims: l.attrs.dims } }),
  depthwise_conv2d: (l) => !act(l.attrs) ? noActivation(l) : dilated(l) ? "tfjs-layers' DepthwiseConv2D ignores dilation_rate; this layer is dilated"
    : { className: "DepthwiseConv2D", config: { ...window(l.attrs), depth_multiplier: l.attrs.depth_multiplier, dilation_rate: l.attrs.dilation_rate } },
  separable_conv2d: (l) => !act(l.attrs) ? noActivation(l)
    : { className: "SeparableConv2D", config: { filters: l.attrs.filters, ...window(l.attrs), depth_multiplier: l.attrs.depth_multiplier, dilation_rate: l.attrs.dilation_rate } },
  conv2d_transpose: (l) => !act(l.attrs) ? noActivation(l) : dilated(l) ? "tfjs-layers' Conv2DTranspose ignores dilation_rate; this layer is dilated"
    : l.attrs.output_padding !== null ? "tfjs-layers' Conv2DTranspose has no output_padding; this layer sets it"
    : { className: "Conv2DTranspose", config: { filters: l.attrs.filters, ...window(l.attrs) } },
  relu: (l) => reluLayer(l.attrs),
  leaky_relu: (l) => ({ className: "LeakyReLU", config: { alpha: l.attrs.negative_slope } }),
  elu: (l) => l.attrs.alpha === 1 ? { className: "ELU", config: { alpha: 1 } } : `tfjs-layers' ELU refuses any alpha but 1; this elu has alpha ${l.attrs.alpha as number}`,
  prelu: (l) => ({ className: "PReLU", config: { shared_axes: kerasAxes(l.attrs.shared_axes as number[]) } }),
  time_distributed: (l) => {
    const inner = wrappedLayer(l);
    const t = TFJS_EXPORT[inner.op](inner);
    if (typeof t === "string") return `inner layer ${inner.name}: ${t}`;
    return { className: "TimeDistributed", config: { layer: { class_name: t.className, config: { ...t.config, name: inner.name, trainable: l.trainable } } } };
  },
  group_normalization: () => "TF.js has no GroupNormalization layer",
  dot: (l) => ({ className: "Dot", config: { axes: (l.attrs.axes as number[]).map((i) => i + 1), normalize: l.attrs.normalize } }),
  spatial_dropout1d: (l) => ({ className: "SpatialDropout1D", config: { rate: l.attrs.rate } }),
  spatial_dropout2d: () => "TF.js has no SpatialDropout2D layer",
  gaussian_noise: (l) => ({ className: "GaussianNoise", config: { stddev: l.attrs.stddev } }),
  gaussian_dropout: (l) => ({ className: "GaussianDropout", config: { rate: l.attrs.rate } }),
};

/** The model.json text and its one shard (`group1-shard1of1.bin`). */
export interface TfjsExport {
  modelJson: string;
  shardName: string;
  shard: Uint8Array;
}

export function exportTfjs(graphInput: string | unknown, weightsBytes: Uint8Array): TfjsExport {
  const graph: Graph = checkGraph(graphInput);
  const problems: Diagnostic[] = [];
  const layers: Record<string, unknown>[] = graph.inputs.map((i) => ({
    name: i.name, class_name: "InputLayer",
    config: { batch_input_shape: [null, ...i.shape], dtype: i.dtype, sparse: false, name: i.name }, inbound_nodes: [],
  }));
  const classOf = new Map<string, string>();
  for (const l of graph.layers) {
    const t = TFJS_EXPORT[l.op](l);
    if (typeof t === "string") {
      problems.push({ code: "export", path: l.path, layer: l.name, message: `cannot export ${l.op} to TF.js: ${t}` });
      continue;
    }
    classOf.set(l.name, t.className);
    layers.push({
      name: l.name, class_name: t.className,
      config: { ...t.config, name: l.name, trainable: l.trainable },
      inbound_nodes: [l.inputs.map((src) => [src, 0, 0, {}])],
    });
  }
  if (problems.length) throw new KilnError(problems);
  const st = readSafetensors(weightsBytes);
  const specs: { name: string; shape: number[]; dtype: string }[] = [];
  const parts: Float32Array[] = [];
  for (const l of graph.layers) for (const w of l.weights) {
    const t = st.tensors.get(w.fullName);
    if (!t || t.shape.length !== w.shape.length || t.shape.some((d, i) => d !== w.shape[i])) {
      problems.push({ code: "export", path: w.fullName, layer: l.name, message: t ? `weight has shape [${t.shape.join(", ")}] in the weights file; the graph needs [${w.shape.join(", ")}]` : "weight missing from the weights file" });
      continue;
    }
    // TF.js loads weights by name: "<layer>/<its Keras 2 weight name>" (DepthwiseConv2D's depthwise_kernel).
    const mapping = KERAS_LAYERS[classOf.get(l.name)!];
    specs.push({ name: mapping ? `${l.name}/${kerasWeightName(mapping, w.name, "tfjs")}` : w.fullName, shape: w.shape, dtype: "float32" });
    parts.push(asFloat32(t, w.fullName));
  }
  if (problems.length) throw new KilnError(problems);
  const shard = new Uint8Array(parts.reduce((n, p) => n + p.byteLength, 0));
  const view = new DataView(shard.buffer);
  let o = 0;
  for (const p of parts) for (const v of p) (view.setFloat32(o, v, true), (o += 4));
  const shardName = "group1-shard1of1.bin";
  const modelJson = JSON.stringify({
    modelTopology: {
      class_name: "Model",
      config: { name: graph.name, layers, input_layers: graph.inputs.map((i) => [i.name, 0, 0]), output_layers: graph.outputs.map((o) => [o, 0, 0]) },
      keras_version: "tfjs-layers 4.22.0",
      backend: "tensor_flow.js",
    },
    format: "layers-model",
    generatedBy: "kiln export",
    convertedBy: null,
    weightsManifest: [{ paths: [shardName], weights: specs }],
  });
  return { modelJson, shardName, shard };
}
