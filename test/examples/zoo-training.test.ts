// The zoo's two real training runs in quick mode: the U-Net on noisy MNIST canvases and the
// WaveNet-style names classifier next to the names-gender LSTM.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { EXAMPLE_TIMEOUT, expectLearningCurve, expectLossFalls, runExample } from "./helpers.js";

describe("examples/zoo training runs", () => {
  test("unet-mnist --quick: the loss falls; held-out pixel accuracy, IoU and the threshold baseline are reported", async () => {
    const { dir, stdout, summary } = await runExample("zoo/unet-mnist");
    expectLossFalls(summary.history, summary.lossBefore);
    for (const v of [summary.testPixelAccuracy, summary.testIoU, summary.baseline.pixelAccuracy, summary.baseline.iou]) {
      expect(v).toBeGreaterThanOrEqual(0);
      expect(v).toBeLessThanOrEqual(1);
    }
    // The noisy background defeats a plain threshold: it finds the digits, but not cleanly.
    expect(summary.baseline.iou).toBeGreaterThan(0.2);
    expect(summary.baseline.iou).toBeLessThan(0.8);
    expect(stdout).toMatch(/U-Net: held-out pixel accuracy \d+\.\d\d%, IoU \d\.\d{3}/);
    expectLearningCurve(join(dir, "learning-curve.svg"), ["Loss", "Accuracy"]);
  }, EXAMPLE_TIMEOUT);

  test("wavenet-names --quick: both models train on the same split; accuracy and time reported for each", async () => {
    const { dir, summary } = await runExample("zoo/wavenet-names");
    for (const model of ["wavenet", "lstm"]) {
      const r = summary[model];
      expectLossFalls(r.history, r.lossBefore);
      expect(r.testAccuracy).toBeGreaterThan(0);
      expect(r.testAccuracy).toBeLessThanOrEqual(1);
      expect(r.trainSeconds).toBeGreaterThan(0);
      expectLearningCurve(join(dir, `learning-curve-${model}.svg`), ["Loss", "Accuracy"]);
    }
    expect(summary.wavenet.params).toBe(27_713);
    expect(summary.lstm.params).toBe(6_785);
    expect(summary.majority).toBeGreaterThan(0.5);
  }, EXAMPLE_TIMEOUT);
});
