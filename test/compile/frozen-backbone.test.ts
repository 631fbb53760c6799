/**
 * Fine-tuning with a frozen backbone (issue 19): the train step differentiates only what leads
 * from a trainable weight to the loss, so the frozen prefix gets no backward kernel; its forward is
 * the inference forward (batch normalization in inference mode folded into the convolution,
 * padding folded, relu6 fused: the same kernels as predict); and no backbone activation is kept
 * for a backward that never reads it, so the arena planner reuses them and the training module
 * needs no more activation memory than the inference module. Values: the case "frozen MobileNetV2
 * block …" of cases.ts runs through forward.test.ts, gradients.test.ts (float64 reference) and
 * finite-differences.test.ts. Also here: the NaN finder, which no longer relies on layer outputs
 * surviving to the end of the step, still names the right layer.
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { KilnError, loadModel } from "../../runtime/index.js";
import { CASES } from "./cases.js";
import { build, randomFeeds, randomizeWeights, rng } from "./harness.js";

const BLOCK = CASES.find((c) => c.name.startsWith("frozen MobileNetV2 block"))!.graph;
const FROZEN = new Set(["e", "ebn", "er", "pad", "d", "dbn", "dr", "p", "pbn"]);
const withTraining = (g: any) => ({
  ...g, targets: [{ name: "t", shape: [6, 6, 3] }],
  training: { loss: { type: "mean_squared_error", output: "h", target: "t" }, optimizer: { type: "adam", learning_rate: 0.01 } },
});

async function compiled(graph: object, maxBatch = 8, fuseInvertedResidual = true) {
  const r = await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch, fuseInvertedResidual });
  return { calls: r.manifest.kernels!.calls as Record<string, [string, string][]>, memory: r.manifest.memory, manifest: r.manifest };
}

describe("frozen backbone: dead gradients and the inference forward in the train step", () => {
  it("the train step runs predict's kernels for the frozen layers, all before the head, and no backward kernel for them", async () => {
    const { calls } = await compiled(withTraining(BLOCK));
    const show = (cs: [string, string][]) => cs.map(([k, l]) => `${k}:${l}`).join(" | ");
    const frozenIn = (cs: [string, string][]) => cs.filter(([, layer]) => FROZEN.has(layer));
    const train = calls.train_step!, predict = calls.predict!;
    // The same kernels (kernels are shared between programs, so the same names) in the same order:
    // the padding copy, the separate normalization passes and relu6 passes are gone from the step.
    expect(show(frozenIn(train)), show(train)).toBe(show(frozenIn(predict)));
    // e, d and p with their normalizations folded (an O(C) scale-and-bias node before each) and
    // relu6 fused, then the three as one inverted-residual kernel (named by p, the block's last layer)
    expect(frozenIn(predict).map(([, layer]) => layer)).toEqual(["ebn", "dbn", "pbn", "p"]);
    // Nothing of the backbone runs after the head's forward: every later call is the head's, the loss's or the optimizer's.
    const firstHead = train.findIndex(([, layer]) => layer === "h");
    expect(firstHead).toBeGreaterThan(0);
    expect(train.slice(firstHead).filter(([, layer]) => FROZEN.has(layer)), show(train)).toEqual([]);
    expect(new Set(train.slice(firstHead).map(([, layer]) => layer))).toEqual(new Set(["h", "loss", "optimizer"]));
  });

  it("keeps no backbone activation for the backward: the training module's arena is the inference module's", async () => {
    // (unfused: the fused block keeps no intermediate in the arena at all, in either module)
    const train = await compiled(withTraining(BLOCK), 8, false);
    const infer = await compiled(BLOCK, 8, false);
    // Before (2026-12-07), every layer output of the train step stayed allocated until the step
    // ended, the padded image was copied and each normalization written: 291,968 B against 92,288.
    expect(train.memory.arenaBytes).toBeLessThanOrEqual(infer.memory.arenaBytes * 1.1);
    // Every layer output that has a buffer names the call after which the NaN finder reads it (a
    // fused kernel writes a later layer's output too: relu6's is written by e's conv), in forward order.
    const outs = train.manifest.training!.layerOutputs!, calls = outs.map((o) => o.call!);
    expect(outs.map((o) => o.layer)).toContain("h");
    expect(calls.every((c, i) => Number.isInteger(c) && c >= (calls[i - 1] ?? 0) && c < train.calls.train_step!.length), calls.join()).toBe(true);
  });
});

describe("frozen backbone: threads", () => {
  it("a 2-thread build takes the same train steps bit for bit as the single-threaded build", async () => {
    const graph = withTraining(BLOCK);
    const one = await loadModel((await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 6 })).wasm);
    const two = await loadModel((await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 6, threads: 2 })).wasm, { threads: 2 });
    try {
      two.setWeights(randomizeWeights(one, 5));
      const feeds = randomFeeds([...one.inputs, ...one.targets] as any, 6, 8);
      for (let step = 0; step < 2; step++) expect(two.trainStep(feeds).loss, `step ${step + 1}`).toBe(one.trainStep(feeds).loss);
      expect(Array.from(two.getWeights()["h/kernel"]!)).toEqual(Array.from(one.getWeights()["h/kernel"]!));
    } finally {
      two.dispose();
    }
  });
});

describe("the NaN finder reads each layer output right after its call", () => {
  // b's kernel holds an Infinity, so b's output is the first non-finite one. The arena gives b's
  // output the bytes of f1's (dead once f2 has read it), so a scan after the step (as before,
  // when every layer output was kept to the end) would find Infinity at f1's offset and blame f1.
  const graph = {
    format: "kiln.graph/v2", name: "inf_after_frozen", seed: 2,
    inputs: [{ name: "x", shape: [6] }], targets: [{ name: "y", shape: [1] }],
    layers: [
      { name: "f1", op: "dense", units: 16, activation: "tanh", trainable: false },
      { name: "f2", op: "dense", units: 16, activation: "tanh", trainable: false },
      { name: "b", op: "dense", units: 16 },
      { name: "c", op: "dense", units: 1 },
    ],
    training: { loss: { type: "mean_squared_error", output: "c", target: "y" }, optimizer: { type: "sgd", learning_rate: 0.01 } },
  };

  it("every layer output names its call, a view of the input too (written by no call: 0)", async () => {
    const viewFirst = { ...graph, layers: [{ name: "f", op: "flatten" }, ...graph.layers] };
    const { calls, manifest } = await compiled(viewFirst);
    const outs = manifest.training!.layerOutputs!;
    expect(outs.map((o) => o.layer)).toEqual(["f", "f1", "f2", "b", "c"]);
    expect(outs[0]!.call).toBe(0);
    for (const o of outs) expect(Number.isInteger(o.call) && o.call! < calls.train_step!.length, o.layer).toBe(true);
  });

  it("names the layer whose output went non-finite, not a frozen one whose bytes it reuses (a build with arena reuse)", async () => {
    const { model } = await build(graph, { maxBatch: 8, debug: false }); // debug builds reuse nothing
    const outs = Object.fromEntries(model.manifest.training!.layerOutputs!.map((o) => [o.layer, o.offset]));
    expect(outs.b).toBe(outs.f1); // the situation this test is about
    const kernel = model.getWeights()["b/kernel"]!;
    kernel[5] = Infinity;
    model.setWeights({ "b/kernel": kernel });
    const next = rng(3);
    const data = { x: Float32Array.from({ length: 8 * 6 }, () => next() * 2 - 1), y: Float32Array.from({ length: 8 }, () => next()) };
    const found = await model.fit(data, { epochs: 1, batchSize: 8, debugNaN: true }).then(() => undefined, (e) => e);
    expect(found).toBeInstanceOf(KilnError);
    expect(String(found.message)).toMatch(/the first non-finite layer output is layer "b" \(example 0 of the batch, element 5 is Infinity\); weights non-finite before the step: "b\/kernel"/);
  });
});
