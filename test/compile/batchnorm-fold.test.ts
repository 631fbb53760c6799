/**
 * Batch normalization folded into the conv2d/depthwise_conv2d/dense before it in predict and evaluate
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
import { labelsOf } from "./kernel-calls.js";

function convGraph(useBias: boolean, activation: string): any {
  return {
    format: "kiln.graph/v2", name: "conv_bn", seed: 3,
    inputs: [{ name: "x", shape: [8, 8, 3] }],
    targets: [{ name: "y", shape: [4] }],
    layers: [
      { name: "c1", op: "conv2d", filters: 8, kernel_size: 3, padding: "same", use_bias: useBias },
      { name: "bn1", op: "batch_normalization", momentum: 0.5 },
      { name: "a1", op: "activation", activation },
      { name: "w1", op: "conv2d", filters: 6, kernel_size: 3, padding: "same", activation: "relu" },
      { name: "bnw", op: "batch_normalization", momentum: 0.5 },
      { name: "c2", op: "conv2d", filters: 6, kernel_size: 3, strides: 2 },
      { name: "bn2", op: "batch_normalization", momentum: 0.5, epsilon: 0.01 },
      { name: "f", op: "flatten" },
      { name: "d", op: "dense", units: 4 },
    ],
    training: { loss: { type: "mean_squared_error", output: "d", target: "y" }, optimizer: { type: "sgd", learning_rate: 0.05 } },
  };
}

/** A 3×3 stride-1 conv on 8 channels: the Winograd kernel, 6 filters (a scalar lane tail). */
function winogradGraph(): any {
  return {
    format: "kiln.graph/v2", name: "winograd_bn", seed: 6,
    inputs: [{ name: "x", shape: [8, 8, 8] }],
    targets: [{ name: "y", shape: [8, 8, 6] }],
    layers: [
      { name: "w", op: "conv2d", filters: 6, kernel_size: 3, padding: "same" },
      { name: "bn", op: "batch_normalization", momentum: 0.5 },
      { name: "a", op: "activation", activation: "relu" },
    ],
    training: { loss: { type: "mean_squared_error", output: "a", target: "y" }, optimizer: { type: "sgd", learning_rate: 0.05 } },
  };
}

/** MobileNetV2's depthwise stage: depthwise (no bias, then with bias and m = 2) → bn → relu6, 20 channels (a vector tail). */
function depthwiseGraph(): any {
  return {
    format: "kiln.graph/v2", name: "depthwise_bn", seed: 8,
    inputs: [{ name: "x", shape: [7, 7, 20] }],
    targets: [{ name: "y", shape: [4, 4, 40] }],
    layers: [
      { name: "d1", op: "depthwise_conv2d", kernel_size: 3, padding: "same", use_bias: false },
      { name: "bn1", op: "batch_normalization", momentum: 0.5 },
      { name: "r1", op: "relu", max_value: 6 },
      { name: "d2", op: "depthwise_conv2d", kernel_size: 3, strides: 2, padding: "same", depth_multiplier: 2 },
      { name: "bn2", op: "batch_normalization", momentum: 0.5 },
      { name: "r2", op: "activation", activation: "relu6" },
    ],
    training: { loss: { type: "mean_squared_error", output: "r2", target: "y" }, optimizer: { type: "sgd", learning_rate: 0.05 } },
  };
}

