/**
 * The conv2d → max_pooling2d fusion (compiler/passes/fuse.ts): predict and evaluate run one direct kernel
 * that stores window maxima (no separate pool call, no unpooled buffer); train_step keeps the
 * unpooled output for the pool gradient, whose kernel also applies the relu derivative that
 * follows it. Values are checked by forward.test.ts and gradients.test.ts (cases.ts).
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { CASES } from "./cases.js";
import { labelsOf } from "./kernel-calls.js";


describe("conv2d → max-pool fusion", () => {
  it("predict and evaluate call the fused direct kernel; train_step keeps conv and pool apart", async () => {
    const c = CASES.find((k) => k.name.startsWith("conv2d c=1 relu -> max_pooling2d"))!;
    const graph = {
      ...c.graph,
      targets: [{ name: "t", shape: [3, 3, 6] }],
      training: { loss: { type: "mean_squared_error", output: "p", target: "t" }, optimizer: { type: "sgd", learning_rate: 0.1 } },
    };
    const r = await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 3 });
    const labels = labelsOf(r.source);
    const calls = (prog: string) => (r.manifest.kernels!.calls as Record<string, [string, string][]>)[prog]!.map(([k]) => labels.get(k)!);
    for (const prog of ["predict", "evaluate"]) {
      expect(calls(prog).filter((l) => /conv2d direct .*maxpool 2x2/.test(l)), prog).toHaveLength(1);
      expect(calls(prog).some((l) => l.startsWith("maxpool2d")), prog).toBe(false);
    }
    // The pool gradient carries the relu derivative of its (relu'd) input: no separate ew pass.
    expect(calls("train_step").filter((l) => /^maxpool2d grad .* x relu grad$/.test(l))).toHaveLength(1);
    expect(calls("train_step").some((l) => /maxpool 2x2/.test(l))).toBe(false);
    expect(r.ir).toMatch(/= conv2d\(.*"pool":\{"ph":2,"pw":2,"poh":3,"pow":3\}\}/);
  });

  it("leaves the pair alone when the conv output is also a model output", async () => {
    const c = CASES.find((k) => k.name.startsWith("conv2d c=1 relu -> max_pooling2d"))!;
    const r = await compile(JSON.stringify({ ...c.graph, outputs: ["c", "p"] }), { optimizeLevel: 0, maxBatch: 2 });
    expect(r.ir).not.toContain('"pool":');
  });

  it("does not fuse pools other than 2x2 stride 2 valid, nor convs with c > 4", async () => {
    const base = CASES.find((k) => k.name.startsWith("conv2d c=1 relu -> max_pooling2d"))!.graph;
    const samePool = { ...base, layers: [base.layers[0], { name: "p", op: "max_pooling2d", pool_size: 2, padding: "same" }] };
    const wide = { ...base, inputs: [{ name: "x", shape: [9, 8, 5] }] };
    for (const g of [samePool, wide]) {
      const r = await compile(JSON.stringify(g), { optimizeLevel: 0, maxBatch: 2 });
      expect(r.ir).not.toContain('"pool":');
    }
  });
});
