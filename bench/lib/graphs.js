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
 * Forward FLOPs per example of a sequential conv/pool/flatten/dense graph (multiply-adds count 2).
 * Training counts forward + backward = 3× forward (backward: gradient of input and of weights,
 * each as large as the forward), as the issue defines effective FLOP/s.
 */
export function forwardFlops(graph) {
  let shape = graph.inputs[0].shape.slice();
  let flops = 0;
  for (const l of graph.layers) {
    if (l.op === "conv2d") {
      const [kh, kw] = Array.isArray(l.kernel_size) ? l.kernel_size : [l.kernel_size, l.kernel_size];
      const [h, w, c] = shape;
      const oh = h - kh + 1, ow = w - kw + 1;
      flops += 2 * oh * ow * l.filters * kh * kw * c;
      shape = [oh, ow, l.filters];
    } else if (l.op === "max_pooling2d") {
      const p = l.pool_size ?? 2;
      shape = [Math.floor(shape[0] / p), Math.floor(shape[1] / p), shape[2]];
    } else if (l.op === "flatten") {
      shape = [shape.reduce((a, b) => a * b, 1)];
    } else if (l.op === "dense") {
      flops += 2 * shape.reduce((a, b) => a * b, 1) * l.units;
      shape = [...shape.slice(0, -1), l.units];
    } else {
      throw new Error(`forwardFlops: op ${l.op} is not counted`);
    }
  }
  return flops;
}
