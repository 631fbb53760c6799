/**
 * Saving weights and optimizer state mid-training and resuming in a fresh model (`loadWeights`)
 * gives bit-identical weights and optimizer state to training straight through: the saved step
 * carries adam's bias correction and the dropout masks' step word across.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { asInt32, readSafetensors } from "../../runtime/safetensors.js";
import { ints, uniform, type Feeds } from "./helpers.js";

const BATCH = 4;

const GRAPH = {
  format: "kiln.graph/v2",
  name: "resume",
  seed: 31,
  inputs: [{ name: "x", shape: [6] }],
  targets: [{ name: "label", shape: [], dtype: "int32" }],
  layers: [
    { name: "h", op: "dense", units: 8, activation: "relu" },
    { name: "bn", op: "batch_normalization" },
    { name: "drop", op: "dropout", rate: 0.4 },
    { name: "logits", op: "dense", units: 4 },
  ],
  training: {
    loss: { type: "sparse_categorical_crossentropy", output: "logits", target: "label", from_logits: true },
    optimizer: { type: "adam", learning_rate: 0.02 },
  },
};

const batches: Feeds[] = Array.from({ length: 6 }, (_v, i) => ({ x: uniform(BATCH * 6, 900 + i), label: ints(BATCH, 4, 950 + i) }));
const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(Buffer.from(b));

describe("save mid-training and resume", () => {
  it("6 train steps straight equal 3 steps, save, load into a new model, 3 more steps", async () => {
    const { wasm } = await compile(JSON.stringify(GRAPH), { optimizeLevel: 0, maxBatch: BATCH });
    const straight = await loadModel(wasm);
    const losses = batches.map((b) => straight.trainStep(b).loss);

    const first = await loadModel(wasm);
    batches.slice(0, 3).forEach((b, i) => expect(first.trainStep(b).loss).toBe(losses[i]));
    const checkpoint = first.saveWeights();
    const saved = readSafetensors(checkpoint).tensors;
    expect(asInt32(saved.get("optimizer/step")!, "step")[0]).toBe(3);
    expect([...saved.keys()].filter((k) => k.startsWith("optimizer/momentum/")).length).toBeGreaterThan(0);

    const resumed = await loadModel(wasm);
    expect(same(resumed.saveWeights(), checkpoint)).toBe(false); // a fresh model starts elsewhere
    resumed.loadWeights(checkpoint);
    expect(same(resumed.saveWeights(), checkpoint)).toBe(true);
    batches.slice(3).forEach((b, i) => expect(resumed.trainStep(b).loss, `step ${i + 4}`).toBe(losses[i + 3]));
    expect(same(resumed.saveWeights(), straight.saveWeights())).toBe(true);
  });

  it("without the optimizer state, resuming differs (the state is what makes it exact)", async () => {
    const { wasm } = await compile(JSON.stringify(GRAPH), { optimizeLevel: 0, maxBatch: BATCH });
    const straight = await loadModel(wasm);
    batches.forEach((b) => straight.trainStep(b));
    const first = await loadModel(wasm);
    batches.slice(0, 3).forEach((b) => first.trainStep(b));
    const resumed = await loadModel(wasm);
    resumed.loadWeights(first.saveWeights({ optimizer: false }));
    batches.slice(3).forEach((b) => resumed.trainStep(b));
    expect(same(resumed.saveWeights({ optimizer: false }), straight.saveWeights({ optimizer: false }))).toBe(false);
  });

  it("fit resumes exactly too: two 1-epoch fits with a checkpoint between equal one 2-epoch fit (no shuffle)", async () => {
    const { wasm } = await compile(JSON.stringify(GRAPH), { optimizeLevel: 0, maxBatch: BATCH });
    const data = { x: uniform(10 * 6, 77), label: ints(10, 4, 78) };
    const straight = await loadModel(wasm);
    await straight.fit(data, { epochs: 2, batchSize: BATCH, shuffle: false });
    const first = await loadModel(wasm);
    await first.fit(data, { epochs: 1, batchSize: BATCH, shuffle: false });
    const resumed = await loadModel(wasm, { weights: first.saveWeights() });
    await resumed.fit(data, { epochs: 1, batchSize: BATCH, shuffle: false });
    expect(same(resumed.saveWeights(), straight.saveWeights())).toBe(true);
  });

  it("fit with shuffling resumes exactly with initialEpoch: 2 epochs straight equal 1 epoch, save, load, initialEpoch 1", async () => {
    const { wasm } = await compile(JSON.stringify(GRAPH), { optimizeLevel: 0, maxBatch: BATCH });
    const data = { x: uniform(10 * 6, 77), label: ints(10, 4, 78) };
    const straight = await loadModel(wasm);
    const full = await straight.fit(data, { epochs: 2, batchSize: BATCH });
    expect(full.epoch).toEqual([0, 1]);
    const first = await loadModel(wasm);
    await first.fit(data, { epochs: 1, batchSize: BATCH });
    const checkpoint = first.saveWeights();

    const resumed = await loadModel(wasm);
    resumed.loadWeights(checkpoint);
    const ended: number[] = [];
    const rest = await resumed.fit(data, { epochs: 2, initialEpoch: 1, batchSize: BATCH, onEpochEnd: (e) => void ended.push(e) });
    expect(rest.epoch).toEqual([1]);
    expect(ended).toEqual([1]);
    expect(rest.history.loss).toEqual([full.history.loss![1]]);
    expect(same(resumed.saveWeights(), straight.saveWeights())).toBe(true);

    // The shuffle is what initialEpoch carries over: epoch 0's order again gives other weights.
    const reshuffled = await loadModel(wasm, { weights: checkpoint });
    await reshuffled.fit(data, { epochs: 1, batchSize: BATCH });
    expect(same(reshuffled.saveWeights(), straight.saveWeights())).toBe(false);
  });

  it("initialEpoch must be an integer below epochs; a rejected fit leaves the model as it was", async () => {
    const { wasm } = await compile(JSON.stringify(GRAPH), { optimizeLevel: 0, maxBatch: BATCH });
    const data = { x: uniform(10 * 6, 77), label: ints(10, 4, 78) };
    const model = await loadModel(wasm);
    const before = model.saveWeights();
    for (const initialEpoch of [2, 3, -1, 0.5, NaN]) {
      await expect(model.fit(data, { epochs: 2, initialEpoch }), String(initialEpoch)).rejects.toThrow(`initialEpoch must be an integer in [0, 1], got ${initialEpoch}`);
    }
    expect(same(model.saveWeights(), before)).toBe(true);
  });
});
