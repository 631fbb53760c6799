/**
 * Whole-graph checks of the interpreter: gradients of the loss w.r.t. every weight and input
 * against finite differences on small graphs mixing all ops; the spec's seed CNN at batch 32;
 * freezing; default wiring; and errors that name the layer / weight / input at fault.
 */

import { describe, expect, it } from "vitest";
import { RawLayer } from "./attrs.js";
import { finiteDifferences, referenceGradients } from "./gradients.js";
import { RefGraph, runReference } from "./interpret.js";
import { lossTensor } from "./losses.js";
import { makeRng } from "./prng.js";

const rng = makeRng(31337);

type Weights = Record<string, Float64Array>;

function makeWeights(shapes: Record<string, number[]>, scale = 0.5): Weights {
  const w: Weights = {};
  for (const [name, shape] of Object.entries(shapes)) {
    const n = shape.reduce((a, b) => a * b, 1);
    w[name] = name.endsWith("variance") || name.endsWith("gamma") ? rng.array(n, 0.5, 1.5) : rng.array(n, -scale, scale);
  }
  return w;
}

function lossOnly(graph: RefGraph, w: Weights, inputs: Record<string, ArrayLike<number>>, targets: Record<string, ArrayLike<number>>, batch: number, masks?: Record<string, Float64Array>): number {
  const spec = graph.training!.loss;
  const run = runReference(graph, w, inputs, batch, { training: true, dropoutMasks: masks });
  const info = graph.targets!.find((t) => t.name === spec.target)!;
  return lossTensor(spec.type, run.values[spec.output], targets[spec.target], [batch, ...info.shape], spec.from_logits).data[0];
}

/** Checks up to `per` random elements of every gradient (weights and float inputs) by central differences. */
function checkGradients(graph: RefGraph, w: Weights, inputs: Record<string, Float64Array>, targets: Record<string, ArrayLike<number>>, batch: number, masks?: Record<string, Float64Array>, per = 6): void {
  const r = referenceGradients(graph, w, inputs, targets, batch, { dropoutMasks: masks, inputGrads: true });
  expect(Number.isFinite(r.loss)).toBe(true);
  const pools: [string, Record<string, Float64Array>, Record<string, Float64Array>][] = [["weight", w, r.grads], ["input", inputs, r.inputGrads ?? {}]];
  for (const [kind, values, grads] of pools) {
    for (const [name, g] of Object.entries(grads)) {
      const x = values[name];
      const picks = [...Array(Math.min(per, x.length)).keys()].map(() => rng.int(x.length));
      for (const i of picks) {
        const [numeric] = finiteDifferences((v) => {
          const keep = x[i];
          x[i] = v[0];
          const l = lossOnly(graph, w, inputs, targets, batch, masks);
          x[i] = keep;
          return l;
        }, Float64Array.of(x[i]), 1e-5);
        expect(Math.abs(g[i] - numeric), `${kind} ${name}[${i}]`).toBeLessThan(2e-7 * Math.max(1, Math.abs(numeric)));
      }
    }
  }
}

const layer = (l: RawLayer) => l;

