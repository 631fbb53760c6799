/**
 * Batch normalization folded into the conv2d/dense before it in predict and evaluate
 * (compiler/passes/fold-batch-norm.ts, spec "Batch normalization folding"): the folded module
 * predicts what the unfolded one (`foldBatchNorm: false`) does within 1e-5, after the weights are
 * set and after train steps moved them and the moving statistics; train_step is not folded; the
 * folded predict calls fewer kernels over the activations (the normalization pass is gone, its
 * bias and activation ride in the product's epilogue).
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import { comparePredict, randomFeeds, randomizeWeights, relErr } from "./harness.js";

function convGraph(useBias: boolean, activation: string): any {
  return {
    format: "kiln.graph/v2", name: "conv_bn", seed: 3,
    inputs: [{ name: "x", shape: [8, 8, 3] }],
    targets: [{ name: "y", shape: [4] }],
    layers: [
      { name: "c1", op: "conv2d", filters: 8, kernel_size: 3, padding: "same", use_bias: useBias },
      { name: "bn1", op: "batch_normalization", momentum: 0.5 },
      { name: "a1", op: "activation", activation },
      { name: "c2", op: "conv2d", filters: 6, kernel_size: 3, strides: 2 },
      { name: "bn2", op: "batch_normalization", momentum: 0.5, epsilon: 0.01 },
      { name: "f", op: "flatten" },
      { name: "d", op: "dense", units: 4 },
    ],
    training: { loss: { type: "mean_squared_error", output: "d", target: "y" }, optimizer: { type: "sgd", learning_rate: 0.05 } },
  };
}

function denseGraph(): any {
  return {
    format: "kiln.graph/v2", name: "dense_bn", seed: 4,
    inputs: [{ name: "x", shape: [10] }],
    targets: [{ name: "y", shape: [3] }],
    layers: [
      { name: "d1", op: "dense", units: 12 },
      { name: "bn1", op: "batch_normalization", momentum: 0.5 },
      { name: "a1", op: "activation", activation: "relu" },
      { name: "d2", op: "dense", units: 7, use_bias: false, activation: "tanh" },
      { name: "d3", op: "dense", units: 3 },
      { name: "bn3", op: "batch_normalization", momentum: 0.5 },
    ],
    training: { loss: { type: "mean_squared_error", output: "bn3", target: "y" }, optimizer: { type: "sgd", learning_rate: 0.05 } },
  };
}

const labelsOf = (source: string) => new Map([...source.matchAll(/^\/\/ (k\d+): (.*)$/gm)].map((m) => [m[1]!, m[2]!]));

async function pair(graph: object) {
  const opts = { optimizeLevel: 0 as const, maxBatch: 4 };
  const [folded, plain] = await Promise.all([compile(JSON.stringify(graph), opts), compile(JSON.stringify(graph), { ...opts, foldBatchNorm: false })]);
  return { folded, plain, models: [await loadModel(folded.wasm), await loadModel(plain.wasm)] as [Model, Model] };
}

/** Both models predict the same within 1e-5 on every output. */
function expectSamePredict(a: Model, b: Model, batch: number, seed: number, what: string): void {
  const feeds = randomFeeds(a.inputs as any, batch, seed);
  const ya = a.predict(feeds), yb = b.predict(feeds);
  for (const name of Object.keys(yb)) {
    expect(ya[name]!.length, `${what}: ${name}`).toBe(yb[name]!.length);
    expect(relErr(ya[name]!, yb[name]!), `${what}: ${name}`).toBeLessThan(1e-5);
  }
}

describe("batch normalization folding", () => {
  const cases = [
    ["conv2d (bias) → bn → relu, conv2d (bias) → bn", convGraph(true, "relu")],
    ["conv2d (no bias) → bn → relu", convGraph(false, "relu")],
    ["dense → bn → relu, dense → bn (output)", denseGraph()],
  ] as const;
  for (const [name, graph] of cases) {
    it(`${name}: folded predict = unfolded predict within 1e-5, after setWeights and after train steps`, async () => {
      const { models: [folded, plain] } = await pair(graph);
      const w = randomizeWeights(folded, 11);
      plain.setWeights(w);
      for (const batch of [1, 3]) expectSamePredict(folded, plain, batch, 20 + batch, `after setWeights, batch ${batch}`);
      // The reference interpreter agrees too (it knows nothing of folding).
      for (const [out, err] of Object.entries(comparePredict(graph, folded, w, 2, 30))) expect(err, out).toBeLessThan(1e-5);
      // Train steps move kernels, biases, γ, β and the moving statistics: the next predict folds the new ones.
      for (let step = 0; step < 3; step++) {
        const feeds = { ...randomFeeds(folded.inputs as any, 4, 40 + step), ...randomFeeds(folded.targets as any, 4, 50 + step) };
        folded.trainStep(feeds);
        plain.trainStep(feeds);
      }
      const after = folded.getWeights();
      expect(after["bn1/moving_mean"]!.some((v, i) => v !== w["bn1/moving_mean"]![i]), "the steps moved the statistics").toBe(true);
      expect(relErr(after["bn1/moving_mean"]!, plain.getWeights()["bn1/moving_mean"]!)).toBeLessThan(1e-5);
      for (const batch of [1, 4]) expectSamePredict(folded, plain, batch, 60 + batch, `after 3 train steps, batch ${batch}`);
      // And evaluate (also an inference program) reports the same loss.
      const feeds = { ...randomFeeds(folded.inputs as any, 3, 70), ...randomFeeds(folded.targets as any, 3, 71) };
      const la = folded.evaluate(feeds).loss, lb = plain.evaluate(feeds).loss;
      expect(Math.abs(la - lb) / Math.abs(lb)).toBeLessThan(1e-5);
    });
  }

  it("predict of conv2d → bn → relu calls one product with a bias + relu epilogue and no normalization pass; train_step keeps it", async () => {
    const { folded, plain } = await pair(convGraph(true, "relu"));
    const calls = (r: typeof folded, prog: string) => {
      const labels = labelsOf(r.source);
      return (r.manifest.kernels!.calls as Record<string, [string, string][]>)[prog]!.map(([k]) => labels.get(k)!);
    };
    // The folded IR: the normalization's rsqrt is on the kernel (W') and bias (b'), not the activation.
    expect(folded.ir).toMatch(/fold|rsqrt/);
    const fp = calls(folded, "predict"), pp = calls(plain, "predict");
    console.log(`predict kernels, folded (${fp.length}): ${fp.join(" | ")}\npredict kernels, unfolded (${pp.length}): ${pp.join(" | ")}`);
    expect(fp.filter((l) => /^conv2d.*relu/.test(l)), "c1's conv carries the relu").toHaveLength(1);
    expect(pp.filter((l) => /^conv2d.*relu/.test(l)), "unfolded: relu after the normalization").toHaveLength(0);
    expect(calls(folded, "train_step")).toEqual(calls(plain, "train_step"));
  });

  it("leaves the normalization alone when the conv output is also a graph output", async () => {
    const g = { ...convGraph(true, "relu"), outputs: ["c1", "d"] };
    const opts = { optimizeLevel: 0 as const, maxBatch: 2 };
    const [a, b] = await Promise.all([compile(JSON.stringify(g), opts), compile(JSON.stringify(g), { ...opts, foldBatchNorm: false })]);
    const [ma, mb] = [await loadModel(a.wasm), await loadModel(b.wasm)];
    mb.setWeights(randomizeWeights(ma, 5));
    expectSamePredict(ma, mb, 2, 6, "c1 an output");
  });
});
