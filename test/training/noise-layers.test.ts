/**
 * spatial_dropout1d/2d, gaussian_noise and gaussian_dropout in training steps: their masks and
 * noise are recomputed in JS from the functions documented in compiler/emit/dropout.ts (seed =
 * the graph's seed, step = completed steps, stream = the random layer's index among the graph's
 * dropout and noise layers, element index over the whole batch; a spatial mask has one element per
 * example and channel), handed to the float64 reference, and the compiled steps must agree with
 * it in loss and gradients. Predict and evaluate are the identity.
 */
import { describe, expect, it } from "vitest";
import { fmix32JS, streamConstant } from "../../compiler/emit/dropout.js";
import { referenceGradients, runReference, type RefGraph } from "../reference/index.js";
import { build, compiledGradients, gradientErrors, randomizeWeights, relErr, uniform, type Feeds } from "./helpers.js";

const BATCH = 3;
const SEED = 4242;

const IMAGE_GRAPH: RefGraph = {
  format: "kiln.graph/v2",
  name: "noise",
  seed: SEED,
  inputs: [{ name: "x", shape: [4, 4, 2] }],
  targets: [{ name: "y", shape: [2] }],
  layers: [
    { name: "c", op: "conv2d", filters: 3, kernel_size: 2, activation: "tanh" },
    { name: "sd", op: "spatial_dropout2d", rate: 0.5 },
    { name: "f", op: "flatten" },
    { name: "d1", op: "dense", units: 6, activation: "tanh" },
    { name: "gn", op: "gaussian_noise", stddev: 0.3 },
    { name: "d2", op: "dense", units: 5 },
    { name: "gd", op: "gaussian_dropout", rate: 0.4 },
    { name: "out", op: "dense", units: 2 },
  ],
  training: { loss: { type: "mean_squared_error", output: "out", target: "y" }, optimizer: { type: "sgd", learning_rate: 1 } },
};

const SEQUENCE_GRAPH: RefGraph = {
  format: "kiln.graph/v2",
  name: "noise_seq",
  seed: SEED,
  inputs: [{ name: "x", shape: [5, 3] }],
  targets: [{ name: "y", shape: [2] }],
  layers: [
    { name: "d", op: "dense", units: 4, activation: "tanh" },
    { name: "sd", op: "spatial_dropout1d", rate: 0.5 },
    { name: "f", op: "flatten" },
    { name: "out", op: "dense", units: 2 },
  ],
  training: { loss: { type: "mean_squared_error", output: "out", target: "y" }, optimizer: { type: "sgd", learning_rate: 1 } },
};

const keyOf = (seed: number, step: number, stream: number) =>
  fmix32JS((fmix32JS((fmix32JS((seed ^ 0x9e3779b9) >>> 0) ^ step) >>> 0) ^ streamConstant(stream)) >>> 0);
const hash = (key: number, i: number) => fmix32JS((fmix32JS((i ^ key) >>> 0) + key) >>> 0);

/** Keep (1) or drop (0) per example and channel, repeated over the `positions` of each example. */
function channelMask(seed: number, step: number, stream: number, rate: number, batch: number, positions: number, c: number): Float64Array {
  const key = keyOf(seed, step, stream), threshold = Math.ceil(rate * 2 ** 24);
  const out = new Float64Array(batch * positions * c);
  for (let e = 0; e < out.length; e++) {
    const example = Math.floor(e / (positions * c));
    out[e] = hash(key, example * c + (e % c)) >>> 8 >= threshold ? 1 : 0;
  }
  return out;
}

/** The documented Box–Muller noise, as the kernel stores it (f32). */
function normal(seed: number, step: number, stream: number, mean: number, stddev: number, n: number): Float64Array {
  const key = keyOf(seed, step, stream);
  return Float64Array.from({ length: n }, (_, e) => {
    const u1 = ((hash(key, (2 * e) >>> 0) >>> 8) + 1) / 16777216;
    const u2 = (hash(key, (2 * e + 1) >>> 0) >>> 8) / 16777216;
    return Math.fround(mean + stddev * Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2));
  });
}