describe("whole-graph gradients vs finite differences", () => {
  it("conv / batch norm (training) / pools / dropout / dense softmax with sparse crossentropy", () => {
    const graph: RefGraph = {
      inputs: [{ name: "img", shape: [6, 6, 2] }],
      targets: [{ name: "y", shape: [], dtype: "int32" }],
      layers: [
        layer({ name: "c1", op: "conv2d", filters: 3, kernel_size: 3, padding: "same", activation: "elu" }),
        layer({ name: "bn", op: "batch_normalization" }),
        layer({ name: "p1", op: "max_pooling2d", pool_size: 2 }),
        layer({ name: "c2", op: "conv2d", filters: 4, kernel_size: 2, activation: "gelu" }),
        layer({ name: "p2", op: "average_pooling2d", pool_size: 2, padding: "same" }),
        layer({ name: "g", op: "global_max_pooling2d", inputs: ["c2"] }),
        layer({ name: "f", op: "flatten", inputs: ["p2"] }),
        layer({ name: "cat", op: "concatenate", inputs: ["f", "g"] }),
        layer({ name: "drop", op: "dropout", rate: 0.3 }),
        layer({ name: "out", op: "dense", units: 3, activation: "softmax" }),
      ],
      training: { loss: { type: "sparse_categorical_crossentropy", output: "out", target: "y" } },
    };
    const w = makeWeights({
      "c1/kernel": [3, 3, 2, 3], "c1/bias": [3], "bn/gamma": [3], "bn/beta": [3], "bn/moving_mean": [3], "bn/moving_variance": [3],
      "c2/kernel": [2, 2, 3, 4], "c2/bias": [4], "out/kernel": [8, 3], "out/bias": [3],
    });
    const masks = { drop: Float64Array.from({ length: 3 * 8 }, () => (rng.next() < 0.7 ? 1 : 0)) };
    checkGradients(graph, w, { img: rng.array(3 * 72) }, { y: [0, 2, 1] }, 3, masks);
  });

  it("embedding / position_embedding / layer norm / causal attention / gru / lstm with logits crossentropy", () => {
    const graph: RefGraph = {
      inputs: [{ name: "tok", shape: [4], dtype: "int32" }],
      targets: [{ name: "y", shape: [4] }],
      layers: [
        layer({ name: "emb", op: "embedding", input_dim: 10, output_dim: 6 }),
        layer({ name: "pos", op: "position_embedding", sequence_length: 5 }),
        layer({ name: "sum", op: "add", inputs: ["emb", "pos"] }),
        layer({ name: "ln", op: "layer_normalization" }),
        layer({ name: "att", op: "multi_head_attention", num_heads: 2, key_dim: 3, causal: true, inputs: ["ln"] }),
        layer({ name: "res", op: "add", inputs: ["sum", "att"] }),
        layer({ name: "gru", op: "gru", units: 4, return_sequences: true }),
        layer({ name: "lstm", op: "lstm", units: 3 }),
        layer({ name: "out", op: "dense", units: 4 }),
      ],
      training: { loss: { type: "categorical_crossentropy", output: "out", target: "y", from_logits: true } },
    };
    const w = makeWeights({
      "emb/embeddings": [10, 6], "pos/embeddings": [5, 6], "ln/gamma": [6], "ln/beta": [6],
      "att/query/kernel": [6, 2, 3], "att/query/bias": [2, 3], "att/key/kernel": [6, 2, 3], "att/key/bias": [2, 3],
      "att/value/kernel": [6, 2, 3], "att/value/bias": [2, 3], "att/attention_output/kernel": [2, 3, 6], "att/attention_output/bias": [6],
      "gru/kernel": [6, 12], "gru/recurrent_kernel": [4, 12], "gru/bias": [2, 12],
      "lstm/kernel": [4, 12], "lstm/recurrent_kernel": [3, 12], "lstm/bias": [12], "out/kernel": [3, 4], "out/bias": [4],
    }, 0.8);
    const y = [0.1, 0.2, 0.3, 0.4, 1, 0, 0, 0];
    checkGradients(graph, w, { tok: Float64Array.from([1, 9, 4, 4, 0, 2, 7, 3]) }, { y }, 2);
  });

  it("two inputs, rnn + rank-3 dense + merges + softmax axis + reshape, binary crossentropy with target [] vs output [1]", () => {
    const graph: RefGraph = {
      inputs: [{ name: "a", shape: [3, 4] }, { name: "b", shape: [3, 4] }],
      targets: [{ name: "y", shape: [] }],
      layers: [
        layer({ name: "rnn", op: "simple_rnn", units: 5, return_sequences: true, inputs: ["a"] }),
        layer({ name: "db", op: "dense", units: 5, activation: "silu", inputs: ["b"] }),
        layer({ name: "sub", op: "subtract", inputs: ["rnn", "db"] }),
        layer({ name: "mul", op: "multiply", inputs: ["rnn", "db", "sub"] }),
        layer({ name: "mx", op: "maximum", inputs: ["rnn", "db"] }),
        layer({ name: "mn", op: "minimum", inputs: ["mul", "sub"] }),
        layer({ name: "avg", op: "average", inputs: ["mx", "mn", "rnn"] }),
        layer({ name: "sm", op: "softmax", axis: 1 }),
        layer({ name: "cat", op: "concatenate", axis: 1, inputs: ["sm", "avg"] }),
        layer({ name: "rs", op: "reshape", target_shape: [-1, 10] }),
        layer({ name: "act", op: "activation", activation: "leaky_relu" }),
        layer({ name: "sp", op: "activation", activation: "softplus" }),
        layer({ name: "fl", op: "flatten" }),
        layer({ name: "out", op: "dense", units: 1, activation: "sigmoid" }),
      ],
      training: { loss: { type: "binary_crossentropy", output: "out", target: "y" } },
    };
    const w = makeWeights({
      "rnn/kernel": [4, 5], "rnn/recurrent_kernel": [5, 5], "rnn/bias": [5], "db/kernel": [4, 5], "db/bias": [5],
      "out/kernel": [30, 1], "out/bias": [1],
    });
    checkGradients(graph, w, { a: rng.array(2 * 12), b: rng.array(2 * 12) }, { y: [1, 0] }, 2);
  });
});

