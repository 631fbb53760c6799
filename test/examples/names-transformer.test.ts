// The names-transformer example in quick mode: the causal Transformer trains, its held-out NLL
// per character falls, the bigram baseline is computed, and 20 seeded samples are printed.
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import { EXAMPLE_TIMEOUT, expectLearningCurve, expectLossFalls, runExample } from "./helpers.js";

describe("examples/names-transformer", () => {
  test("run.mjs --quick: loss and held-out NLL fall; 20 names sampled", async () => {
    const { dir, stdout, summary } = await runExample("names-transformer");
    expectLossFalls(summary.history);
    expect(summary.heldOutNll).toBeLessThan(summary.heldOutNllBefore);
    // Untrained, the model is near uniform over the 30 tokens.
    expect(summary.heldOutNllBefore).toBeGreaterThan(Math.log(30) - 0.5);
    expect(summary.bigramNll).toBeGreaterThan(0);
    expect(summary.bigramNll).toBeLessThan(Math.log(30));
    expect(summary.improvement).toBeCloseTo(summary.bigramNll - summary.heldOutNll, 9);
    expect(summary.samples).toHaveLength(20);
    for (const name of summary.samples) expect(name).toMatch(/^[a-z' -]{1,15}$/);
    expect(stdout).toContain("20 sampled names");
    expectLearningCurve(join(dir, "learning-curve.svg"), ["Loss", "Accuracy"]);
  }, EXAMPLE_TIMEOUT);
});
