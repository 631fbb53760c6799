// The names-gender example in quick mode: embedding → LSTM → sigmoid on real name lists.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { EXAMPLE_TIMEOUT, expectLearningCurve, expectLossFalls, runExample } from "./helpers.js";

describe("examples/names-gender", () => {
  test("run.mjs --quick: the loss falls and P(female) is printed for sample names", async () => {
    const { dir, stdout, summary } = await runExample("names-gender");
    expectLossFalls(summary.history, summary.lossBefore);
    expect(summary.majority).toBeGreaterThan(0.5);
    expect(summary.majority).toBeLessThan(0.6);
    expect(summary.testAccuracy).toBeGreaterThan(0);
    expect(summary.testAccuracy).toBeLessThanOrEqual(1);
    expect(stdout).toMatch(/P\(female\): emma \d\.\d\d/);
    expectLearningCurve(join(dir, "learning-curve.svg"), ["Loss", "Accuracy"]);
  }, EXAMPLE_TIMEOUT);
});
