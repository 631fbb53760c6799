// Seeded fuzzing of the two example graphs: 2,000 mutations (drop, duplicate, retype, perturb,
// huge/negative numbers, deep nesting, hostile names and keys). Every case must either pass or end
// in a KilnError carrying at least one diagnostic with a string path — never another exception.
import { expect, test } from "vitest";
import { checkGraph } from "../../compiler/frontend/index.js";
import { KilnError } from "../../compiler/frontend/diagnostics.js";
import { examples, fuzzCases } from "./graphs-gen.js";

test("2,000 seeded mutations of the examples end in a graph or a located KilnError", () => {
  checkGraph(examples[0]); // compile the schema validator once, outside the per-case figures
  let passed = 0;
  let failed = 0;
  let slowest = 0;
  let i = 0;
  for (const input of fuzzCases()) {
    const t0 = performance.now();
    try {
      const graph = checkGraph(input);
      expect(graph.layers.length).toBeGreaterThan(0);
      for (const l of graph.layers) expect(l.shape.every((d) => Number.isSafeInteger(d) && d > 0)).toBe(true);
      passed++;
    } catch (err) {
      if (!(err instanceof KilnError)) throw new Error(`case ${i} threw ${String(err)}\n${String(input).slice(0, 500)}`);
      expect(err.diagnostics.length).toBeGreaterThan(0);
      expect(err.diagnostics.some((d) => typeof d.path === "string")).toBe(true);
      for (const d of err.diagnostics) expect(typeof d.message).toBe("string");
      failed++;
    }
    slowest = Math.max(slowest, performance.now() - t0);
    i++;
  }
  expect(passed + failed).toBe(2000);
  expect(failed).toBeGreaterThan(0);
  // Timings are reported here and asserted (each case < 1 s) by `npm run check-limits`.
  console.log(`fuzz: ${passed} passed, ${failed} rejected, slowest case ${slowest.toFixed(1)} ms`);
});