function denseGraph(): any {
  return {
    format: "kiln.graph/v2", name: "dense_bn", seed: 4,
    // 400 inputs: more than one K block (KC_MAX 384) in the GEMM and the few-row kernel.
    inputs: [{ name: "x", shape: [400] }],
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


async function pair(graph: object) {
  // Debug builds: a guard after every buffer, checked after every kernel call.
  const opts = { optimizeLevel: 0 as const, maxBatch: 4, debug: true };
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
    ["conv2d (Winograd) → bn → relu", winogradGraph()],
    ["depthwise_conv2d (no bias; bias, m = 2) → bn → relu6", depthwiseGraph()],
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
      const after = folded.getWeights(), stat = Object.keys(after).find((k) => k.endsWith("/moving_mean"))!;
      expect(after[stat]!.some((v, i) => v !== w[stat]![i]), "the steps moved the statistics").toBe(true);
      expect(relErr(after[stat]!, plain.getWeights()[stat]!)).toBeLessThan(1e-5);
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
    const fp = calls(folded, "predict"), pp = calls(plain, "predict");
    console.log(`predict kernels, folded (${fp.length}): ${fp.join(" | ")}\npredict kernels, unfolded (${pp.length}): ${pp.join(" | ")}`);
    // Both convs scale and shift in their epilogue; c1's carries the relu too.
    expect(fp.filter((l) => /^conv2d.* scaled relu$/.test(l)), "c1: conv with scale, bias and relu").toHaveLength(1);
    expect(fp.filter((l) => /^conv2d.* scaled$/.test(l)), "c2: conv with scale and bias").toHaveLength(1);
    // w1 (relu before its normalization) is not folded: its Winograd conv stays as it was.
    expect(fp.filter((l) => /^conv2d winograd/.test(l))).toEqual(pp.filter((l) => /^conv2d winograd/.test(l)));
    expect(pp.filter((l) => /scaled/.test(l)), "unfolded").toHaveLength(0);
    expect(pp.filter((l) => /^conv2d direct .* relu$/.test(l)), "unfolded: c1's relu after the normalization").toHaveLength(0);
    // No elementwise pass over a batch-sized tensor is left: the fold nodes run over the channels (1 x C).
    expect(pp.filter((l) => /^elementwise rt/.test(l))).toHaveLength(3);
    expect(fp.filter((l) => /^elementwise rt/.test(l)), "only w1's normalization").toHaveLength(1);
    expect(fp.filter((l) => /^elementwise 1x(8|6) /.test(l))).toHaveLength(2);
    expect(fp.length).toBe(pp.length);
    expect(calls(folded, "train_step")).toEqual(calls(plain, "train_step"));
  });

  it("the depthwise kernels take the scale, the bias and relu6: no pass over the activations is left in predict", async () => {
    const r = await compile(JSON.stringify(depthwiseGraph()), { optimizeLevel: 0, maxBatch: 4 });
    const labels = labelsOf(r.source);
    const predict = (r.manifest.kernels!.calls as Record<string, [string, string][]>).predict!.map(([k]) => labels.get(k)!);
    expect(predict.filter((l) => /^depthwise_conv2d .* scaled \+bias relu6$/.test(l)), predict.join(" | ")).toHaveLength(2);
    expect(predict.filter((l) => !/^(depthwise_conv2d|elementwise 1x)/.test(l))).toEqual([]);
  });

  it("the Winograd conv and the dense layers' GEMM and few-row kernels take the scale too", async () => {
    const labels = async (graph: object) => {
      const r = await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 4 });
      return [...labelsOf(r.source).values()];
    };
    expect((await labels(winogradGraph())).filter((l) => /^conv2d winograd .* scaled relu$/.test(l))).toHaveLength(1);
    // dense: one matmul kernel, with the few-row path inside (exercised by batch 1 above).
    expect((await labels(denseGraph())).filter((l) => /^matmul .* scaled( relu)?$/.test(l))).toHaveLength(2);
  });

  it("a threaded build (2 workers) predicts bit for bit what the single-threaded folded build does", async () => {
    const g = {
      format: "kiln.graph/v2", name: "fold_threads", inputs: [{ name: "x", shape: [10, 10, 8] }],
      layers: [
        { name: "c1", op: "conv2d", filters: 8, kernel_size: 3, padding: "same" }, { name: "bn1", op: "batch_normalization" },
        { name: "s", op: "add", inputs: ["bn1", "x"] }, { name: "r", op: "activation", activation: "relu" },
        { name: "f", op: "flatten" }, { name: "d", op: "dense", units: 6 }, { name: "bn2", op: "batch_normalization" },
      ],
    };
    const one = await loadModel((await compile(JSON.stringify(g), { optimizeLevel: 0, maxBatch: 8 })).wasm);
    const two = await loadModel((await compile(JSON.stringify(g), { optimizeLevel: 0, maxBatch: 8, threads: 2 })).wasm, { threads: 2 });
    try {
      two.setWeights(randomizeWeights(one, 9));
      const feeds = randomFeeds(one.inputs as any, 8, 10);
      expect(Array.from(two.predict(feeds).bn2!)).toEqual(Array.from(one.predict(feeds).bn2!));
    } finally {
      two.dispose();
    }
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
