/**
 * Threaded builds: the same module run by 1 and by 2 threads gives bit-identical predictions and
 * bit-identical weights after training (the work split never changes the order of a sum).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { rng } from "../compile/harness.js";

const cnn = JSON.parse(readFileSync(new URL("../../examples/mnist-cnn/graph.json", import.meta.url), "utf8"));
const mlp = {
  format: "kiln.graph/v1", name: "mlp", seed: 3,
  inputs: [{ name: "x", shape: [20] }], targets: [{ name: "y", shape: [] , dtype: "int32" }],
  layers: [
    { name: "h", op: "dense", units: 48, activation: "gelu" },
    { name: "bn", op: "batch_normalization" },
    { name: "drop", op: "dropout", rate: 0.3 },
    { name: "out", op: "dense", units: 5, activation: "softmax" },
  ],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "out", target: "y" }, optimizer: { type: "adamw", global_clipnorm: 1 }, metrics: ["accuracy"] },
};

function bytesOf(record: Record<string, Float32Array>): Uint8Array[] {
  return Object.keys(record).sort().map((k) => new Uint8Array(record[k]!.buffer.slice(0)));
}

async function run(graph: any, feeds: Record<string, Float32Array | Int32Array>, threads: number, wasm: Uint8Array) {
  const model = await loadModel(wasm, { threads });
  try {
    const losses = [0, 1, 2].map(() => model.trainStep(feeds).loss);
    const input = graph.inputs[0].name;
    return { losses, weights: bytesOf(model.getWeights()), pred: bytesOf(model.predict({ [input]: feeds[input]! })) };
  } finally {
    model.dispose();
  }
}

describe("threaded builds are bit-identical to one thread", () => {
  for (const [name, graph, inputShape, classes] of [["seed CNN", cnn, 784, 10], ["MLP with batch norm, dropout, AdamW, global clipping", mlp, 20, 5]] as const) {
    it(name, async () => {
      const { wasm, manifest } = await compile(JSON.stringify(graph), { maxBatch: 16, threads: 2, optimizeLevel: 0 });
      expect(manifest.threads).toBe(true);
      const next = rng(5);
      const batch = 13; // odd: the two threads get 6 and 7 examples
      const feeds: Record<string, Float32Array | Int32Array> = {
        [graph.inputs[0].name]: Float32Array.from({ length: batch * inputShape }, () => next()),
        [graph.targets[0].name]: Int32Array.from({ length: batch }, () => Math.floor(next() * classes)),
      };
      const one = await run(graph, feeds, 1, wasm);
      const two = await run(graph, feeds, 2, wasm);
      expect(two.losses).toEqual(one.losses);
      expect(two.weights).toEqual(one.weights);
      expect(two.pred).toEqual(one.pred);
      expect(one.losses[2]).not.toEqual(one.losses[0]); // it did train
      // ... and to the single-threaded build of the same graph.
      const plain = await compile(JSON.stringify(graph), { maxBatch: 16, optimizeLevel: 0 });
      const single = await run(graph, feeds, 1, plain.wasm);
      expect(single.weights).toEqual(one.weights);
      expect(single.pred).toEqual(one.pred);
    });
  }

  it("a threaded build requested at -O3 still predicts what one thread predicts", async () => {
    const { wasm } = await compile(JSON.stringify(mlp), { maxBatch: 16, threads: 2, optimizeLevel: 3 });
    const next = rng(6);
    const x = Float32Array.from({ length: 16 * 20 }, () => next());
    const one = await loadModel(wasm, { threads: 1 });
    const two = await loadModel(wasm, { threads: 2 });
    try {
      expect(Array.from(two.predict({ x }).out!)).toEqual(Array.from(one.predict({ x }).out!));
    } finally {
      one.dispose();
      two.dispose();
    }
  });

  it("asks for a threaded module when threads > 1", async () => {
    const { wasm } = await compile(JSON.stringify(mlp), { maxBatch: 4, optimizeLevel: 0 });
    await expect(loadModel(wasm, { threads: 2 })).rejects.toThrow("threads: 2 needs a module compiled with --threads 2");
  });
});
