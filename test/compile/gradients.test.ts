/**
 * Compiled gradients of every op (compile-time autodiff) against the float64 reference's analytic
 * gradients: a mean-squared-error loss is put on the op's output, one sgd step with learning rate
 * 1 is taken, and the weight change is the gradient. Loss values are compared too.
 */
import { describe, expect, it } from "vitest";
import { referenceGradients } from "../reference/gradients.js";
import { build, randomFeeds, randomizeWeights } from "./harness.js";
import { GRADIENT_CASES, withTraining } from "./training-graph.js";

/**
 * The sgd learning rate: the weight change divided by it is the gradient. A power of two (the
 * division is exact) large enough that rounding w0 − LR·g to f32 costs nothing: at learning rate 1
 * the change of a weight near 0.5 was known to 3e-8 only, the size of a batch-64 gradient's noise.
 */
const LR = 1024;

describe("compiled gradients vs float64 reference", () => {
  for (const c of GRADIENT_CASES) {
    it(c.name, async () => {
      const graph = withTraining(c.graph);
      graph.training.optimizer.learning_rate = LR;
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
        // Some gradients are zero in exact arithmetic (a bias in front of a batch normalization,
        // attention's key bias; the float64 reference gives ~1e-16): f32 gives the rounding noise
        // of sums that cancel, which grows with the rows summed (batch_normalization's bias in front
        // of it: 1.5e-7 of the largest gradient at batch 64). They are held to 1e-5 of the largest
        // gradient's norm; every other gradient to 1e-4 of its own norm, or of 1e-3 of the largest
        // when it is smaller than that.
        const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
        const scale = Math.max(...Object.values(ref.grads).map(norm));
        for (const [name, g] of Object.entries(ref.grads)) {
          const got = Float64Array.from(w0[name]!, (v, i) => (v - w1[name]![i]!) / LR);
          if (norm(g) <= 1e-9 * scale) {
            expect(norm(got) / scale, `${name} (zero in exact arithmetic) at batch ${batch}`).toBeLessThan(1e-5);
          } else {
            const diff = norm(got.map((v, i) => v - g[i]!));
            expect(diff / Math.max(norm(g), 1e-3 * scale), `${name} at batch ${batch}`).toBeLessThan(1e-4);
          }
        }
      }
    });
  }
});
