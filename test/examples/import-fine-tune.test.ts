// The import-fine-tune example in quick mode: a CNN trained by TF.js on digits 0–4 (prepare.mjs),
// imported into kiln, its convolutions frozen and its head replaced, fine-tuned on 5 examples of
// each digit 5–9 next to the same architecture trained from scratch.
import { describe, expect, test } from "vitest";
import { EXAMPLE_TIMEOUT, expectLossFalls, runExample } from "./helpers.js";

describe("examples/import-fine-tune", () => {
  test("run.mjs --quick: the import predicts as TF.js, the frozen backbone stays as imported, fine-tuning beats chance by a margin", async () => {
    const { stdout, summary } = await runExample("import-fine-tune");
    // kiln's compiled import against TF.js's own load of the same files, on the test digits 0–4.
    expect(summary.import.maxDiff).toBeLessThan(1e-4);
    expect(summary.import.agree).toBe(summary.import.count);
    expect(summary.import.kilnAccuracy).toBe(summary.import.tfAccuracy);
    expect(summary.results.map((r: any) => `${r.kind}/${r.shots}`)).toEqual(["fine-tuned/5", "from scratch/5"]);
    for (const r of summary.results) expectLossFalls(r.history, r.lossBefore);
    const tuned = summary.results.find((r: any) => r.kind === "fine-tuned");
    expect(tuned.backboneUnchanged).toBe(true);
    // Five classes: chance is 20 %. Features learned on digits 0–4 must carry over to 5–9.
    expect(tuned.testAccuracy).toBeGreaterThan(0.4);
    expect(stdout).toMatch(/\n\s+5 \|\s+\d+\.\d\d % \|\s+\d+\.\d\d % \| -?\d+\.\d\d points/);
  }, EXAMPLE_TIMEOUT);
});
