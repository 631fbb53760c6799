/**
 * Compiled gradients of every op (compile-time autodiff) against the float64 reference's analytic
 * gradients: a mean-squared-error loss is put on the op's output, one sgd step with learning rate
 * 1 is taken, and the weight change is the gradient. Loss values are compared too.
 */
import { describe, expect, it } from "vitest";
import { checkGraph } from "../../compiler/frontend.js";
import { referenceGradients } from "../reference/gradients.js";
import { CASES } from "./cases.js";
import { build, randomFeeds, randomizeWeights, relErr } from "./harness.js";

function withTraining(graph: any): any {
  const checked = checkGraph(JSON.stringify(graph));
  const last = checked.outputs[0]!;
  const shape = checked.layers.find((l) => l.name === last)!.shape;
  return {
    ...graph,
    targets: [{ name: "y", shape }],
    training: { loss: { type: "mean_squared_error", output: last, target: "y" }, optimizer: { type: "sgd", learning_rate: 1 } },
  };
}

const SKIP_NO_WEIGHTS = (c: { graph: any }) => checkGraph(JSON.stringify(c.graph)).layers.some((l) => l.weights.some((w) => w.trainable));

describe("compiled gradients vs float64 reference", () => {
  for (const c of CASES.filter((c) => !/dropout/.test(c.name))) {
    it(c.name, async () => {
      const graph = withTraining(c.graph);
      const { model } = await build(graph);
      const hasWeights = SKIP_NO_WEIGHTS(c);
      for (const batch of [1, 3]) {
        const w0 = randomizeWeights(model, 21 + batch, 0.5);
        const feeds = { ...randomFeeds(model.inputs as any, batch, 300 + batch), ...randomFeeds(model.targets as any, batch, 400 + batch) };
        const step = model.trainStep(feeds);
        const w1 = model.getWeights();
        const ref = referenceGradients(graph, w0, feeds, feeds, batch);
        expect(Math.abs(step.loss - ref.loss) / Math.max(Math.abs(ref.loss), 1e-12), "loss").toBeLessThan(1e-4);
        if (!hasWeights) continue;
        for (const [name, g] of Object.entries(ref.grads)) {
          const got = w0[name]!.map((v, i) => v - w1[name]![i]!);
          expect(relErr(got, g), `${name} at batch ${batch}`).toBeLessThan(1e-4);
        }
      }
    });
  }
});
