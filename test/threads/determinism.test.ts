/**
 * Threaded builds: the same module run by 1 and by 2 threads gives bit-identical predictions and
 * bit-identical weights after training (the work split never changes the order of a sum), whatever
 * share of the batch each thread takes.
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { rng } from "../compile/harness.js";

const example = (name: string) => JSON.parse(readFileSync(new URL(`../../examples/${name}/graph.json`, import.meta.url), "utf8"));
const cnn = example("mnist-cnn");
const mlp = {
  format: "kiln.graph/v2", name: "mlp", seed: 3,
  inputs: [{ name: "x", shape: [20] }], targets: [{ name: "y", shape: [] , dtype: "int32" }],
  layers: [
    { name: "h", op: "dense", units: 48, activation: "gelu" },
    { name: "bn", op: "batch_normalization" },
    { name: "drop", op: "dropout", rate: 0.3 },
    { name: "out", op: "dense", units: 5, activation: "softmax" },
  ],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "out", target: "y" }, optimizer: { type: "adamw", global_clipnorm: 1 }, metrics: ["accuracy"] },
};

/**
 * The convolutions of issue 17: depthwise (its filter gradient per chunk of examples, like
 * conv2d's), separable, transposed (conv2d's input gradient as a forward, its gradients a conv2d
 * and a chunked filter gradient).
 */
const convs = {
  format: "kiln.graph/v2", name: "convs", seed: 4,
  inputs: [{ name: "x", shape: [10, 10, 3] }], targets: [{ name: "y", shape: [], dtype: "int32" }],
  layers: [
    { name: "c", op: "conv2d", filters: 8, kernel_size: 3, padding: "same", activation: "relu" },
    { name: "dw", op: "depthwise_conv2d", kernel_size: 3, strides: 2, padding: "same", depth_multiplier: 2, activation: "relu" },
    { name: "dw1", op: "depthwise_conv2d", kernel_size: 3, padding: "same", activation: "tanh" },
    { name: "sep", op: "separable_conv2d", filters: 12, kernel_size: 3, padding: "same", depth_multiplier: 2, activation: "relu" },
    { name: "up", op: "conv2d_transpose", filters: 6, kernel_size: 3, strides: 2, padding: "same", activation: "relu" },
    { name: "tr", op: "conv2d_transpose", filters: 5, kernel_size: 3, padding: "same" },
    { name: "gap", op: "global_average_pooling2d" },
    { name: "out", op: "dense", units: 4, activation: "softmax" },
  ],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "out", target: "y" }, optimizer: { type: "adam" } },
};

/** Bidirectional GRU (reset_after=false) and LSTM, one go_backwards layer: the recurrent ops of issue 17. */
const birnn = {
  format: "kiln.graph/v2", name: "birnn", seed: 4,
  inputs: [{ name: "x", shape: [6, 3] }], targets: [{ name: "y", shape: [], dtype: "int32" }],
  layers: [
    { name: "bg", op: "bidirectional", layer: { op: "gru", units: 5, reset_after: false, return_sequences: true } },
    { name: "back", op: "simple_rnn", units: 4, go_backwards: true, return_sequences: true },
    { name: "bl", op: "bidirectional", merge_mode: "ave", layer: { op: "lstm", name: "enc", units: 4 } },
    { name: "out", op: "dense", units: 3, activation: "softmax" },
  ],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "out", target: "y" }, optimizer: { type: "adam", learning_rate: 0.01 } },
};

/**
 * ResNet-20's pattern, small: conv → batch norm → relu, a stride-2 block with a 1×1 projection,
 * residual adds. Its batch statistics, their gradients' sums over the examples and 1/batch are
 * replicated calls (every thread computes them: threads.ts), read by batch-split calls without a wait.
 */
const resnet = {
  format: "kiln.graph/v2", name: "resnet_small", seed: 6,
  inputs: [{ name: "x", shape: [8, 8, 3] }], targets: [{ name: "y", shape: [], dtype: "int32" }],
  layers: [
    { name: "c0", op: "conv2d", filters: 8, kernel_size: 3, padding: "same" },
    { name: "bn0", op: "batch_normalization" },
    { name: "r0", op: "activation", activation: "relu" },
    { name: "c1", op: "conv2d", filters: 16, kernel_size: 3, strides: 2, padding: "same" },
    { name: "bn1", op: "batch_normalization" },
    { name: "r1", op: "activation", activation: "relu" },
    { name: "c2", op: "conv2d", filters: 16, kernel_size: 3, padding: "same" },
    { name: "bn2", op: "batch_normalization" },
    { name: "proj", op: "conv2d", filters: 16, kernel_size: 1, strides: 2, inputs: ["r0"] },
    { name: "add", op: "add", inputs: ["proj", "bn2"] },
    { name: "r2", op: "activation", activation: "relu" },
    { name: "gap", op: "global_average_pooling2d" },
    { name: "out", op: "dense", units: 5, activation: "softmax" },
  ],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "out", target: "y" }, optimizer: { type: "adam", learning_rate: 0.01 } },
};

/** The same layers over T = 40: past UNROLL_MAX_STEPS, so each is a `recurrence` loop-kernel pair. */
const birnnLong = { ...birnn, name: "birnn_long", inputs: [{ name: "x", shape: [40, 3] }] };

