/**
 * The benchmark's model graphs (the seed CNN and the examples come from examples/; the MLP and
 * the matmul are defined here) and FLOP counts from layer shapes, for effective FLOP/s.
 * The FLOP count walks the ops of the examples and of issue 19's networks (lib/real-models.js).
 */
import { readFileSync, readdirSync, existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

export const ROOT = fileURLToPath(new URL("../../", import.meta.url));

export function readGraph(relPath) {
  return JSON.parse(readFileSync(ROOT + relPath, "utf8"));
}

/** Every examples/<name>/graph.json that exists when the benchmark runs. */
export function exampleGraphs() {
  const dir = ROOT + "examples/";
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(`${dir}${d.name}/graph.json`))
    .map((d) => ({ name: d.name, path: `examples/${d.name}/graph.json` }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** The zoo's graphs (examples/zoo/graphs/<model>.json, written by examples/zoo/generate.mjs). */
export function zooGraphs() {
  const dir = ROOT + "examples/zoo/graphs/";
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith(".json"))
    .map((f) => ({ name: `zoo/${f.slice(0, -5)}`, path: `examples/zoo/graphs/${f}` }))
    .sort((a, b) => a.name.localeCompare(b.name));
}

/** MLP 784-512-512-10 (relu, softmax), trained with plain SGD on sparse class ids. */
export const mlpGraph = {
  format: "kiln.graph/v2", name: "bench_mlp", seed: 3,
  inputs: [{ name: "x", shape: [784] }],
  targets: [{ name: "label", shape: [], dtype: "int32" }],
  layers: [
    { name: "fc1", op: "dense", units: 512, activation: "relu" },
    { name: "fc2", op: "dense", units: 512, activation: "relu" },
    { name: "out", op: "dense", units: 10, activation: "softmax" },
  ],
  training: {
    loss: { type: "sparse_categorical_crossentropy", output: "out", target: "label" },
    optimizer: { type: "sgd", learning_rate: 0.01 },
  },
};

/** One 512×512 dense layer without bias: predict at batch 512 is a 512³ matmul plus I/O copies. */
export const matmulGraph = {
  format: "kiln.graph/v2", name: "bench_matmul", seed: 5,
  inputs: [{ name: "x", shape: [512] }],
  layers: [{ name: "mm", op: "dense", units: 512, use_bias: false }],
};

/** A graph without its training section (the inference-only module). */
export function inferenceOnly(graph) {
  const { training: _dropped, targets: _t, ...rest } = graph;
  return rest;
}

/**
 * Forward FLOPs per example: the multiply-adds of the matmul-shaped work (conv2d, dense, LSTM
 * gates, attention projections, scores and weighted sums), 2 FLOP each (1 multiply + 1 add).
 * Lookups (embedding), element-wise ops (add, activations, softmax, normalization) and pooling
 * count 0; causal attention counts the full T×T scores, as Keras computes them before masking;
 * conv2d counts the direct algorithm (kiln's Winograd kernels do fewer multiplications, so its
 * "FLOP/s" there is effective, not executed). Training counts forward + backward = 3× forward
 * (backward: gradient of input and of weights, each as large as the forward), as the issue
 * defines effective FLOP/s. `include(layer)`: count only the layers it accepts (e.g. the trainable
 * ones: a frozen backbone's fine-tuning step is its forward pass plus 2 × the head's FLOPs).
 */
export function forwardFlops(graph, include = () => true) {
  const shapes = Object.create(null); // layer or input name → shape per example
  for (const i of graph.inputs) shapes[i.name] = i.shape.slice();
  let previous = graph.inputs[0].name, flops = 0;
  const size = (s) => s.reduce((a, b) => a * b, 1);
  const pair = (v, d) => (v === undefined ? [d, d] : typeof v === "number" ? [v, v] : v);
  /** [H', W'] of a window op (conv, depthwise, pooling): TensorFlow's "valid" and "same" sizes. */
  const windowOut = ([h, w], k, s, d, padding) => [0, 1].map((i) => {
    const n = [h, w][i];
    return padding === "same" ? Math.ceil(n / s[i]) : Math.floor((n - (d[i] * (k[i] - 1) + 1)) / s[i]) + 1;
  });
  for (const l of graph.layers) {
    const before = flops;
    const ins = (l.inputs ?? [previous]).map((i) => shapes[i]);
    const shape = ins[0];
    let out = shape;
    if (l.op === "conv2d" || l.op === "depthwise_conv2d") {
      const k = pair(l.kernel_size), [h, w, c] = shape;
      const [oh, ow] = windowOut([h, w], k, pair(l.strides, 1), pair(l.dilation_rate, 1), l.padding ?? "valid");
      // Depthwise: each output channel reads one input channel (kh·kw multiply-adds per output).
      const perOutput = l.op === "conv2d" ? k[0] * k[1] * c : k[0] * k[1];
      out = [oh, ow, l.op === "conv2d" ? l.filters : c * (l.depth_multiplier ?? 1)];
      flops += 2 * oh * ow * out[2] * perOutput;
    } else if (l.op === "max_pooling2d" || l.op === "average_pooling2d") {
      const k = pair(l.pool_size, 2);
      out = [...windowOut(shape, k, pair(l.strides ?? l.pool_size, 2), [1, 1], l.padding ?? "valid"), shape[2]];
    } else if (l.op === "zero_padding2d") {
      const p = l.padding ?? 1;
      const [[t, b], [le, r]] = typeof p === "number" ? [[p, p], [p, p]] : p.map((v) => (typeof v === "number" ? [v, v] : v));
      out = [shape[0] + t + b, shape[1] + le + r, shape[2]];
    } else if (l.op === "global_average_pooling2d" || l.op === "global_max_pooling2d") {
      out = [shape[2]];
    } else if (l.op === "concatenate") {
      out = [...shape.slice(0, -1), ins.reduce((sum, s) => sum + s[s.length - 1], 0)];
    } else if (l.op === "flatten") {
      out = [size(shape)];
    } else if (l.op === "dense") {
      flops += 2 * size(shape) * l.units;
      out = [...shape.slice(0, -1), l.units];
    } else if (l.op === "embedding") {
      out = [...shape, l.output_dim];
    } else if (l.op === "lstm") {
      const [t, f] = shape, u = l.units;
      flops += t * 2 * 4 * u * (f + u); // four gates from [x_t, h_{t-1}] each step
      out = l.return_sequences ? [t, u] : [u];
    } else if (l.op === "multi_head_attention") {
      const [t, d] = shape, hk = l.num_heads * l.key_dim, hv = l.num_heads * (l.value_dim ?? l.key_dim);
      flops += 2 * t * d * (2 * hk + hv) + 2 * t * hv * d; // Q, K, V and output projections
      flops += 2 * l.num_heads * t * t * (l.key_dim + (l.value_dim ?? l.key_dim)); // scores and weighted sum
    } else if (!["add", "position_embedding", "layer_normalization", "batch_normalization", "activation", "relu"].includes(l.op)) {
      throw new Error(`forwardFlops: op ${l.op} is not counted`);
    }
    if (!include(l)) flops = before;
    shapes[l.name] = out;
    previous = l.name;
  }
  return flops;
}
