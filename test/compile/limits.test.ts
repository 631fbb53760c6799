/**
 * Compile limits (issue 22.1, compiler/limits.ts): each limit is a `limit` KilnError naming the
 * layer, raised before the work it bounds; and what used to grow with a graph's numbers no longer
 * does (a direct convolution's source with its filter count). Timings are not asserted here:
 * `npm run check-limits` compiles a graph at each limit and prints the time.
 */
import { afterEach, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { checkGraph } from "../../compiler/frontend/index.js";
import { KilnError } from "../../compiler/frontend/diagnostics.js";
import { COMPILE_LIMITS } from "../../compiler/limits.js";
import { runPipelineSync } from "../../compiler/pipeline.js";

const OPTIONS = { maxBatch: 4, threads: 0, relaxedSimd: false, optimizeLevel: 0 as const, guardBytes: 0 };

function rnnStack(layers: number, T: number, layer: object) {
  return {
    format: "kiln.graph/v2", name: "deep", inputs: [{ name: "x", shape: [T, 1] }], targets: [{ name: "y", shape: [T, 1] }],
    layers: Array.from({ length: layers }, (_, i) => ({ name: `rnn${i}`, ...layer, units: 1, return_sequences: true })),
    training: { loss: { type: "mean_squared_error", output: `rnn${layers - 1}`, target: "y" }, optimizer: { type: "sgd", learning_rate: 0.1 } },
  };
}

const lstmStack = (layers: number, T: number) => rnnStack(layers, T, { op: "lstm" });

function denseChain(n: number) {
  return {
    format: "kiln.graph/v2", name: "deep", inputs: [{ name: "x", shape: [1] }], targets: [{ name: "y", shape: [1] }],
    layers: Array.from({ length: n }, (_, i) => ({ name: `d${i}`, op: "dense", units: 1 })),
    training: { loss: { type: "mean_squared_error", output: `d${n - 1}`, target: "y" }, optimizer: { type: "sgd", learning_rate: 0.1 } },
  };
}

function conv(filters: number) {
  return { format: "kiln.graph/v2", name: "c", inputs: [{ name: "x", shape: [6, 6, 1] }], layers: [{ name: "wide", op: "conv2d", filters, kernel_size: 3, use_bias: true }] };
}

async function limitError(run: () => unknown): Promise<KilnError> {
  const err = await Promise.resolve().then(run).then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(KilnError);
  const k = err as KilnError;
  expect(k.diagnostics.map((d) => d.code)).toContain("limit");
  return k;
}

describe("compile limits", () => {
  const saved = { ...COMPILE_LIMITS };
  afterEach(() => Object.assign(COMPILE_LIMITS, saved));

  it(`a recurrent layer over more than ${COMPILE_LIMITS.recurrentSteps} steps is refused by check, naming the layer`, async () => {
    checkGraph(JSON.stringify(lstmStack(1, COMPILE_LIMITS.recurrentSteps))); // at the limit: fine
    const err = await limitError(() => checkGraph(JSON.stringify(lstmStack(1, COMPILE_LIMITS.recurrentSteps + 1))));
    expect(err.diagnostics[0]).toMatchObject({ layer: "rnn0", path: "/layers/0" });
    expect(err.diagnostics[0]!.message).toContain(`at most ${COMPILE_LIMITS.recurrentSteps} steps`);
  });

  it("a graph that lowers to more IR nodes than the limit stops at the pass that crossed it, naming the heaviest layer", async () => {
    COMPILE_LIMITS.irNodes = 2000; // 300 dense layers lower to ~2,400 nodes with training
    const err = await limitError(() => compile(JSON.stringify(denseChain(300)), { maxBatch: 2 }));
    const d = err.diagnostics[0]!;
    expect(d.message).toMatch(/lowers to [\d,]+ IR nodes \(after (lower|autodiff)\); the limit is 2,000/);
    expect(d.layer).toMatch(/^d\d+$/);
  });

  it("generated source past the limit is refused after emit, before asc runs", async () => {
    COMPILE_LIMITS.sourceChars = 2000; // far below what any module needs
    const err = await limitError(() => compile(JSON.stringify(conv(8)), { maxBatch: 2 }));
    expect(err.diagnostics[0]!.message).toMatch(/generated AssemblyScript would be [\d,]+ characters; the limit is 2,000/);
    expect(err.diagnostics[0]!.layer).toBe("wide");
  });

  it("a recurrent layer past the unroll threshold is one loop: the same IR at 64 steps and at the step limit", () => {
    const nodes = (T: number) => {
      const b = runPipelineSync({ input: JSON.stringify(lstmStack(1, T)), options: OPTIONS }, "autodiff");
      return b.lowered!.mod.programs.map((p) => p.nodes.length);
    };
    expect(nodes(COMPILE_LIMITS.recurrentSteps)).toEqual(nodes(64));
  });

  it("a direct convolution's source does not grow with its filter count (no line per filter)", () => {
    const chars = (filters: number) => runPipelineSync({ input: JSON.stringify(conv(filters)), options: OPTIONS }, "emit").source!.length;
    const small = chars(5), large = chars(10_001);
    // Only the digits of the constants differ.
    expect(large).toBeLessThan(small * 1.1);
  });
});
