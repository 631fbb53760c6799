/**
 * batch_normalization on an axis other than the last (Keras: statistics over the batch and every
 * axis but `axis`), compiled, against the float64 reference: a train step's moving statistics at
 * batch 1 and 3 (forward, loss and gradients are in forward/gradients.test.ts through cases.ts),
 * and a frozen layer, which runs on its moving statistics inside a train step and passes the
 * gradient through to the layer before it.
 */
import { describe, expect, it } from "vitest";
import { runReference } from "../reference/interpret.js";
import { referenceGradients } from "../reference/gradients.js";
import { build, randomFeeds, randomizeWeights, relErr } from "./harness.js";

const SHAPE = [4, 3, 2];

function graph(axis: number, frozen: boolean): any {
  return {
    format: "kiln.graph/v2", name: "bn_axis", seed: 5,
    inputs: [{ name: "x", shape: SHAPE }],
    targets: [{ name: "y", shape: SHAPE }],
    layers: [
      { name: "pre", op: "dense", units: 2 },
      { name: "bn", op: "batch_normalization", axis, momentum: 0.7, ...(frozen ? { trainable: false } : {}) },
    ],
    training: { loss: { type: "mean_squared_error", output: "bn", target: "y" }, optimizer: { type: "sgd", learning_rate: 1 } },
  };
}

describe("batch_normalization on a non-last axis in a train step", () => {
  for (const axis of [1, 2, -3]) {
    it(`axis ${axis} of [batch, ${SHAPE.join(", ")}]: moving statistics after one step, batch 1 and 3`, async () => {
      const g = graph(axis, false);
      const { model } = await build(g);
      for (const batch of [1, 3]) {
        const w0 = randomizeWeights(model, 50 + batch);
        const feeds = { ...randomFeeds(model.inputs as any, batch, 60 + batch), ...randomFeeds(model.targets as any, batch, 70 + batch) };
        model.trainStep(feeds);
        const ref = runReference(g, w0, feeds, batch, { training: true });
        const w1 = model.getWeights();
        for (const name of ["bn/moving_mean", "bn/moving_variance"]) {
          expect(w1[name]!.some((v, i) => v !== w0[name]![i]), `${name} moved`).toBe(true);
          expect(relErr(w1[name]!, ref.state[name]!), `${name} at batch ${batch}`).toBeLessThan(1e-5);
        }
      }
    });
  }

  it("frozen (trainable: false) on axis 1: moving statistics in the step, unchanged after it, gradient to the layer before", async () => {
    const g = graph(1, true);
    const { model } = await build(g);
    for (const batch of [1, 3]) {
      const w0 = randomizeWeights(model, 80 + batch);
      const feeds = { ...randomFeeds(model.inputs as any, batch, 90 + batch), ...randomFeeds(model.targets as any, batch, 95 + batch) };
      const step = model.trainStep(feeds);
      const w1 = model.getWeights();
      const ref = referenceGradients(g, w0, feeds, feeds, batch);
      expect(Math.abs(step.loss - ref.loss) / ref.loss, "loss").toBeLessThan(1e-5);
      for (const name of ["bn/gamma", "bn/beta", "bn/moving_mean", "bn/moving_variance"]) expect(w1[name]).toEqual(w0[name]);
      expect(Object.keys(ref.grads).sort()).toEqual(["pre/bias", "pre/kernel"]);
      for (const [name, grad] of Object.entries(ref.grads)) {
        const got = w0[name]!.map((v, i) => v - w1[name]![i]!);
        expect(relErr(got, grad), `${name} at batch ${batch}`).toBeLessThan(1e-4);
      }
    }
  });
});
