/**
 * Three IR rewrites of compiler/passes/fuse.ts, seen in the seed CNN's train_step: identity copies are
 * gone (readers read the source), sums over all rows of a batch are taken per example first,
 * then over the examples, and filter gradients per chunk of 4 examples, then over the chunks.
 * Their values are checked by gradients.test.ts (batch 9 for convolutions: two whole chunks and
 * a short one) and the training tests (bias gradients and batch statistics go through the split
 * sums, every conv filter gradient through the chunks).
 */
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";

const cnn = readFileSync(new URL("../../examples/mnist-cnn/graph.json", import.meta.url), "utf8");

describe("IR rewrites in train_step", async () => {
  const { ir } = await compile(cnn, { maxBatch: 4 });
  const train = ir.slice(ir.indexOf("program train_step")).split("\n}\n")[0]!;
  const lines = train.split("\n").filter((l) => l.includes(" = "));

  it("has no identity copies left", () => {
    expect(lines.filter((l) => /= ew\(%\d+\) .*"exprs":\[\{"k":"in","i":0\}\],"accumulate":\[false\]/.test(l))).toEqual([]);
  });

  it("sums each conv bias gradient per example, then over the batch", () => {
    expect(lines.filter((l) => /= reduce\(.*"outer":"B\*\d+"/.test(l))).toEqual([]);
    for (const [layer, rows, cols] of [["conv1", 676, 32], ["conv2", 121, 64], ["conv3", 9, 64]] as const) {
      const perExample = lines.find((l) => l.includes(`"outer":"B","mid":${rows},"inner":${cols},"axis":"mid"`) && l.endsWith(`@"${layer}"`));
      expect(perExample, layer).toBeDefined();
      const partial = perExample!.match(/^\s*(%\d+):/)![1]!;
      const total = lines.find((l) => l.includes(`= reduce(${partial})`));
      expect(total, layer).toMatch(new RegExp(`%\\d+:grad\\[${cols}\\] = reduce\\(${partial}\\) \\{"outer":"B","mid":1,"inner":${cols},"axis":"outer"`));
      // the per-example half runs among the batch-split calls, before the filter gradients' sums
      expect(lines.indexOf(perExample!)).toBeLessThan(lines.findIndex((l) => l.includes("= chunk_sum(") && l.endsWith(`@"${layer}"`)));
    }
  });

  it("takes each filter gradient per chunk of 4 examples, then sums the chunks in order", () => {
    for (const [layer, q] of [["conv1", 9 * 1 * 32], ["conv2", 9 * 32 * 64], ["conv3", 9 * 64 * 64]] as const) {
      const chunked = lines.filter((l) => l.includes("conv2d_grad_filter") && l.endsWith(`@"${layer}"`));
      expect(chunked, layer).toHaveLength(1);
      // maxBatch 4: one chunk of partials (the chunk size is fixed, not derived from maxBatch)
      expect(chunked[0], layer).toMatch(new RegExp(`^\\s*%\\d+:activation\\[1,${q}\\] = conv2d_grad_filter\\(.*"accumulate":false,"chunk":4\\}`));
      const partials = chunked[0]!.match(/^\s*(%\d+):/)![1]!;
      const sum = lines.findIndex((l) => l.includes(`= chunk_sum(${partials})`));
      expect(lines[sum], layer).toMatch(new RegExp(`%\\d+:grad\\[3,3,\\d+,\\d+\\] = chunk_sum\\(${partials}\\) \\{"n":${q},"chunk":4,"accumulate":false\\}`));
      // the partials come right after the backward pass writes their dy, well before the sum
      expect(lines.indexOf(chunked[0]!)).toBeLessThan(sum - 1);
    }
  });
});

describe("conv2's forward Winograd tile", () => {
  it("is F(4×4) for inference and F(2×2) in the training step (exact zeros for the relu masks)", async () => {
    const r = await compile(cnn, { maxBatch: 4 });
    const labels = new Map([...r.source.matchAll(/^\/\/ (k\d+): (.*)$/gm)].map((m) => [m[1]!, m[2]!]));
    const conv2 = (prog: string) => (r.manifest.kernels!.calls as Record<string, [string, string][]>)[prog]!
      .filter(([k, layer]) => layer === "conv2" && labels.get(k)!.startsWith("conv2d winograd")).map(([k]) => labels.get(k)!);
    expect(conv2("predict")).toEqual([expect.stringContaining("winograd F4")]);
    expect(conv2("train_step")).toEqual([expect.stringContaining("winograd F2")]);
  });
});
