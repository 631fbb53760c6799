/**
 * Freezing (spec §2, `trainable: false`) and batch-normalization state in training: a frozen layer
 * gets no update and no weight decay while gradients flow through it; a frozen batch normalization
 * runs on its moving statistics; a trainable one updates them as the reference's `state` says.
 */
import { describe, expect, it } from "vitest";
import { referenceGradients, type RefGraph } from "../reference/index.js";
import { build, compiledGradients, gradientErrors, norm, randomizeWeights, relErr, uniform, type Feeds } from "./helpers.js";

const BATCH = 4;

const graph = (layers: object[], out: number[], optimizer: Record<string, unknown> = { type: "sgd", learning_rate: 1 }, inShape = [4]): RefGraph => ({
  format: "kiln.graph/v2",
  name: "frozen",
  seed: 4,
  inputs: [{ name: "x", shape: inShape }],
  targets: [{ name: "y", shape: out }],
  layers: layers as RefGraph["layers"],
  training: { loss: { type: "mean_squared_error", output: (layers.at(-1) as { name: string }).name, target: "y" }, optimizer },
});

const feedsFor = (g: RefGraph, seed: number): Feeds => ({
  x: uniform(BATCH * g.inputs[0]!.shape.reduce((a, b) => a * b, 1), seed),
  y: uniform(BATCH * g.targets![0]!.shape.reduce((a, b) => a * b, 1), seed + 1, -2, 2),
});

const sandwich = [
  { name: "d1", op: "dense", units: 5, activation: "tanh" },
  { name: "d2", op: "dense", units: 4, activation: "tanh", trainable: false },
  { name: "d3", op: "dense", units: 2 },
];

describe("frozen layers", () => {
  it("a frozen dense between two trainable ones: no update, gradients flow through it", async () => {
    const g = graph(sandwich, [2]);
    const { model } = await build(g);
    expect(model.weights.filter((w) => !w.trainable).map((w) => w.name).sort()).toEqual(["d2/bias", "d2/kernel"]);
    const w0 = randomizeWeights(model, 12, 0.8);
    const feeds = feedsFor(g, 40);
    const got = compiledGradients(model, feeds);
    const after = model.getWeights();
    expect(Array.from(after["d2/kernel"]!)).toEqual(Array.from(w0["d2/kernel"]!));
    expect(Array.from(after["d2/bias"]!)).toEqual(Array.from(w0["d2/bias"]!));
    const ref = referenceGradients(g, w0, feeds, feeds, BATCH);
    expect(Object.keys(ref.grads).sort()).toEqual(["d1/bias", "d1/kernel", "d3/bias", "d3/kernel"]);
    expect(norm(ref.grads["d1/kernel"]!)).toBeGreaterThan(1e-3); // the gradient reaches d1 through d2
    expect(Math.abs(got.loss - ref.loss) / ref.loss).toBeLessThan(1e-4);
    for (const [name, e] of Object.entries(gradientErrors(got.grads, ref.grads))) expect(e, name).toBeLessThan(1e-4);
  });

  it("a frozen layer gets no weight decay (adamw, two steps)", async () => {
    const g = graph(sandwich, [2], { type: "adamw", learning_rate: 0.05, weight_decay: 0.5 });
    const { model } = await build(g);
    const w0 = randomizeWeights(model, 13, 0.8);
    model.trainStep(feedsFor(g, 41));
    model.trainStep(feedsFor(g, 42));
    const after = model.getWeights();
    for (const name of ["d2/kernel", "d2/bias"]) expect(Array.from(after[name]!), name).toEqual(Array.from(w0[name]!));
    for (const name of ["d1/kernel", "d3/kernel"]) expect(relErr(after[name]!, w0[name]!), name).toBeGreaterThan(1e-3);
  });

  it("a frozen batch_normalization uses (and keeps) its moving statistics", async () => {
    const g = graph([
      { name: "d1", op: "dense", units: 3 },
      { name: "bn", op: "batch_normalization", trainable: false },
      { name: "d2", op: "dense", units: 2 },
    ], [3, 2], { type: "sgd", learning_rate: 1 }, [3, 4]);
    const { model } = await build(g);
    const w0 = randomizeWeights(model, 14, 0.8);
    const feeds = feedsFor(g, 43);
    const inference = model.evaluate(feeds).loss;
    const got = compiledGradients(model, feeds);
    const after = model.getWeights();
    for (const w of ["gamma", "beta", "moving_mean", "moving_variance"]) {
      expect(Array.from(after[`bn/${w}`]!), w).toEqual(Array.from(w0[`bn/${w}`]!));
    }
    const ref = referenceGradients(g, w0, feeds, feeds, BATCH);
    const batchStats = referenceGradients({ ...g, layers: g.layers.map((l) => ({ ...l, trainable: true })) }, w0, feeds, feeds, BATCH);
    expect(Math.abs(batchStats.loss - ref.loss) / ref.loss).toBeGreaterThan(1e-2); // the two modes differ here
    expect(Math.abs(got.loss - ref.loss) / ref.loss).toBeLessThan(1e-4);
    expect(Math.abs(inference - ref.loss) / ref.loss).toBeLessThan(1e-4); // the train step ran in inference mode
    expect(Object.keys(ref.grads).sort()).toEqual(["d1/bias", "d1/kernel", "d2/bias", "d2/kernel"]);
    for (const [name, e] of Object.entries(gradientErrors(got.grads, ref.grads))) expect(e, name).toBeLessThan(1e-4);
  });
});

describe("batch_normalization moving statistics in training", () => {
  for (const [label, inShape, attrs] of [
    ["rank-1 input, momentum 0.8", [4], { momentum: 0.8 }],
    ["rank-2 input (statistics over batch and time), defaults", [3, 4], {}],
  ] as [string, number[], object][]) {
    it(label, async () => {
      const g = graph([
        { name: "d1", op: "dense", units: 3 },
        { name: "bn", op: "batch_normalization", ...attrs },
        { name: "d2", op: "dense", units: 2 },
      ], [...inShape.slice(0, -1), 2], { type: "sgd", learning_rate: 1 }, inShape);
      const { model } = await build(g);
      const w0 = randomizeWeights(model, 15, 0.8);
      const feeds = feedsFor(g, 44);
      const got = compiledGradients(model, feeds);
      const after = model.getWeights();
      const ref = referenceGradients(g, w0, feeds, feeds, BATCH);
      expect(Math.abs(got.loss - ref.loss) / ref.loss).toBeLessThan(1e-4);
      for (const w of ["moving_mean", "moving_variance"]) {
        const want = ref.run.state[`bn/${w}`]!;
        expect(relErr(want, w0[`bn/${w}`]!), `${w} changed`).toBeGreaterThan(1e-3);
        expect(relErr(after[`bn/${w}`]!, want), w).toBeLessThan(1e-5);
      }
      expect(Object.keys(ref.grads)).toContain("bn/gamma");
      for (const [name, e] of Object.entries(gradientErrors(got.grads, ref.grads))) expect(e, name).toBeLessThan(1e-4);
    });
  }
});
