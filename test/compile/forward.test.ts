/**
 * Every op of spec §2, compiled to WebAssembly and run through the runtime, against the float64
 * reference interpreter: batch 1, 3, 5 and the compiled maximum (64), within 1e-4 relative error
 * (one module per case, compiled for batch 64, serves every batch).
 */
import { describe, expect, it } from "vitest";
import { CASES } from "./cases.js";
import { build, comparePredict, randomizeWeights } from "./harness.js";

describe("compiled forward vs float64 reference", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const { model } = await build(c.graph, { maxBatch: 64 });
      const weights = randomizeWeights(model, 11);
      for (const batch of [1, 3, 5, 64]) {
        const errs = comparePredict(c.graph, model, weights, batch, 100 + batch);
        for (const [name, e] of Object.entries(errs)) expect(e, `${name} at batch ${batch}`).toBeLessThan(1e-4);
      }
    });
  }
});