function bytesOf(record: Record<string, Float32Array>): Uint8Array[] {
  return Object.keys(record).sort().map((k) => new Uint8Array(record[k]!.buffer.slice(0)));
}

/** `shares`: pin each thread's share of the batch (else the pool adapts them after every call). */
async function run(graph: any, feeds: Record<string, Float32Array | Int32Array>, threads: number, wasm: Uint8Array, shares?: number[]) {
  const model = await loadModel(wasm, { threads });
  if (shares) {
    model.pool!.balance = false;
    for (const p of ["train_step", "predict"]) model.pool!.shares.set(p, shares);
  }
  try {
    const losses = [0, 1, 2, 3, 4].map(() => model.trainStep(feeds).loss);
    const inputs = Object.fromEntries(graph.inputs.map((i: any) => [i.name, feeds[i.name]!]));
    return { losses, weights: bytesOf(model.getWeights()), pred: bytesOf(model.predict(inputs)) };
  } finally {
    model.dispose();
  }
}

/** Random feeds for every input and target: floats in [0, 1), class ids below `classes`, 0/1 for a sigmoid target. */
function feedsFor(graph: any, batch: number, classes: number, seed: number): Record<string, Float32Array | Int32Array> {
  const next = rng(seed), feeds: Record<string, Float32Array | Int32Array> = {};
  for (const slot of [...graph.inputs, ...graph.targets]) {
    const n = batch * slot.shape.reduce((a: number, b: number) => a * b, 1);
    feeds[slot.name] = slot.dtype === "int32" ? Int32Array.from({ length: n }, () => Math.floor(next() * classes))
      : graph.targets.includes(slot) && classes === 2 ? Float32Array.from({ length: n }, () => Math.round(next())) : Float32Array.from({ length: n }, () => next());
  }
  return feeds;
}

describe("threaded builds are bit-identical to one thread", () => {
  // Barriers are left out between batch-split calls that cannot meet (threads.ts: barriersAfter),
  // so a missing one would show as a race: each case runs several steps, twice on 2 threads.
  const cases = [
    ["seed CNN", cnn, 10],
    ["MLP with batch norm, dropout, AdamW, global clipping", mlp, 5],
    ["names-gender LSTM (embedding, time steps, sigmoid)", example("names-gender"), 2],
    ["names-transformer (attention, layer norm, position embedding)", example("names-transformer"), 30],
    ["depthwise, separable and transposed convolutions", convs, 4],
    ["residual blocks with batch normalization (replicated sums over the examples)", resnet, 5],
    ["bidirectional gru (reset_after=false) and lstm, go_backwards simple_rnn", birnn, 3],
    ["the same over T = 40 (recurrence loop kernels, batch-split; dU as column parts)", birnnLong, 3],
  ] as const;
  for (const [name, graph, classes] of cases) {
    it(name, async () => {
      const { wasm, manifest } = await compile(JSON.stringify(graph), { maxBatch: 16, threads: 2, optimizeLevel: 0 });
      expect(manifest.threads).toBe(true);
      const feeds = feedsFor(graph, 13, classes, 5); // 13: the two threads get 6 and 7 examples
      const one = await run(graph, feeds, 1, wasm);
      const two = await run(graph, feeds, 2, wasm);
      const again = await run(graph, feeds, 2, wasm);
      expect(two.losses).toEqual(one.losses);
      expect(two.weights).toEqual(one.weights);
      expect(two.pred).toEqual(one.pred);
      expect(again).toEqual(two);
      expect(one.losses[4]).not.toEqual(one.losses[0]); // it did train
      // ... and to the single-threaded build of the same graph.
      const plain = await compile(JSON.stringify(graph), { maxBatch: 16, optimizeLevel: 0 });
      const single = await run(graph, feeds, 1, plain.wasm);
      expect(single.weights).toEqual(one.weights);
      expect(single.pred).toEqual(one.pred);
      // Any split of the batch (the pool moves it towards the faster core) gives the same bits,
      // down to one thread taking every example while the other runs only column parts.
      for (const shares of [[1, 0], [0, 1], [0.2, 0.8]]) {
        const skewed = await run(graph, feeds, 2, wasm, shares);
        expect(skewed, `shares ${shares}`).toEqual(two);
      }
    });
  }

  it("a build at -O3 (barriers inlined into the program) trains and predicts what one thread does, from the first call", async () => {
    // The first calls run V8's baseline tier, which mis-handled values live across an inlined
    // memory.atomic.wait32 (emit/module.ts: barrierSource); training has barriers mid-program.
    const { wasm } = await compile(JSON.stringify(mlp), { maxBatch: 16, threads: 2, optimizeLevel: 3 });
    const feeds = feedsFor(mlp, 16, 5, 6);
    const one = await run(mlp, feeds, 1, wasm);
    const two = await run(mlp, feeds, 2, wasm);
    expect(two).toEqual(one);
  });

  it("asks for a threaded module when threads > 1", async () => {
    const { wasm } = await compile(JSON.stringify(mlp), { maxBatch: 4, optimizeLevel: 0 });
    await expect(loadModel(wasm, { threads: 2 })).rejects.toThrow("threads: 2 needs a module compiled with --threads 2");
  });
});
