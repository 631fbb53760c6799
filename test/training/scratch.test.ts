import { test, expect } from "vitest";
import { build } from "../compile/harness.js";

test("scratch", async () => {
  const graph = {
    format: "kiln.graph/v2", name: "m", inputs: [{ name: "x", shape: [4] }], targets: [{ name: "y", shape: [], dtype: "int32" }],
    layers: [{ name: "probs", op: "dense", units: 3, activation: "softmax" }],
    training: { loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "y" }, optimizer: { type: "sgd", learning_rate: 0.1 },
      metrics: ["accuracy", { type: "sparse_top_k_categorical_accuracy", k: 2 }, "mean_squared_error"] },
  };
  const { model } = await build(graph);
  const x = new Float32Array(20).map((_, i) => Math.sin(i));
  const y = new Int32Array([0, 1, 2, 1, 0]);
  console.log(model.evaluate({ x, y }, { batchSize: 2 }));
  console.log(model.trainStep({ x, y }));
  console.log(model.trainStep({ x, y }, { sampleWeight: [1, 2, 0, 1, 1] }));
  const h = await model.fit({ x, y }, { epochs: 2, batchSize: 2, classWeight: { 0: 1, 1: 2, 2: 0.5 } });
  console.log(h);
  expect(1).toBe(1);
});
