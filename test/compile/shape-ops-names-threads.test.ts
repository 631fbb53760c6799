/**
 * The issue-17 shape ops (conv1d, 1-D pools, upsampling, padding, cropping, repeat_vector, permute,
 * time_distributed) in one graph whose every name is hostile (JavaScript object members,
 * AssemblyScript keywords, the generators' own locals — the inner dense layer of
 * time_distributed too): the names never reach the generated source (the same graph renamed
 * generates the very same source), predict and a train step match the float64 reference, and a
 * threaded build gives bit-identical results on 1 and 2 threads, and to the single-threaded build.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import { referenceGradients, runReference } from "../reference/index.js";
import { randomFeeds, randomizeWeights, relErr } from "./harness.js";

const HOSTILE = [
  "constructor", "prototype", "valueOf", "toString", "__proto__", "hasOwnProperty", "k0", "batch", "memory", "rt0",
  "predict", "train_step", "load", "store", "v128", "_s0", "_k", "f32", "i", "abort", "let", "return", "export", "function",
  "const", "_d0", "src", "dst",
];

/** Every op of issue 17's shape family, over three inputs; names from `n`. */
function makeGraph(n: (i: number) => string, graphName: string): any {
  const [seq, img, vec, c1, mp, c2, ap, up1, zp1, cr1, td, inner, gap, gmp, cv, zp2, cr2, bil, near, perm, fl, dn, dv, rep, pv, fv, cat, tgt] =
    HOSTILE.map((_h, j) => n(j));
  return {
    format: "kiln.graph/v2",
    name: graphName,
    seed: 4,
    inputs: [{ name: seq, shape: [12, 3] }, { name: img, shape: [4, 4, 2] }, { name: vec, shape: [4] }],
    targets: [{ name: tgt, shape: [15] }],
    layers: [
      { name: c1, op: "conv1d", filters: 4, kernel_size: 3, dilation_rate: 2, padding: "causal", inputs: [seq] },
      { name: mp, op: "max_pooling1d" },
      { name: c2, op: "conv1d", filters: 4, kernel_size: 2, padding: "same", activation: "tanh" },
      { name: ap, op: "average_pooling1d", padding: "same" },
      { name: up1, op: "upsampling1d" },
      { name: zp1, op: "zero_padding1d" },
      { name: cr1, op: "cropping1d", cropping: [2, 0] },
      { name: td, op: "time_distributed", layer: { op: "dense", name: inner, units: 3, activation: "sigmoid" } },
      { name: gap, op: "global_average_pooling1d", inputs: [td] },
      { name: gmp, op: "global_max_pooling1d", inputs: [td] },
      { name: cv, op: "conv2d", filters: 2, kernel_size: 1, inputs: [img] },
      { name: zp2, op: "zero_padding2d", padding: [[1, 0], [0, 2]] },
      { name: cr2, op: "cropping2d", cropping: [[0, 1], [1, 1]] },
      { name: bil, op: "upsampling2d", size: 2, interpolation: "bilinear" },
      { name: near, op: "upsampling2d", size: [1, 2] },
      { name: perm, op: "permute", dims: [3, 1, 2] },
      { name: fl, op: "flatten" },
      { name: dn, op: "dense", units: 3 },
      { name: dv, op: "dense", units: 3, activation: "tanh", inputs: [vec] },
      { name: rep, op: "repeat_vector", n: 2 },
      { name: pv, op: "permute", dims: [2, 1] },
      { name: fv, op: "flatten" },
      { name: cat, op: "concatenate", inputs: [gap, gmp, dn, fv] },
    ],
    outputs: [cat, bil],
    training: { loss: { type: "mean_squared_error", output: cat, target: tgt }, optimizer: { type: "sgd", learning_rate: 0.5 } },
  };
}

const NAME_RULE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;
const NEUTRAL = HOSTILE.map((_h, j) => `qzneutral${j}x`);
const hostileGraph = makeGraph((j) => HOSTILE[j]!, "prototype");
const neutralGraph = makeGraph((j) => NEUTRAL[j]!, "qzneutralgraph");
const toNeutral = (name: string) => name.split("/").map((part) => NEUTRAL[HOSTILE.indexOf(part)] ?? part).join("/");
const rekey = <T>(rec: Record<string, T>): Record<string, T> => Object.fromEntries(Object.entries(rec).map(([k, v]) => [toNeutral(k), v]));

let hostile: { model: Model; source: string };
let neutralSource: string;

beforeAll(async () => {
  const h = await compile(JSON.stringify(hostileGraph), { optimizeLevel: 0, maxBatch: 4 });
  const n = await compile(JSON.stringify(neutralGraph), { optimizeLevel: 0, maxBatch: 4 });
  hostile = { model: await loadModel(h.wasm), source: h.source };
  neutralSource = n.source;
}, 120_000);

