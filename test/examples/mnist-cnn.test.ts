// The mnist-cnn example in quick mode (640 training digits, 2 epochs): the pipeline runs end to
// end on real digits, the loss falls and the test accuracy is far above chance (10%).
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { EXAMPLE_TIMEOUT, expectLearningCurve, expectLossFalls, runExample } from "./helpers.js";

describe("examples/mnist-cnn", () => {
  test("run.mjs --quick --seed 3 trains the Keras CNN on real digits", async () => {
    const { dir, stdout, summary } = await runExample("mnist-cnn", ["--seed", "3"]);
    expect(summary.train).toBe(640);
    expect(summary.test).toBe(160);
    expect(summary.runs).toHaveLength(1);
    const run = summary.runs[0];
    expect(run.seed).toBe(3);
    expectLossFalls(run.history, run.lossBefore);
    expect(run.history.val_accuracy).toHaveLength(2);
    expect(run.testAccuracy).toBeCloseTo(run.history.val_accuracy.at(-1), 6);
    expect(run.testAccuracy).toBeGreaterThan(0.3);
    expect(run.epochSeconds.every((s: number) => Number.isFinite(s) && s > 0)).toBe(true);
    expect(stdout).toMatch(/test accuracy \d+\.\d\d%/);
    expectLearningCurve(join(dir, "learning-curve.svg"), ["Loss", "Accuracy"]);
  }, EXAMPLE_TIMEOUT);
});
