// The fine-tune example in quick mode: base model on digits 0–4, then frozen conv layers with a
// new head vs the same architecture from scratch, on 5 examples of each digit 5–9.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { EXAMPLE_TIMEOUT, expectLearningCurve, expectLossFalls, runExample } from "./helpers.js";

describe("examples/fine-tune", () => {
  test("run.mjs --quick: base, fine-tuned and from-scratch runs all train", async () => {
    const { dir, stdout, summary } = await runExample("fine-tune");
    expect(summary.base.history.loss).toHaveLength(1);
    expect(summary.base.history.val_accuracy[0]).toBeGreaterThan(0.2);
    expect(summary.results.map((r: any) => `${r.kind}/${r.shots}`)).toEqual(["fine-tuned/5", "from scratch/5"]);
    for (const r of summary.results) {
      expectLossFalls(r.history, r.lossBefore);
      expect(r.testAccuracy).toBeGreaterThanOrEqual(0);
      expect(r.testAccuracy).toBeLessThanOrEqual(1);
      expect(Number.isFinite(r.secondsPerEpoch)).toBe(true);
    }
    expect(stdout).toMatch(/5\/digit: fine-tuned − scratch = -?\d+\.\d\d points/);
    expectLearningCurve(join(dir, "learning-curve-base.svg"), ["Loss", "Accuracy"]);
    expectLearningCurve(join(dir, "learning-curve-finetune-5.svg"), ["Loss", "Accuracy"]);
    expectLearningCurve(join(dir, "learning-curve-scratch-5.svg"), ["Loss", "Accuracy"]);
  }, EXAMPLE_TIMEOUT);
});