describe("issue-17 shape ops under hostile names", () => {
  it("are valid names, each used once", () => {
    for (const name of HOSTILE) expect(name).toMatch(NAME_RULE);
    const g = hostileGraph;
    const used = [...g.inputs, ...g.targets, ...g.layers].map((x: { name: string }) => x.name).concat(g.layers.flatMap((l: any) => (l.layer ? [l.layer.name] : [])));
    expect(used.sort()).toEqual([...HOSTILE].sort());
  });

  it("never reach the generated source: renaming every name leaves it unchanged", () => {
    expect(hostile.source.length).toBeGreaterThan(1000);
    for (const name of [...NEUTRAL, "qzneutralgraph"]) expect(neutralSource.includes(name), name).toBe(false);
    expect(hostile.source).toBe(neutralSource);
  });

  it("time_distributed's weights are <wrapper>/<inner>/… as data", () => {
    const weights = hostile.model.getWeights();
    expect(Object.hasOwn(weights, "predict/train_step/kernel")).toBe(true);
    expect(Object.hasOwn(weights, "predict/train_step/bias")).toBe(true);
    expect(Object.hasOwn(weights, "toString/kernel")).toBe(true);
    expect(Object.keys(weights).sort()).toEqual(hostile.model.weights.map((w) => w.name).sort());
  });

  it("predict matches the reference (run on the renamed graph), batch 1, 3 and 4", () => {
    const m = hostile.model;
    const weights = randomizeWeights(m, 17, 0.6);
    for (const batch of [1, 3, 4]) {
      const feeds = randomFeeds(m.inputs as never, batch, 70 + batch);
      const out = m.predict(feeds);
      const ref = runReference(neutralGraph, rekey(weights), rekey(feeds), batch, { training: false });
      expect(Object.keys(out).sort()).toEqual(["f32", "src"]);
      for (const name of Object.keys(out)) {
        const t = ref.outputs[toNeutral(name)]!;
        expect(out[name]!.length, name).toBe(t.data.length);
        expect(relErr(out[name]!, t.data), `${name} at batch ${batch}`).toBeLessThan(1e-4);
      }
    }
  });

  it("a train step matches the reference's loss and every weight gradient", () => {
    const m = hostile.model;
    const w0 = randomizeWeights(m, 23, 0.6);
    const batch = 3;
    const feeds = { ...randomFeeds(m.inputs as never, batch, 90), ...randomFeeds(m.targets as never, batch, 91) };
    const step = m.trainStep(feeds);
    const w1 = m.getWeights();
    const ref = referenceGradients(neutralGraph, rekey(w0), rekey(feeds), rekey(feeds), batch);
    expect(Math.abs(step.loss - ref.loss) / ref.loss).toBeLessThan(1e-4);
    expect(Object.keys(ref.grads).sort()).toEqual(m.weights.map((w) => toNeutral(w.name)).sort());
    for (const w of m.weights) {
      const g = ref.grads[toNeutral(w.name)]!;
      const got = w0[w.name]!.map((v, j) => (v - w1[w.name]![j]!) / 0.5);
      expect(relErr(got, g), w.name).toBeLessThan(1e-4);
    }
  });
});

// ------------------------------------------------------------------ threads

const bytesOf = (record: Record<string, Float32Array>) => Object.keys(record).sort().map((k) => new Uint8Array(record[k]!.buffer.slice(0)));

async function run(wasm: Uint8Array, threads: number, feeds: Record<string, Float32Array>, shares?: number[]) {
  const model = await loadModel(wasm, { threads });
  if (shares) {
    model.pool!.balance = false;
    for (const p of ["train_step", "predict"]) model.pool!.shares.set(p, shares);
  }
  try {
    const losses = [0, 1, 2, 3].map(() => model.trainStep(feeds).loss);
    const inputs = Object.fromEntries(model.inputs.map((i) => [i.name, feeds[i.name]!]));
    return { losses, weights: bytesOf(model.getWeights()), pred: bytesOf(model.predict(inputs)) };
  } finally {
    model.dispose();
  }
}

describe("issue-17 shape ops: threaded builds are bit-identical to one thread", () => {
  it("train steps and predict on 1 and 2 threads, any batch split, and the single-threaded build", async () => {
    const { wasm, manifest } = await compile(JSON.stringify(hostileGraph), { maxBatch: 16, threads: 2, optimizeLevel: 0 });
    expect(manifest.threads).toBe(true);
    const model = await loadModel(wasm, { threads: 1 });
    const feeds = { ...randomFeeds(model.inputs as never, 13, 5), ...randomFeeds(model.targets as never, 13, 6) } as Record<string, Float32Array>;
    model.dispose();
    const one = await run(wasm, 1, feeds);
    const two = await run(wasm, 2, feeds);
    expect(two.losses).toEqual(one.losses);
    expect(two.weights).toEqual(one.weights);
    expect(two.pred).toEqual(one.pred);
    expect(one.losses[3]).not.toEqual(one.losses[0]); // it did train
    const plain = await compile(JSON.stringify(hostileGraph), { maxBatch: 16, optimizeLevel: 0 });
    const single = await run(plain.wasm, 1, feeds);
    expect(single.weights).toEqual(one.weights);
    expect(single.pred).toEqual(one.pred);
    for (const shares of [[1, 0], [0.3, 0.7]]) expect(await run(wasm, 2, feeds, shares), `shares ${shares}`).toEqual(two);
  }, 300_000);
});
