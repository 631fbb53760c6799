/**
 * Every loss of spec §3 (with from_logits, the fused softmax + cross-entropies, a target [] against
 * an output [1], sparse cross-entropy over time) and every metric of §4, compiled: loss, metrics and
 * weight gradients of one train step against the float64 reference (1e-4), `evaluate` likewise,
 * and the compiled gradients against central finite differences of the reference's loss (1e-2).
 */
import { describe, expect, it } from "vitest";
import { finiteDifferences, lossTensor, referenceGradients, runReference, type RefGraph } from "../reference/index.js";
import {
  build, compiledGradients, distributions, f64, gradientErrors, ints, randomizeWeights, relErr, size, uniform, type Feeds,
} from "./helpers.js";

interface LossCase {
  name: string;
  graph: RefGraph;
  /** Targets for `batch` examples. */
  target: (batch: number, seed: number) => Float32Array | Int32Array;
}

const BATCH = 3;
const ALL_METRICS = ["accuracy", "mean_squared_error", "mean_absolute_error"];

function lossCase(name: string, o: {
  layers: object[]; loss: string; fromLogits?: boolean; targetShape: number[]; int?: boolean; inputShape?: number[];
  target: LossCase["target"];
}): LossCase {
  const output = (o.layers.at(-1) as { name: string }).name;
  return {
    name,
    target: o.target,
    graph: {
      format: "kiln.graph/v2",
      name: "loss_case",
      seed: 1,
      inputs: [{ name: "x", shape: o.inputShape ?? [4] }],
      targets: [{ name: "t", shape: o.targetShape, ...(o.int ? { dtype: "int32" as const } : {}) }],
      layers: o.layers as RefGraph["layers"],
      training: {
        loss: { type: o.loss, output, target: "t", ...(o.fromLogits ? { from_logits: true } : {}) },
        optimizer: { type: "sgd", learning_rate: 1 },
        metrics: o.int ? ["accuracy"] : ALL_METRICS,
      },
    },
  };
}

const hidden = { name: "h", op: "dense", units: 5, activation: "tanh" };
const head = (units: number, activation = "linear") => [hidden, { name: "out", op: "dense", units, activation }];
const zeroOne = (k: number) => (b: number, s: number) => Float32Array.from(ints(b * k, 2, s));
const oneHot = (k: number) => (b: number, s: number) => {
  const ids = ints(b, k, s), out = new Float32Array(b * k);
  ids.forEach((id, r) => (out[r * k + id] = 1));
  return out;
};

const CASES: LossCase[] = [
  lossCase("mean_squared_error", { layers: head(3), loss: "mean_squared_error", targetShape: [3], target: (b, s) => uniform(b * 3, s) }),
  lossCase("mean_absolute_error", { layers: head(3), loss: "mean_absolute_error", targetShape: [3], target: (b, s) => uniform(b * 3, s) }),
  lossCase("mean_squared_error, target [] vs output [1]", { layers: head(1), loss: "mean_squared_error", targetShape: [], target: (b, s) => uniform(b, s) }),
  lossCase("binary_crossentropy on sigmoid probabilities", { layers: head(3, "sigmoid"), loss: "binary_crossentropy", targetShape: [3], target: zeroOne(3) }),
  lossCase("binary_crossentropy, soft targets", { layers: head(2, "sigmoid"), loss: "binary_crossentropy", targetShape: [2], target: (b, s) => uniform(b * 2, s, 0, 1) }),
  lossCase("binary_crossentropy from_logits", { layers: head(3), loss: "binary_crossentropy", fromLogits: true, targetShape: [3], target: zeroOne(3) }),
  lossCase("binary_crossentropy from_logits, target [] vs output [1]", { layers: head(1), loss: "binary_crossentropy", fromLogits: true, targetShape: [], target: zeroOne(1) }),
  lossCase("binary_crossentropy, target [] vs output [1]", { layers: head(1, "sigmoid"), loss: "binary_crossentropy", targetShape: [], target: zeroOne(1) }),
  lossCase("categorical_crossentropy, fused dense softmax", { layers: head(4, "softmax"), loss: "categorical_crossentropy", targetShape: [4], target: (b, s) => distributions(b, 4, s) }),
  lossCase("categorical_crossentropy, softmax layer", {
    layers: [...head(4), { name: "sm", op: "softmax" }], loss: "categorical_crossentropy", targetShape: [4], target: oneHot(4),
  }),
  lossCase("categorical_crossentropy on unnormalized probabilities (divided by their sum)", { layers: head(4, "sigmoid"), loss: "categorical_crossentropy", targetShape: [4], target: (b, s) => distributions(b, 4, s) }),
  lossCase("categorical_crossentropy from_logits", { layers: head(5), loss: "categorical_crossentropy", fromLogits: true, targetShape: [5], target: oneHot(5) }),
  lossCase("sparse_categorical_crossentropy, fused dense softmax", { layers: head(6, "softmax"), loss: "sparse_categorical_crossentropy", targetShape: [], int: true, target: (b, s) => ints(b, 6, s) }),
  lossCase("sparse_categorical_crossentropy from_logits", { layers: head(4), loss: "sparse_categorical_crossentropy", fromLogits: true, targetShape: [], int: true, target: (b, s) => ints(b, 4, s) }),
  lossCase("sparse_categorical_crossentropy on unnormalized probabilities", { layers: head(3, "sigmoid"), loss: "sparse_categorical_crossentropy", targetShape: [], int: true, target: (b, s) => ints(b, 3, s) }),
  lossCase("sparse_categorical_crossentropy over time: target [T] vs output [T, V]", {
    inputShape: [4, 3], layers: [{ name: "r", op: "simple_rnn", units: 5, return_sequences: true }, { name: "out", op: "dense", units: 6, activation: "softmax" }],
    loss: "sparse_categorical_crossentropy", targetShape: [4], int: true, target: (b, s) => ints(b * 4, 6, s),
  }),
  lossCase("sparse_categorical_crossentropy over time from_logits", {
    inputShape: [3, 2], layers: [{ name: "out", op: "dense", units: 5 }],
    loss: "sparse_categorical_crossentropy", fromLogits: true, targetShape: [3], int: true, target: (b, s) => ints(b * 3, 5, s),
  }),
];

