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
      // chunkFilterGradients), so 9 takes two whole chunks and a short one.
      const conv = /conv[12]d/.test(c.name);
      const { model } = await build(graph, conv ? { maxBatch: 9 } : {});
      for (const batch of conv ? [1, 3, 9] : [1, 3]) {
        const w0 = randomizeWeights(model, 21 + batch, 0.5);
        const feeds = { ...randomFeeds(model.inputs as any, batch, 300 + batch), ...randomFeeds(model.targets as any, batch, 400 + batch) };
        const step = model.trainStep(feeds);
        const w1 = model.getWeights();
        const ref = referenceGradients(graph, w0, feeds, feeds, batch);
        expect(Math.abs(step.loss - ref.loss) / Math.max(Math.abs(ref.loss), 1e-12), "loss").toBeLessThan(1e-4);
        expect(Object.keys(ref.grads).length).toBeGreaterThan(0);
        // Some gradients are exactly zero in exact arithmetic (a bias in front of a batch
        // normalization, attention's key bias): there, f32 rounding noise is measured against
        // the scale of the whole gradient instead of against zero.
        const norm = (v: ArrayLike<number>) => Math.sqrt(Array.from(v).reduce((s, x) => s + x * x, 0));
        const scale = Math.max(...Object.values(ref.grads).map(norm));
        for (const [name, g] of Object.entries(ref.grads)) {
          const got = w0[name]!.map((v, i) => v - w1[name]![i]!);
          const diff = norm(got.map((v, i) => v - g[i]!));
          expect(diff / Math.max(norm(g), 1e-3 * scale), `${name} at batch ${batch}`).toBeLessThan(1e-4);
        }
      }
    });
  }
});
