/**
 * Learning-rate schedules in compiled modules (spec §4): each SGD update of a scheduled model is
 * lr(step)·g with Keras's lr at the optimizer's step (g measured by a twin module with lr = 1 at
 * the same weights), and training resumed from a checkpoint continues the schedule bit-identically.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { learningRate, setLearningRate } from "../../runtime/train.js";
import { kerasLearningRate, type ScheduleArgs } from "../kernels/schedule-ref.js";
import { uniform, type Feeds } from "./helpers.js";

const BATCH = 4;
const graph = (learning_rate: unknown, type = "sgd") => JSON.stringify({
  format: "kiln.graph/v2", name: "sched", seed: 5,
  inputs: [{ name: "x", shape: [3] }], targets: [{ name: "y", shape: [2] }],
  layers: [{ name: "d", op: "dense", units: 2 }],
  training: { loss: { type: "mean_squared_error", output: "d", target: "y" }, optimizer: { type, learning_rate } },
});
const batches: Feeds[] = Array.from({ length: 8 }, (_v, i) => ({ x: uniform(BATCH * 3, 70 + i), y: uniform(BATCH * 2, 90 + i) }));

const COSINE: ScheduleArgs = { schedule: "cosine_decay", initial_learning_rate: 0.0, decay_steps: 4, alpha: 0.1, warmup_target: 0.2, warmup_steps: 2 };

describe("scheduled learning rates in a compiled module", () => {
  it("every SGD update is −lr(step)·g, lr from Keras's cosine_decay with warmup", async () => {
    const scheduled = await loadModel((await compile(graph(COSINE), { maxBatch: BATCH })).wasm);
    const unit = await loadModel((await compile(graph(1), { maxBatch: BATCH })).wasm);
    batches.forEach((b, step) => {
      const w0 = scheduled.getWeights();
      unit.setWeights(w0);
      unit.trainStep(b);
      scheduled.trainStep(b);
      const g = unit.getWeights(), w1 = scheduled.getWeights(), lr = kerasLearningRate(COSINE, step);
      for (const name of Object.keys(w0)) {
        w0[name]!.forEach((x, i) => {
          const want = lr * (g[name]![i]! - x); // the unit step's change is −g
          expect(Math.abs(w1[name]![i]! - x - want), `${name}[${i}] at step ${step}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(x)));
        });
      }
    });
  });

  for (const lr of [COSINE, { schedule: "piecewise_constant", boundaries: [1, 4], values: [0.01, 0.005, 0.001] }]) {
    it(`resuming from a checkpoint continues ${lr.schedule} bit-identically (adam)`, async () => {
      const { wasm } = await compile(graph(lr, "adam"), { maxBatch: BATCH });
      const straight = await loadModel(wasm);
      batches.forEach((b) => straight.trainStep(b));
      const first = await loadModel(wasm);
      batches.slice(0, 3).forEach((b) => first.trainStep(b));
      const resumed = await loadModel(wasm);
      resumed.loadWeights(first.saveWeights());
      batches.slice(3).forEach((b) => resumed.trainStep(b));
      expect(Buffer.from(resumed.saveWeights()).equals(Buffer.from(straight.saveWeights()))).toBe(true);
    });
  }

  it("the manifest carries the schedule with Keras's defaults filled in", async () => {
    const { manifest } = await compile(graph({ schedule: "polynomial_decay", initial_learning_rate: 0.1, decay_steps: 10 }), { maxBatch: BATCH });
    expect(manifest.training!.optimizer.learning_rate).toEqual({ schedule: "polynomial_decay", initial_learning_rate: 0.1, decay_steps: 10, end_learning_rate: 0.0001, power: 1, cycle: false });
  });

  it("rejects a bad schedule with its JSON path, and a settable rate with a schedule", async () => {
    await expect(compile(graph({ schedule: "piecewise_constant", boundaries: [5, 3], values: [1, 2] }))).rejects.toThrow(
      /\/training\/optimizer\/learning_rate\/values: expected 3 values.*\n?.*\/training\/optimizer\/learning_rate\/boundaries\/1: expected boundaries in increasing order/s,
    );
    await expect(compile(graph({ schedule: "cosine", decay_steps: 3 }))).rejects.toThrow(/\/training\/optimizer\/learning_rate\/schedule: expected one of .*cosine_decay/);
    await expect(compile(graph({ schedule: "exponential_decay", initial_learning_rate: 0.1, decay_rate: 0.5 }))).rejects.toThrow(/missing required "decay_steps"/);
    await expect(compile(graph(COSINE), { settableLearningRate: true })).rejects.toThrow(/settable learning rate .* needs a number learning rate/);
  });

  it("a settable learning rate: the graph's until set; set, SGD matches a module compiled with that rate bit for bit; fit's learningRate sets it", async () => {
    const settable = await loadModel((await compile(graph(0.1), { maxBatch: BATCH, settableLearningRate: true })).wasm);
    const fixed = await loadModel((await compile(graph(0.1), { maxBatch: BATCH })).wasm);
    const slower = await loadModel((await compile(graph(0.025), { maxBatch: BATCH })).wasm);
    expect(learningRate(settable)).toBe(Math.fround(0.1));
    fixed.setWeights(settable.getWeights());
    batches.slice(0, 2).forEach((b) => expect(settable.trainStep(b).loss).toBe(fixed.trainStep(b).loss));
    setLearningRate(settable, 0.025);
    expect(learningRate(settable)).toBe(Math.fround(0.025));
    slower.setWeights(settable.getWeights());
    batches.slice(2).forEach((b) => {
      settable.trainStep(b);
      slower.trainStep(b);
    });
    expect(settable.getWeights()).toEqual(slower.getWeights());
    // Not part of saveWeights (the predict-only runtime's weights I/O stays as it was): fit's learningRate option restores it.
    const again = await loadModel((await compile(graph(0.1), { maxBatch: BATCH, settableLearningRate: true })).wasm);
    again.loadWeights(settable.saveWeights());
    expect(learningRate(again)).toBe(Math.fround(0.1));
    await again.fit(batches[0]!, { epochs: 1, batchSize: BATCH, learningRate: 0.025 });
    expect(learningRate(again)).toBe(Math.fround(0.025));
    expect(() => setLearningRate(fixed, 0.5)).toThrow(/compiled in as a constant; compile it with \{ settableLearningRate: true \}/);
    expect(() => setLearningRate(settable, -1)).toThrow(/expected a learning rate > 0/);
    expect(learningRate(settable)).toBe(Math.fround(0.025));
  });
});