/** The reference loss as a function of one weight tensor's values (the others fixed). */
function lossOf(c: LossCase, weights: Record<string, Float64Array>, name: string, feeds: Feeds): (w: Float64Array) => number {
  const spec = c.graph.training!.loss;
  const shape = [BATCH, ...c.graph.targets![0]!.shape];
  return (w) => {
    const run = runReference(c.graph, { ...weights, [name]: w }, feeds, BATCH, { training: true });
    return lossTensor(spec.type, run.values[spec.output]!, feeds.t!, shape, spec.from_logits).data[0]!;
  };
}

describe("losses and metrics: compiled vs float64 reference and finite differences", () => {
  for (const c of CASES) {
    it(c.name, async () => {
      const { model } = await build(c.graph);
      const w0 = randomizeWeights(model, 31, 0.9);
      const x = uniform(BATCH * size(c.graph.inputs[0]!.shape), 32);
      const feeds: Feeds = { x, t: c.target(BATCH, 33) };
      const got = compiledGradients(model, feeds);
      const ref = referenceGradients(c.graph, w0, feeds, feeds, BATCH);

      expect(Number.isFinite(ref.loss) && ref.loss > 0).toBe(true);
      expect(Math.abs(got.loss - ref.loss) / ref.loss, "loss").toBeLessThan(1e-4);
      expect(Object.keys(got.metrics).sort()).toEqual(Object.keys(ref.metrics).sort());
      for (const [m, v] of Object.entries(ref.metrics)) {
        expect(Math.abs(got.metrics[m]! - v) / Math.max(Math.abs(v), 1e-3), m).toBeLessThan(1e-4);
      }
      expect(Object.keys(got.grads).sort()).toEqual(Object.keys(ref.grads).sort());
      for (const [name, e] of Object.entries(gradientErrors(got.grads, ref.grads))) expect(e, `${name} vs reference`).toBeLessThan(1e-4);

      // evaluate: the same loss and metrics in inference mode, on the updated weights.
      const w1 = model.getWeights();
      const evalRef = referenceGradients(c.graph, w1, feeds, feeds, BATCH, { training: false });
      const ev = model.evaluate(feeds);
      expect(Math.abs(ev.loss - evalRef.loss) / evalRef.loss, "evaluate loss").toBeLessThan(1e-4);
      for (const [m, v] of Object.entries(evalRef.metrics)) {
        expect(Math.abs(ev.metrics[m]! - v) / Math.max(Math.abs(v), 1e-3), `evaluate ${m}`).toBeLessThan(1e-4);
      }

      const w64 = f64(w0);
      for (const name of Object.keys(ref.grads)) {
        const fd = finiteDifferences(lossOf(c, w64, name, feeds), Float64Array.from(w64[name]!));
        expect(relErr(got.grads[name]!, fd), `${name} vs finite differences`).toBeLessThan(1e-2);
      }
    });
  }

  it("accuracy counts ties for the first class and follows the loss, not the shapes", async () => {
    // A dense layer with all-zero weights: every output row is [0.5, 0.5] (binary: sigmoid(0) is not
    // above 0.5) or ties at class 0 (categorical).
    const c = CASES.find((k) => k.name === "binary_crossentropy, soft targets")!;
    const { model } = await build(c.graph);
    model.setWeights(Object.fromEntries(model.weights.map((w) => [w.name, new Float32Array(size(w.shape))])));
    const t = Float32Array.from([1, 0, 0, 0, 1, 1]);
    const r = model.trainStep({ x: uniform(12, 5), t }); // 3 examples of 2 outputs, all predicted 0
    expect(r.metrics.accuracy).toBeCloseTo(3 / 6, 6);
    const s = CASES.find((k) => k.name === "sparse_categorical_crossentropy, fused dense softmax")!;
    const sm = (await build(s.graph)).model;
    sm.setWeights(Object.fromEntries(sm.weights.map((w) => [w.name, new Float32Array(size(w.shape))])));
    expect(sm.trainStep({ x: uniform(12, 6), t: Int32Array.from([0, 3, 0]) }).metrics.accuracy).toBeCloseTo(2 / 3, 6);
  });
});