const imageNoise = (seed: number, step: number, batch: number) => ({
  masks: { sd: channelMask(seed, step, 0, 0.5, batch, 9, 3) },
  noise: { gn: normal(seed, step, 1, 0, 0.3, batch * 6), gd: normal(seed, step, 2, 1, Math.sqrt(0.4 / 0.6), batch * 5) },
});

const feedsFor = (graph: RefGraph, batch: number, seed: number): Feeds => ({
  x: uniform(batch * graph.inputs[0]!.shape.reduce((a, b) => a * b, 1), seed), y: uniform(batch * 2, seed + 1, -2, 2),
});

describe("noise layers in compiled training steps", () => {
  it("steps 1-3 of conv → spatial_dropout2d → … gaussian_noise … gaussian_dropout match the reference given the recomputed masks and noise", async () => {
    const { model } = await build(IMAGE_GRAPH);
    randomizeWeights(model, 50, 0.8);
    for (let step = 0; step < 3; step++) {
      const w = model.getWeights();
      const feeds = feedsFor(IMAGE_GRAPH, BATCH, 60 + step);
      const got = compiledGradients(model, feeds);
      const { masks, noise } = imageNoise(SEED, step, BATCH);
      const ref = referenceGradients(IMAGE_GRAPH, w, feeds, feeds, BATCH, { dropoutMasks: masks, noise });
      expect(Math.abs(got.loss - ref.loss) / ref.loss, `loss at step ${step}`).toBeLessThan(1e-4);
      for (const [name, e] of Object.entries(gradientErrors(got.grads, ref.grads))) expect(e, `${name} at step ${step}`).toBeLessThan(1e-4);
      // Both kept and dropped channels, and the noise matters: another step's gives another loss.
      expect(masks.sd.some((v) => v === 0) && masks.sd.some((v) => v === 1)).toBe(true);
      const other = imageNoise(SEED, step + 1, BATCH);
      const otherRef = referenceGradients(IMAGE_GRAPH, w, feeds, feeds, BATCH, { dropoutMasks: other.masks, noise: other.noise });
      expect(Math.abs(otherRef.loss - ref.loss) / ref.loss).toBeGreaterThan(1e-3);
    }
  });

  it("spatial_dropout1d drops whole channels of [T, C] per example", async () => {
    const { model } = await build(SEQUENCE_GRAPH);
    for (let step = 0; step < 2; step++) {
      const w = step === 0 ? randomizeWeights(model, 53, 0.8) : model.getWeights();
      const feeds = feedsFor(SEQUENCE_GRAPH, 4, 90 + step);
      const got = compiledGradients(model, feeds);
      const ref = referenceGradients(SEQUENCE_GRAPH, w, feeds, feeds, 4, { dropoutMasks: { sd: channelMask(SEED, step, 0, 0.5, 4, 5, 4) } });
      expect(Math.abs(got.loss - ref.loss) / ref.loss, `loss at step ${step}`).toBeLessThan(1e-4);
      for (const [name, e] of Object.entries(gradientErrors(got.grads, ref.grads))) expect(e, `${name} at step ${step}`).toBeLessThan(1e-4);
    }
  });

  it("predict and evaluate are the identity (no masks, no noise), before and after training steps", async () => {
    const { model } = await build(IMAGE_GRAPH);
    randomizeWeights(model, 52, 0.8);
    model.trainStep(feedsFor(IMAGE_GRAPH, BATCH, 80));
    const w = model.getWeights();
    const feeds = feedsFor(IMAGE_GRAPH, BATCH, 81);
    const ref = runReference(IMAGE_GRAPH, w, feeds, BATCH, { training: false });
    expect(relErr(model.predict({ x: feeds.x! }).out!, ref.outputs.out!.data)).toBeLessThan(1e-5);
    const evalRef = referenceGradients(IMAGE_GRAPH, w, feeds, feeds, BATCH, { training: false });
    expect(Math.abs(model.evaluate(feeds).loss - evalRef.loss) / evalRef.loss).toBeLessThan(1e-5);
  });
});
