/**
 * A graph that passes `check` never fails in `compile` with an internal error: seeded mutations of
 * the example graphs and of a graph of every op with an axis (test/frontend/fuzz-graphs.ts), each
 * one `checkGraph` accepts compiled at the default max batch. Compiling must succeed or end in a
 * KilnError with located diagnostics — never a plain Error or TypeError. The first FULL_COMPILES
 * accepted graphs are compiled in full (`compile`, asc at optimizeLevel 0, a finished module); the
 * rest run every pass up to the generated AssemblyScript (`runPipelineSync(build, "emit")`, the
 * pipeline's documented stop) and skip asc, which takes most of a compile's time.
 */
import { expect, test } from "vitest";
import { compile } from "../../compiler/index.js";
import { runPipelineSync } from "../../compiler/pipeline.js";
import { checkGraph } from "../../compiler/frontend/index.js";
import { KilnError } from "../../compiler/frontend/diagnostics.js";
import { examples, mutated, prng, type J } from "../frontend/fuzz-graphs.js";

const CASES = 2000;
const FULL_COMPILES = 30;

/** Every op with an axis attribute, on axes that mutation moves around (numbers become 0..3, ±). */
const AXES_GRAPH = {
  format: "kiln.graph/v2", name: "axes", seed: 1,
  inputs: [{ name: "x", shape: [4, 3, 2] }, { name: "s", shape: [4, 3, 2] }],
  targets: [{ name: "y", shape: [4, 3, 2] }],
  layers: [
    { name: "bn", op: "batch_normalization", axis: 1, inputs: ["x"] },
    { name: "sm", op: "softmax", axis: 2 },
    { name: "cat", op: "concatenate", axis: 3, inputs: ["sm", "s"] },
    { name: "ln", op: "layer_normalization", axis: -1 },
    { name: "d", op: "dense", units: 2 },
    { name: "bn2", op: "batch_normalization", axis: -2 },
  ],
  training: { loss: { type: "mean_squared_error", output: "bn2", target: "y" }, optimizer: { type: "adam" } },
};

const SEEDS: J[] = [...examples, AXES_GRAPH, AXES_GRAPH];

/** compile()'s defaults: max batch 64, one thread, no debug guards. */
const UP_TO_SOURCE = { maxBatch: 64, optimizeLevel: 0, relaxedSimd: false, guardBytes: 0, threads: 0 } as const;

/** What compile threw, if anything other than a located KilnError. */
function internalError(err: unknown): string | undefined {
  if (!(err instanceof KilnError)) return String((err as Error)?.stack ?? err);
  if (err.diagnostics.length === 0 || err.diagnostics.some((d) => typeof d.path !== "string" || typeof d.message !== "string")) return `a KilnError without located diagnostics: ${err.message}`;
  return undefined;
}

test(`${CASES} seeded mutated graphs: each one check accepts compiles or ends in a KilnError`, async () => {
  const r = prng(0x61786573);
  let accepted = 0, full = 0, compiled = 0, refused = 0, batchNormOffLast = 0;
  const failures: string[] = [];
  for (let i = 0; i < CASES; i++) {
    const g = mutated(r, SEEDS);
    let checked;
    try {
      checked = checkGraph(g);
    } catch (err) {
      if (err instanceof KilnError) continue; // the front-end fuzz covers rejected graphs
      throw err;
    }
    accepted++;
    if (checked.layers.some((l) => l.op === "batch_normalization" && l.attrs.axis !== l.shape.length - 1)) batchNormOffLast++;
    const whole = full < FULL_COMPILES;
    if (whole) full++;
    try {
      if (whole) expect((await compile(g, { optimizeLevel: 0 })).wasm.length).toBeGreaterThan(8);
      else expect(runPipelineSync({ input: g, options: UP_TO_SOURCE }, "emit").source?.length).toBeGreaterThan(0);
      compiled++;
    } catch (err) {
      const problem = internalError(err);
      if (problem) failures.push(`case ${i}: ${problem.split("\n").slice(0, 3).join(" | ")}\n  graph: ${JSON.stringify(g).slice(0, 400)}`);
      else refused++;
    }
  }
  console.log(`fuzz-compile: ${CASES} cases, ${accepted} accepted by check (${full} full compiles, ${batchNormOffLast} with a batch_normalization off the last axis), ${compiled} compiled, ${refused} KilnErrors, ${failures.length} internal errors`);
  expect(failures, failures.join("\n")).toEqual([]);
  // The sweep is wide enough to mean something, and reaches the axis code paths.
  expect(full).toBe(FULL_COMPILES);
  expect(accepted).toBeGreaterThanOrEqual(100);
  expect(batchNormOffLast).toBeGreaterThanOrEqual(5);
}, 600_000);
