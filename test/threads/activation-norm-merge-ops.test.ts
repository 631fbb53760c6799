/**
 * The issue-17 activation, normalization, merge and noise ops together in one graph: with hostile
 * layer names (names are data: renaming every one leaves the generated source unchanged, and
 * predict still matches the reference), and in a threaded build (1 and 2 threads, and the
 * single-threaded build, give bit-identical training steps and predictions).
 */
import { describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { runReference } from "../reference/index.js";
import { randomFeeds, randomizeWeights, relErr, rng } from "../compile/harness.js";

const HOSTILE = [
  "constructor", "prototype", "__proto__", "toString", "hasOwnProperty", "valueOf", "memory", "predict", "train_step", "load",
  "store", "v128", "export", "function", "return", "let", "const", "abort", "_k", "i", "f32", "batch", "key", "h1", "u1", "z",
] as const;

/** Every new op on small shapes; `n(j)` names the j-th layer (HOSTILE order). */
function makeGraph(n: (j: number) => string, graphName: string): any {
  const [conv, bn, pre, sd2, gap, gate, se, gn, flat, rshp, sd1, flat2, relu, leaky, elu, d1, noise, gdrop, ln, d2, dotL, addL, act, out, x, y] = HOSTILE.map((_h, j) => n(j));
  return {
    format: "kiln.graph/v2", name: graphName, seed: 9,
    inputs: [{ name: x, shape: [4, 4, 3] }],
    targets: [{ name: y, shape: [3] }],
    layers: [
      { name: conv, op: "conv2d", filters: 4, kernel_size: 2, activation: "hard_silu", inputs: [x] },
      { name: bn, op: "batch_normalization", center: false },
      { name: pre, op: "prelu", shared_axes: [1, 2] },
      { name: sd2, op: "spatial_dropout2d", rate: 0.3 },
      { name: gap, op: "global_average_pooling2d" },
      { name: gate, op: "dense", units: 4, activation: "hard_sigmoid" },
      { name: se, op: "multiply", inputs: [sd2, gate] },
      { name: gn, op: "group_normalization", groups: 2 },
      { name: flat, op: "flatten" },
      { name: rshp, op: "reshape", target_shape: [9, 4] },
      { name: sd1, op: "spatial_dropout1d", rate: 0.25 },
      { name: flat2, op: "flatten" },
      { name: relu, op: "relu", max_value: 6, negative_slope: 0.1 },
      { name: leaky, op: "leaky_relu" },
      { name: elu, op: "elu", alpha: 0.5 },
      { name: d1, op: "dense", units: 6, activation: "mish" },
      { name: noise, op: "gaussian_noise", stddev: 0.1 },
      { name: gdrop, op: "gaussian_dropout", rate: 0.2 },
      { name: ln, op: "layer_normalization", scale: false },
      { name: d2, op: "dense", units: 6, activation: "selu" },
      { name: dotL, op: "dot", axes: 1, normalize: true, inputs: [ln, d2] },
      { name: addL, op: "add", inputs: [d2, dotL] },
      { name: act, op: "activation", activation: "relu6" },
      { name: out, op: "dense", units: 3, activation: "log_softmax" },
    ],
    outputs: [out, se],
    training: { loss: { type: "mean_squared_error", output: out, target: y }, optimizer: { type: "adam" } },
  };
}

const NEUTRAL = HOSTILE.map((_h, j) => `qzneutral${j}x`);
const hostileGraph = makeGraph((j) => HOSTILE[j]!, "prototype");
const neutralGraph = makeGraph((j) => NEUTRAL[j]!, "qzneutralgraph");
const toNeutral = (name: string) => {
  const [head, ...rest] = name.split("/");
  return [NEUTRAL[HOSTILE.indexOf(head as (typeof HOSTILE)[number])] ?? head, ...rest].join("/");
};
const rekey = <T>(rec: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(rec).map(([k, v]) => [toNeutral(k), v]));

describe("the new activation, normalization, merge and noise ops", () => {
  it("with hostile names: the source is that of neutral names, and predict matches the reference at batch 1, 3 and 4", async () => {
    const h = await compile(JSON.stringify(hostileGraph), { optimizeLevel: 0, maxBatch: 4 });
    const nSrc = (await compile(JSON.stringify(neutralGraph), { optimizeLevel: 0, maxBatch: 4 })).source;
    expect(h.source.length).toBeGreaterThan(1000);
    for (const name of [...NEUTRAL, "qzneutralgraph"]) expect(nSrc.includes(name), name).toBe(false);
    expect(h.source).toBe(nSrc);
    const m = await loadModel(h.wasm);
    const names = m.getWeights();
    expect(Object.hasOwn(names, "__proto__/alpha")).toBe(true); // prelu's
    expect(Object.hasOwn(names, "prototype/gamma") && !Object.hasOwn(names, "prototype/beta")).toBe(true); // batch norm, center=false
    const weights = randomizeWeights(m, 17, 0.6);
    for (const batch of [1, 3, 4]) {
      const feeds = randomFeeds(m.inputs as never, batch, 70 + batch);
      const got = m.predict(feeds);
      expect(Object.keys(got).sort()).toEqual(["h1", "memory"]);
      const ref = runReference(neutralGraph, rekey(weights), rekey(feeds), batch, { training: false });
      for (const name of Object.keys(got)) expect(relErr(got[name]!, ref.outputs[toNeutral(name)]!.data), `${name} at batch ${batch}`).toBeLessThan(1e-4);
    }
  }, 120_000);

  it("threaded: 1 and 2 threads and the single-threaded build give bit-identical steps and predictions", async () => {
    const text = JSON.stringify(neutralGraph);
    const threaded = await compile(text, { maxBatch: 16, threads: 2, optimizeLevel: 0 });
    const plain = await compile(text, { maxBatch: 16, optimizeLevel: 0 });
    expect(threaded.manifest.threads).toBe(true);
    const next = rng(5);
    const feeds = {
      [NEUTRAL[24]!]: Float32Array.from({ length: 13 * 48 }, () => next() * 2 - 1),
      [NEUTRAL[25]!]: Float32Array.from({ length: 13 * 3 }, () => next() * 2 - 1),
    };
    const run = async (wasm: Uint8Array, threads: number) => {
      const model = await loadModel(wasm, { threads });
      try {
        const losses = [0, 1, 2, 3].map(() => model.trainStep(feeds).loss);
        const weights = Object.entries(model.getWeights()).sort(([a], [b]) => (a < b ? -1 : 1)).map(([k, v]) => [k, Array.from(v)]);
        const pred = model.predict({ [NEUTRAL[24]!]: feeds[NEUTRAL[24]!]! });
        return { losses, weights, pred: Object.fromEntries(Object.entries(pred).map(([k, v]) => [k, Array.from(v)])) };
      } finally {
        model.dispose();
      }
    };
    const one = await run(threaded.wasm, 1);
    const two = await run(threaded.wasm, 2);
    const single = await run(plain.wasm, 1);
    expect(one.losses.every(Number.isFinite)).toBe(true);
    expect(one.losses[3]).not.toEqual(one.losses[0]);
    expect(two).toEqual(one);
    expect(single).toEqual(one);
  }, 180_000);
});
