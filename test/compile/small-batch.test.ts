/**
 * Few-row matmuls (batch-1 inference, small thread shares) take an unpacked path; it must give
 * bit-for-bit what the blocked path gives, so an example's outputs never depend on its batch.
 */
import { describe, expect, it } from "vitest";
import { build, randomizeWeights, rng } from "./harness.js";

const graph = {
  format: "kiln.graph/v2", name: "mlp", seed: 4, inputs: [{ name: "x", shape: [785] }],
  layers: [
    { name: "h1", op: "dense", units: 37, activation: "gelu" },   // K = 785: several K blocks
    { name: "h2", op: "dense", units: 18, activation: "relu" },   // n not a multiple of 16
    { name: "out", op: "dense", units: 3, use_bias: false },      // n < 4: lanes only
  ],
};

describe("batch-independent outputs", () => {
  it("an example's outputs are the same bits at batch 1, 2, 3, 4 and 9", async () => {
    const { model } = await build(graph, { maxBatch: 9, debug: false });
    randomizeWeights(model, 8, 0.2);
    const next = rng(12);
    const x = Float32Array.from({ length: 9 * 785 }, () => next() * 2 - 1);
    const all = model.predict({ x }).out!;
    for (const b of [1, 2, 3, 4]) {
      const part = model.predict({ x: x.subarray(0, b * 785) }).out!;
      expect(Array.from(part)).toEqual(Array.from(all.subarray(0, b * 3)));
    }
  });
});
