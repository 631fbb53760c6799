// The linear-regression example end to end, through the API script and through the kiln CLI.
import { execFile } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { describe, expect, test } from "vitest";
import { EXAMPLE_TIMEOUT, ROOT, expectLearningCurve, expectLossFalls, runExample } from "./helpers.js";

describe("examples/linear-regression", () => {
  test("run.mjs --quick learns y = x1 + x2: prediction for [5, 10] within 0.01 of 15", async () => {
    const { dir, stdout, summary } = await runExample("linear-regression");
    expectLossFalls(summary.history, summary.lossBefore);
    expect(summary.history.val_loss.at(-1)).toBeLessThan(summary.history.val_loss[0]);
    const [w1, w2] = summary.weights;
    expect(w1 + 2 * w2).toBeCloseTo(3, 2);
    expect(Math.abs(summary.prediction - 15)).toBeLessThanOrEqual(0.01);
    expect(summary.prediction).toBeCloseTo(5 * w1 + 10 * w2, 4);
    expect(stdout).toContain("prediction for [5, 10]");
    expectLearningCurve(join(dir, "learning-curve.svg"));
  }, EXAMPLE_TIMEOUT);

  test("cli.sh: kiln train on a data file, then kiln predict gives 15 for [5, 10]", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kiln-example-lr-cli-"));
    const { stdout } = await promisify(execFile)("sh", [join(ROOT, "examples/linear-regression/cli.sh"), dir], { cwd: ROOT, timeout: EXAMPLE_TIMEOUT });
    expect(stdout).toContain("Epoch 20/20"); // Keras's progress lines (piped: the closing line of each epoch)
    expect(stdout).toContain(`saved ${dir}/weights.safetensors`);
    const last = JSON.parse(stdout.trim().split("\n").at(-1)!);
    expect(last.linear).toHaveLength(1);
    expect(Math.abs(last.linear[0] - 15)).toBeLessThanOrEqual(0.01);
  }, EXAMPLE_TIMEOUT);
});
