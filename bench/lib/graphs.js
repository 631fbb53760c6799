/**
 * The benchmark's model graphs (the seed CNN and the examples come from examples/; the MLP and
 * the matmul are defined here) and FLOP counts from layer shapes, for effective FLOP/s.
 * Only the sequential ops the peers are built from are walked: conv2d (valid, stride 1),
 * max_pooling2d, flatten, dense.
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
 * defines effective FLOP/s.
 */
export function forwardFlops(graph) {
  const shapes = Object.create(null); // layer or input name → shape per example
  for (const i of graph.inputs) shapes[i.name] = i.shape.slice();
  let previous = graph.inputs[0].name, flops = 0;
  const size = (s) => s.reduce((a, b) => a * b, 1);
  for (const l of graph.layers) {
    const shape = shapes[(l.inputs ?? [previous])[0]];
    let out = shape;
    if (l.op === "conv2d") {
      if ((l.padding ?? "valid") !== "valid" || ![].concat(l.strides ?? 1).every((v) => v === 1)) throw new Error(`forwardFlops: ${l.name} is not a valid, stride-1 conv2d`);
      const [kh, kw] = Array.isArray(l.kernel_size) ? l.kernel_size : [l.kernel_size, l.kernel_size];
      const [h, w, c] = shape;
      out = [h - kh + 1, w - kw + 1, l.filters];
      flops += 2 * out[0] * out[1] * l.filters * kh * kw * c;
    } else if (l.op === "max_pooling2d") {
      const p = l.pool_size ?? 2;
      out = [Math.floor(shape[0] / p), Math.floor(shape[1] / p), shape[2]];
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
    } else if (!["add", "position_embedding", "layer_normalization"].includes(l.op)) {
      throw new Error(`forwardFlops: op ${l.op} is not counted`);
    }
    shapes[l.name] = out;
    previous = l.name;
  }
  return flops;
}