const SEED_CNN: RefGraph = {
  format: "kiln.graph/v2",
  name: "mnist_cnn",
  inputs: [{ name: "image", shape: [28, 28, 1] }],
  targets: [{ name: "label", shape: [], dtype: "int32" }],
  layers: [
    { name: "conv1", op: "conv2d", filters: 32, kernel_size: 3, activation: "relu" },
    { name: "pool1", op: "max_pooling2d", pool_size: 2 },
    { name: "conv2", op: "conv2d", filters: 64, kernel_size: 3, activation: "relu" },
    { name: "pool2", op: "max_pooling2d", pool_size: 2 },
    { name: "conv3", op: "conv2d", filters: 64, kernel_size: 3, activation: "relu" },
    { name: "flat", op: "flatten" },
    { name: "fc1", op: "dense", units: 64, activation: "relu" },
    { name: "probs", op: "dense", units: 10, activation: "softmax" },
  ],
  outputs: ["probs"],
  training: {
    loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "label" },
    optimizer: { type: "adam", learning_rate: 0.001 },
    metrics: ["accuracy"],
  },
};

describe("the spec's seed CNN at batch 32", () => {
  it("runs forward and backward with complete, finite gradients", () => {
    const glorot = (fanIn: number, fanOut: number) => Math.sqrt(6 / (fanIn + fanOut));
    const shapes: Record<string, [number[], number]> = {
      "conv1/kernel": [[3, 3, 1, 32], glorot(9, 288)], "conv2/kernel": [[3, 3, 32, 64], glorot(288, 576)],
      "conv3/kernel": [[3, 3, 64, 64], glorot(576, 576)], "fc1/kernel": [[576, 64], glorot(576, 64)], "probs/kernel": [[64, 10], glorot(64, 10)],
      "conv1/bias": [[32], 0.01], "conv2/bias": [[64], 0.01], "conv3/bias": [[64], 0.01], "fc1/bias": [[64], 0.01], "probs/bias": [[10], 0.01],
    };
    const w: Weights = {};
    for (const [name, [shape, lim]] of Object.entries(shapes)) w[name] = rng.array(shape.reduce((a, b) => a * b, 1), -lim, lim);
    const image = rng.array(32 * 784, 0, 1);
    const label = Array.from({ length: 32 }, () => rng.int(10));
    const r = referenceGradients(SEED_CNN, w, { image }, { label }, 32);
    const probs = r.run.outputs.probs;
    expect(probs.shape).toEqual([32, 10]);
    for (let n = 0; n < 32; n++) expect(probs.data.slice(n * 10, n * 10 + 10).reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(r.loss).toBeGreaterThan(0);
    expect(r.metrics.accuracy).toBeGreaterThanOrEqual(0);
    expect(Object.keys(r.grads).sort()).toEqual(Object.keys(shapes).sort());
    for (const [name, g] of Object.entries(r.grads)) {
      expect(g.length).toBe(w[name].length);
      expect(g.every(Number.isFinite)).toBe(true);
      expect(g.some((v) => v !== 0)).toBe(true);
    }
    // Spot-check a few elements with central differences on the first 4 examples (cheaper forwards).
    const small = { image: image.slice(0, 4 * 784) }, smallLabel = { label: label.slice(0, 4) };
    const r4 = referenceGradients(SEED_CNN, w, small, smallLabel, 4);
    for (const [name, i] of [["probs/bias", 3], ["conv1/kernel", 17], ["conv3/kernel", 1000]] as const) {
      const x = w[name];
      const [numeric] = finiteDifferences((v) => {
        const keep = x[i];
        x[i] = v[0];
        const l = lossOnly(SEED_CNN, w, small, smallLabel, 4);
        x[i] = keep;
        return l;
      }, Float64Array.of(x[i]), 1e-5);
      expect(Math.abs(r4.grads[name][i] - numeric)).toBeLessThan(1e-7 * Math.max(1, Math.abs(numeric)));
    }
  });
});

describe("freezing, wiring and state", () => {
  const graph = (trainable: boolean): RefGraph => ({
    inputs: [{ name: "x", shape: [4] }],
    targets: [{ name: "t", shape: [2] }],
    layers: [
      { name: "d1", op: "dense", units: 3, activation: "tanh" },
      { name: "bn", op: "batch_normalization", trainable },
      { name: "d2", op: "dense", units: 2, trainable },
    ],
    training: { loss: { type: "mean_squared_error", output: "d2", target: "t" }, metrics: ["mean_absolute_error"] },
  });
  const w = makeWeights({ "d1/kernel": [4, 3], "d1/bias": [3], "bn/gamma": [3], "bn/beta": [3], "bn/moving_mean": [3], "bn/moving_variance": [3], "d2/kernel": [3, 2], "d2/bias": [2] });
  const x = rng.array(4 * 4);
  const t = rng.array(4 * 2);

  it("frozen layers get no gradient but pass gradients through; frozen batch norm runs in inference mode", () => {
    const frozen = referenceGradients(graph(false), w, { x }, { t }, 4);
    expect(Object.keys(frozen.grads).sort()).toEqual(["d1/bias", "d1/kernel"]);
    expect(frozen.run.state).toEqual({});
    const inference = runReference(graph(true), w, { x }, 4, { training: false });
    expect(Array.from(frozen.run.values.bn.data)).toEqual(Array.from(inference.values.bn.data));
    checkGradients(graph(false), w, { x }, { t }, 4);
    const live = referenceGradients(graph(true), w, { x }, { t }, 4);
    expect(Object.keys(live.grads).sort()).toEqual(["bn/beta", "bn/gamma", "d1/bias", "d1/kernel", "d2/bias", "d2/kernel"]);
    expect(Object.keys(live.run.state).sort()).toEqual(["bn/moving_mean", "bn/moving_variance"]);
    expect(live.metrics.mean_absolute_error).toBeGreaterThan(0);
  });

  it("moving statistics update with momentum and the biased batch variance", () => {
    const r = runReference(graph(true), w, { x }, 4, { training: true });
    const h = r.values.d1.data;
    for (let c = 0; c < 3; c++) {
      const col = [0, 1, 2, 3].map((n) => h[n * 3 + c]);
      const mu = col.reduce((a, b) => a + b, 0) / 4;
      const v = col.reduce((a, b) => a + (b - mu) ** 2, 0) / 4;
      expect(r.state["bn/moving_mean"][c]).toBeCloseTo(0.99 * w["bn/moving_mean"][c] + 0.01 * mu, 14);
      expect(r.state["bn/moving_variance"][c]).toBeCloseTo(0.99 * w["bn/moving_variance"][c] + 0.01 * v, 14);
    }
  });

  it("chains layers without inputs, defaults outputs to the last layer, evaluates any listing order", () => {
    const r = runReference(graph(true), w, { x }, 4, { training: false });
    expect(Object.keys(r.outputs)).toEqual(["d2"]);
    const reordered: RefGraph = {
      inputs: [{ name: "x", shape: [4] }],
      layers: [
        { name: "b", op: "activation", activation: "relu", inputs: ["a"] },
        { name: "a", op: "activation", activation: "tanh", inputs: ["x"] },
      ],
      outputs: ["a", "b"],
    };
    const o = runReference(reordered, {}, { x }, 4, { training: false }).outputs;
    expect(Array.from(o.b.data)).toEqual(Array.from(x, (v) => Math.max(Math.tanh(v), 0)));
  });

  it("axes count as Keras (axis 1 of [T, F] is T); a kiln.graph/v1 graph's non-negative axes count one higher", () => {
    const cat = (format: string | undefined, axis: number): RefGraph => ({
      ...(format ? { format } : {}),
      inputs: [{ name: "a", shape: [2, 3] }, { name: "b", shape: [1, 3] }],
      layers: [{ name: "c", op: "concatenate", axis, inputs: ["a", "b"] }],
    });
    const feeds = { a: rng.array(12), b: rng.array(6) };
    const v2 = runReference(cat("kiln.graph/v2", 1), {}, feeds, 2, { training: false }).outputs.c;
    expect(v2.shape).toEqual([2, 3, 3]);
    expect(runReference(cat(undefined, 1), {}, feeds, 2, { training: false }).outputs.c.data).toEqual(v2.data);
    expect(runReference(cat("kiln.graph/v1", 0), {}, feeds, 2, { training: false }).outputs.c.data).toEqual(v2.data);
    expect(runReference(cat("kiln.graph/v1", -2), {}, feeds, 2, { training: false }).outputs.c.data).toEqual(v2.data);
    expect(() => runReference(cat("kiln.graph/v2", 0), {}, feeds, 2, { training: false })).toThrow(/axis=0 is not an axis of one example/);
  });
});

describe("errors name what is wrong and where", () => {
  const one = (l: Record<string, unknown>, shape = [4], w: Weights = {}, x: ArrayLike<number> = rng.array(2 * shape.reduce((a, b) => a * b, 1))) =>
    runReference({ inputs: [{ name: "x", shape }], layers: [{ name: "l", ...l } as RawLayer] }, w, { x }, 2, { training: false });

  it("unknown ops list the known ones", () => {
    expect(() => one({ op: "conv3d" })).toThrow(/layer "l": unknown op "conv3d" \(known: dense, conv2d, .*multi_head_attention, .*time_distributed, .*prelu.*\)/);
  });
  it("missing and mis-sized weights", () => {
    expect(() => one({ op: "dense", units: 2 })).toThrow(/weight "l\/kernel" is missing/);
    expect(() => one({ op: "dense", units: 2 }, [4], { "l/kernel": rng.array(7), "l/bias": rng.array(2) })).toThrow(/weight "l\/kernel" has 7 values, \[4,2\] needs 8/);
  });
  it("inputs: missing, wrong length, unknown tensor, cycle, ambiguous first layer", () => {
    expect(() => runReference({ inputs: [{ name: "x", shape: [2] }], layers: [{ name: "l", op: "flatten" }] }, {}, {}, 1, { training: false })).toThrow(/input "x" is missing/);
    expect(() => one({ op: "flatten" }, [4], {}, [1, 2, 3])).toThrow(/input "x" has 3 values, \[2,4\] needs 8/);
    expect(() => one({ op: "add", inputs: ["x", "nope"] })).toThrow(/unknown tensor "nope"/);
    const cyc: RefGraph = { inputs: [{ name: "x", shape: [1] }], layers: [{ name: "a", op: "add", inputs: ["x", "b"] }, { name: "b", op: "add", inputs: ["x", "a"] }] };
    expect(() => runReference(cyc, {}, { x: [1] }, 1, { training: false })).toThrow(/cycle through layer "a"/);
    const two: RefGraph = { inputs: [{ name: "x", shape: [1] }, { name: "y", shape: [1] }], layers: [{ name: "a", op: "flatten" }] };
    expect(() => runReference(two, {}, { x: [1], y: [1] }, 1, { training: false })).toThrow(/layer "a" needs explicit inputs/);
  });
  it("bad attributes and shapes", () => {
    expect(() => one({ op: "embedding", input_dim: 3, output_dim: 2 }, [2], { "l/embeddings": rng.array(6) }, [0, 1, 2, 3])).toThrow(/layer "l" \(embedding\): token id 3 at flat index 3 is outside \[0, 3\)/);
    expect(() => one({ op: "conv2d", filters: 1, kernel_size: 5 }, [3, 3, 1], { "l/kernel": rng.array(25), "l/bias": rng.array(1) })).toThrow(/layer "l" \(conv2d\): window 5/);
    expect(() => one({ op: "conv2d", filters: 1, kernel_size: 2, strides: 2, dilation_rate: 2 }, [6, 6, 1])).toThrow(/strides > 1 with dilation_rate > 1/);
    expect(() => one({ op: "softmax", axis: 2 })).toThrow(/attribute axis=2 is not an axis of one example \(full rank 2, batch axis 0\)/);
    expect(() => one({ op: "softmax", axis: 0 })).toThrow(/attribute axis=0 is not an axis of one example/);
    expect(() => one({ op: "softmax", axis: -2 })).toThrow(/attribute axis=-2 is not an axis of one example/);
    expect(() => one({ op: "dense", units: "3" })).toThrow(/attribute units must be a number/);
    expect(() => one({ op: "reshape", target_shape: [3, -1] })).toThrow(/cannot reshape \[4\] to \[3,-1\]/);
    expect(() => one({ op: "activation", activation: "softsign" })).toThrow(/unknown activation "softsign"/);
    expect(() => one({ op: "subtract", inputs: ["x", "x", "x"] })).toThrow(/takes 2 inputs, got 3/);
  });
});
