/**
 * Compiled gradients of every op (compile-time autodiff) against the float64 reference's analytic
 * gradients: a mean-squared-error loss is put on the op's output, one sgd step with learning rate
 * 1 is taken, and the weight change is the gradient. Loss values are compared too.
 */
import { describe, expect, it } from "vitest";
import { referenceGradients } from "../reference/gradients.js";
import { build, randomFeeds, randomizeWeights } from "./harness.js";
import { GRADIENT_CASES, withTraining } from "./training-graph.js";

describe("compiled gradients vs float64 reference", () => {
  for (const c of GRADIENT_CASES) {
    it(c.name, async () => {
      const graph = withTraining(c.graph);
      // Convolutions also at batch 9: filter gradients add one partial per 4 examples (fuse.ts:
      // chunkFilterGradients), so 9 takes two whole chunks and a short one. Every op at batch
      // 64, the compiled maximum: one module per case serves every batch.
      const conv = /conv[12]d/.test(c.name);
      const { model } = await build(graph, { maxBatch: 64 });
      for (const batch of conv ? [1, 3, 9, 64] : [1, 3, 64]) {
        const w0 = randomizeWeights(model, 21 + batch, 0.5);
        const feeds = { ...randomFeeds(model.inputs as any, batch, 300 + batch), ...randomFeeds(model.targets as any, batch, 400 + batch) };
        const step = model.trainStep(feeds);
        const w1 = model.getWeights();
        const ref = referenceGradients(graph, w0, feeds, feeds, batch);
        expect(Math.abs(step.loss - ref.loss) / Math.max(Math.abs(ref.loss), 1e-12), "loss").toBeLessThan(1e-4);
        expect(Object.keys(ref.grads).length).toBeGreaterThan(0);
        // Some gradients are exactly zero in exact arithmetic (a bias in front of a batch
        // normalization, attention's key bias): there, f32 rounding noise is measured against
        // the scale of the whole gradient instead of against zero. That noise is a sum over the
        // batch's rows of rounding errors, which grows as the square root of their number: at
        // batch 64 the batch_normalization case's bias in front of it measured 6.7e-8 (one or two
        // ulps of the weights it is read from), 1.7e-4 of 1e-3 of the largest gradient's norm, 4.2e-5 of the floor
        // below, √(64/4)·1e-3 of it; batches up to 4 keep 1e-3.
        const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
        const floor = 1e-3 * Math.max(...Object.values(ref.grads).map(norm)) * Math.max(1, Math.sqrt(batch / 4));
        for (const [name, g] of Object.entries(ref.grads)) {
          const got = w0[name]!.map((v, i) => v - w1[name]![i]!);
          const diff = norm(got.map((v, i) => v - g[i]!));
          expect(diff / Math.max(norm(g), floor), `${name} at batch ${batch}`).toBeLessThan(1e-4);
        }
      }
    });
  }
});
