/**
 * The NaN finder on a compiled module: a learning rate far too large makes the weights explode;
 * fit stops at the first non-finite loss naming the step, and with { debugNaN: true } it also
 * names the first layer whose output went non-finite (manifest.training.layerOutputs).
 */
import { describe, expect, it } from "vitest";
import { KilnError } from "../../runtime/index.js";
import { build, rng } from "./harness.js";

const graph = {
  format: "kiln.graph/v2", name: "explode", seed: 2,
  inputs: [{ name: "x", shape: [6] }], targets: [{ name: "y", shape: [1] }],
  layers: [
    { name: "a", op: "dense", units: 8, activation: "tanh" },
    { name: "b", op: "dense", units: 8 },
    { name: "c", op: "dense", units: 1 },
  ],
  training: { loss: { type: "mean_squared_error", output: "c", target: "y" }, optimizer: { type: "sgd", learning_rate: 1e25 } },
};

describe("NaN finder", () => {
  it("names the step, and with debugNaN the first non-finite layer output", async () => {
    const { model } = await build(graph, { maxBatch: 8 });
    const next = rng(3);
    const data = { x: Float32Array.from({ length: 8 * 6 }, () => next() * 2 - 1), y: Float32Array.from({ length: 8 }, () => next()) };
    const plain = await model.fit(data, { epochs: 3, batchSize: 8 }).then(() => undefined, (e) => e);
    expect(plain).toBeInstanceOf(KilnError);
    expect(String(plain.message)).toMatch(/step \d+/);

    const { model: fresh } = await build(graph, { maxBatch: 8 });
    const found = await fresh.fit(data, { epochs: 3, batchSize: 8, debugNaN: true }).then(() => undefined, (e) => e);
    expect(found).toBeInstanceOf(KilnError);
    expect(String(found.message)).toMatch(/the first non-finite layer output is layer "(b|c)"/);
  });
});
