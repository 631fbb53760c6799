// The iris example in quick mode: standardized features, stratified split, softmax regression.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { EXAMPLE_TIMEOUT, expectLearningCurve, expectLossFalls, runExample } from "./helpers.js";

describe("examples/iris", () => {
  test("run.mjs --quick: loss falls and the test accuracy is well above chance (1/3)", async () => {
    const { dir, stdout, summary } = await runExample("iris");
    expectLossFalls(summary.history, summary.lossBefore);
    expect(summary.history.val_loss.at(-1)).toBeLessThan(summary.history.val_loss[0]);
    expect(summary.testAccuracy).toBeGreaterThan(0.6);
    // 30 test flowers: the accuracy is a count over 30.
    expect(Math.abs(summary.testAccuracy * 30 - Math.round(summary.testAccuracy * 30))).toBeLessThan(1e-4);
    expect(stdout).toContain("confusion matrix");
    expectLearningCurve(join(dir, "learning-curve.svg"), ["Loss", "Accuracy"]);
  }, EXAMPLE_TIMEOUT);
});
