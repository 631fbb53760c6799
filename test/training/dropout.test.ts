/**
 * Dropout in training steps: the keep-masks are recomputed in JS from the hash documented in
 * compiler/emit/dropout.ts (seed = the graph's seed, step = completed steps, stream = the dropout
 * layer's index in the graph, element index over the whole batch), handed to the float64 reference,
 * and the compiled steps must then agree with it in loss and gradients. Predict is the identity.
 */
import { describe, expect, it } from "vitest";
import { fmix32JS, streamConstant } from "../../compiler/emit/dropout.js";
import { referenceGradients, runReference, type RefGraph } from "../reference/index.js";
import { build, compiledGradients, gradientErrors, randomizeWeights, relErr, uniform, type Feeds } from "./helpers.js";

const BATCH = 4;
const SEED = 1234567;

const GRAPH: RefGraph = {
  format: "kiln.graph/v2",
  name: "dropout",
  seed: SEED,
  inputs: [{ name: "x", shape: [6] }],
  targets: [{ name: "y", shape: [2] }],
  layers: [
    { name: "d1", op: "dense", units: 8, activation: "relu" },
    { name: "drop1", op: "dropout", rate: 0.5 },
    { name: "d2", op: "dense", units: 5, activation: "tanh" },
    { name: "drop2", op: "dropout", rate: 0.3 },
    { name: "out", op: "dense", units: 2 },
  ],
  training: { loss: { type: "mean_squared_error", output: "out", target: "y" }, optimizer: { type: "sgd", learning_rate: 1 } },
};

/** The documented mask hash: 1 (keep) or 0 per element e of the whole batch. */
function keepMask(seed: number, step: number, stream: number, rate: number, n: number): Float64Array {
  const key = fmix32JS((fmix32JS((fmix32JS((seed ^ 0x9e3779b9) >>> 0) ^ step) >>> 0) ^ streamConstant(stream)) >>> 0);
  const threshold = Math.ceil(rate * 2 ** 24);
  const out = new Float64Array(n);
  for (let e = 0; e < n; e++) {
    const x = fmix32JS((fmix32JS((e ^ key) >>> 0) + key) >>> 0);
    out[e] = x >>> 8 >= threshold ? 1 : 0;
  }
  return out;
}

const masksFor = (seed: number, step: number, batch: number) => ({
  drop1: keepMask(seed, step, 0, 0.5, batch * 8),
  drop2: keepMask(seed, step, 1, 0.3, batch * 5),
});

const feedsFor = (seed: number): Feeds => ({ x: uniform(BATCH * 6, seed), y: uniform(BATCH * 2, seed + 1, -2, 2) });

describe("dropout masks in compiled training steps", () => {
  it("the documented hash keeps about 1 − rate of the elements", () => {
    const m = keepMask(SEED, 0, 0, 0.3, 20000);
    const kept = m.reduce((s, v) => s + v, 0) / m.length;
    expect(Math.abs(kept - 0.7)).toBeLessThan(0.02);
  });

  it("steps 1-3 match the reference given the recomputed masks (seed, step = completed steps, stream per layer)", async () => {
    const { model } = await build(GRAPH);
    expect(model.manifest.seed).toBe(SEED);
    randomizeWeights(model, 50, 0.8);
    for (let step = 0; step < 3; step++) {
      const w = model.getWeights();
      const feeds = feedsFor(60 + step);
      const got = compiledGradients(model, feeds);
      const ref = referenceGradients(GRAPH, w, feeds, feeds, BATCH, { dropoutMasks: masksFor(SEED, step, BATCH) });
      expect(Math.abs(got.loss - ref.loss) / ref.loss, `loss at step ${step}`).toBeLessThan(1e-4);
      for (const [name, e] of Object.entries(gradientErrors(got.grads, ref.grads))) expect(e, `${name} at step ${step}`).toBeLessThan(1e-4);
      // The masks matter: those of another step (or another seed) give another loss.
      const other = referenceGradients(GRAPH, w, feeds, feeds, BATCH, { dropoutMasks: masksFor(SEED, step + 1, BATCH) });
      const otherSeed = referenceGradients(GRAPH, w, feeds, feeds, BATCH, { dropoutMasks: masksFor(SEED + 1, step, BATCH) });
      expect(Math.abs(other.loss - ref.loss) / ref.loss).toBeGreaterThan(1e-3);
      expect(Math.abs(otherSeed.loss - ref.loss) / ref.loss).toBeGreaterThan(1e-3);
    }
  });

  it("a smaller batch uses the first elements of the same stream", async () => {
    const { model } = await build(GRAPH);
    const w = randomizeWeights(model, 51, 0.8);
    const feeds: Feeds = { x: uniform(2 * 6, 70), y: uniform(2 * 2, 71) };
    const got = compiledGradients(model, feeds);
    const ref = referenceGradients(GRAPH, w, feeds, feeds, 2, { dropoutMasks: masksFor(SEED, 0, 2) });
    expect(Math.abs(got.loss - ref.loss) / ref.loss).toBeLessThan(1e-4);
    for (const [name, e] of Object.entries(gradientErrors(got.grads, ref.grads))) expect(e, name).toBeLessThan(1e-4);
  });

  it("predict and evaluate are the identity (no masks), before and after training steps", async () => {
    const { model } = await build(GRAPH);
    randomizeWeights(model, 52, 0.8);
    model.trainStep(feedsFor(80));
    const w = model.getWeights();
    const feeds = feedsFor(81);
    const ref = runReference(GRAPH, w, feeds, BATCH, { training: false });
    expect(relErr(model.predict({ x: feeds.x! }).out!, ref.outputs.out!.data)).toBeLessThan(1e-5);
    const evalRef = referenceGradients(GRAPH, w, feeds, feeds, BATCH, { training: false });
    expect(Math.abs(model.evaluate(feeds).loss - evalRef.loss) / evalRef.loss).toBeLessThan(1e-5);
  });
});
