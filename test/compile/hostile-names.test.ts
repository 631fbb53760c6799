/**
 * Graph names are data (spec §1): valid names that collide with JavaScript object members,
 * AssemblyScript keywords and builtins, export names and the generators' own locals must compile,
 * run and train correctly, and must not reach the generated source. The proof of the latter: the
 * same graph with every name replaced by a neutral one generates the very same source text.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import type { Model } from "../../runtime/model.js";
import { referenceGradients, runReference } from "../reference/index.js";
import { nameTwins, randomFeeds, randomizeWeights, relErr } from "./harness.js";

const HOSTILE = [
  "constructor", "prototype", "k0", "batch", "memory", "predict", "train_step", "rt0", "load", "store", "v128",
  "export", "function", "return", "let", "const", "abort", "_s0", "_k", "i", "toString", "__proto__",
  "hasOwnProperty", "f32",
  // a convolution branch: weight short names as layer names, and the depthwise kernels' locals
  "kernel", "xp_", "depthwise_kernel", "pointwise_kernel", "dx", "wp_", "pix_", "sum_",
];
const NAME_RULE = /^[A-Za-z_][A-Za-z0-9_]{0,63}$/;

/** The test graph over names n(0..): every input, target and layer name comes from `n`. */
function makeGraph(n: (i: number) => string, graphName: string): any {
  const [ctor, proto, k0, batch, memory, predict, trainStep, rt0, load, store, v128, exp, fn, ret, let_, const_, abort, s0, k, i, toStr, dunder, hasOwn, f32,
    kernel, xp, depthwise, pointwise, dx, wp, pix, sum] = HOSTILE.map((_h, j) => n(j));
  return {
    format: "kiln.graph/v2",
    name: graphName,
    seed: 5,
    inputs: [{ name: ctor, shape: [4] }, { name: proto, shape: [4] }, { name: k0, shape: [3], dtype: "int32" }],
    targets: [{ name: batch, shape: [3] }],
    layers: [
      { name: memory, op: "dense", units: 3, inputs: [ctor] },
      { name: predict, op: "dense", units: 3, activation: "relu", inputs: [proto] },
      { name: trainStep, op: "add", inputs: [memory, predict] },
      { name: rt0, op: "embedding", input_dim: 5, output_dim: 2, inputs: [k0] },
      { name: load, op: "flatten", inputs: [rt0] },
      { name: store, op: "dense", units: 3, inputs: [load] },
      { name: v128, op: "concatenate", inputs: [trainStep, store] },
      { name: exp, op: "batch_normalization" },
      { name: fn, op: "dense", units: 4, activation: "tanh" },
      { name: ret, op: "layer_normalization" },
      { name: let_, op: "reshape", target_shape: [2, 2] },
      { name: const_, op: "simple_rnn", units: 3 },
      { name: abort, op: "multiply", inputs: [const_, trainStep] },
      { name: s0, op: "dense", units: 3 },
      { name: k, op: "activation", activation: "sigmoid" },
      { name: i, op: "subtract", inputs: [k, memory] },
      { name: kernel, op: "dense", units: 8, inputs: [ctor] },
      { name: xp, op: "reshape", target_shape: [2, 2, 2] },
      { name: depthwise, op: "depthwise_conv2d", kernel_size: 2, padding: "same", depth_multiplier: 2 },
      { name: pointwise, op: "separable_conv2d", filters: 3, kernel_size: 2, padding: "same" },
      { name: dx, op: "conv2d_transpose", filters: 2, kernel_size: 3, strides: 2, padding: "same", output_padding: 1 },
      { name: wp, op: "flatten" },
      { name: pix, op: "dense", units: 3 },
      { name: toStr, op: "maximum", inputs: [i, s0] },
      { name: sum, op: "add", inputs: [toStr, pix] },
      { name: dunder, op: "dense", units: 3 },
      { name: hasOwn, op: "softmax", inputs: [toStr] },
      { name: f32, op: "dense", units: 2, activation: "gelu", inputs: [hasOwn] },
    ],
    outputs: [dunder, hasOwn, memory, f32],
    training: {
      loss: { type: "mean_squared_error", output: dunder, target: batch },
      optimizer: { type: "sgd", learning_rate: 1 },
      metrics: ["mean_absolute_error"],
    },
  };
}

// The graph's own name too ("prototype"; its rule is stricter: a letter first). rekey keeps own
// properties only, `__proto__` included.
const { hostile: hostileGraph, neutral: neutralGraph, toNeutral, rekey } = nameTwins(HOSTILE, makeGraph);
const NEUTRAL = HOSTILE.map((h) => toNeutral(h));

let hostile: { model: Model; source: string };
let neutralSource: string;

beforeAll(async () => {
  const h = await compile(JSON.stringify(hostileGraph), { optimizeLevel: 0, maxBatch: 4 });
  const n = await compile(JSON.stringify(neutralGraph), { optimizeLevel: 0, maxBatch: 4 });
  hostile = { model: await loadModel(h.wasm), source: h.source };
  neutralSource = n.source;
}, 120_000);

describe("hostile but valid graph names", () => {
  it("are all valid names, and the graph uses every one", () => {
    for (const name of HOSTILE) expect(name).toMatch(NAME_RULE);
    const used = [...hostileGraph.inputs, ...hostileGraph.targets, ...hostileGraph.layers].map((x: { name: string }) => x.name);
    expect(used.sort()).toEqual([...HOSTILE].sort());
  });

  it("never reach the generated source: renaming every name leaves the source unchanged", () => {
    expect(hostile.source.length).toBeGreaterThan(1000);
    for (const name of [...NEUTRAL, "qzneutralgraph"]) expect(neutralSource.includes(name), name).toBe(false);
    expect(hostile.source).toBe(neutralSource);
  });

  it("the manifest and the runtime keep the names as data", () => {
    const m = hostile.model;
    expect(m.manifest.name).toBe("prototype");
    expect(m.inputs.map((x) => x.name)).toEqual(["constructor", "prototype", "k0"]);
    expect(m.targets.map((x) => x.name)).toEqual(["batch"]);
    expect(m.outputs.map((x) => x.name)).toEqual(["__proto__", "hasOwnProperty", "memory", "f32"]);
    const weights = m.getWeights();
    expect(Object.keys(weights).sort()).toEqual(m.weights.map((w) => w.name).sort());
    expect(Object.hasOwn(weights, "__proto__/kernel")).toBe(true);
    expect(Object.hasOwn(weights, "constructor")).toBe(false);
  });

  it("predict matches the reference (run on the renamed graph), batch 1, 3 and 4", () => {
    const m = hostile.model;
    const weights = randomizeWeights(m, 17, 0.6);
    for (const batch of [1, 3, 4]) {
      const feeds = randomFeeds(m.inputs as never, batch, 70 + batch);
      const out = m.predict(feeds);
      expect(Object.keys(out).sort()).toEqual(["__proto__", "f32", "hasOwnProperty", "memory"]);
      expect(Object.hasOwn(out, "__proto__")).toBe(true);
      expect(Object.getPrototypeOf(out)).toBe(Object.prototype);
      const ref = runReference(neutralGraph, rekey(weights), rekey(feeds), batch, { training: false });
      for (const name of Object.keys(out)) {
        const t = ref.outputs[toNeutral(name)]!;
        expect(out[name]!.length, name).toBe(t.data.length);
        expect(relErr(out[name]!, t.data), `${name} at batch ${batch}`).toBeLessThan(1e-4);
      }
    }
  });

  it("a train step matches the reference's loss, metric and gradients", () => {
    const m = hostile.model;
    const w0 = randomizeWeights(m, 23, 0.6);
    const batch = 3;
    const feeds = { ...randomFeeds(m.inputs as never, batch, 90), ...randomFeeds(m.targets as never, batch, 91) };
    const step = m.trainStep(feeds);
    const w1 = m.getWeights();
    const ref = referenceGradients(neutralGraph, rekey(w0), rekey(feeds), rekey(feeds), batch);
    expect(Math.abs(step.loss - ref.loss) / ref.loss).toBeLessThan(1e-4);
    expect(Math.abs(step.metrics.mean_absolute_error! - ref.metrics.mean_absolute_error!) / ref.metrics.mean_absolute_error!).toBeLessThan(1e-4);
    const trainable = m.weights.filter((w) => !/moving_/.test(w.name));
    expect(Object.keys(ref.grads).sort()).toEqual(trainable.map((w) => toNeutral(w.name)).sort());
    for (const w of trainable) {
      const g = ref.grads[toNeutral(w.name)]!;
      const got = w0[w.name]!.map((v, j) => v - w1[w.name]![j]!);
      // A bias straight before batch normalization (store/bias, via the concatenation) has a zero
      // gradient in exact arithmetic: the reference leaves rounding noise (~1e-17), so compare absolutely.
      if (Math.hypot(...g) < 1e-12) expect(Math.hypot(...got), w.name).toBeLessThan(1e-6);
      else expect(relErr(got, g), w.name).toBeLessThan(1e-4);
    }
  });
});

/**
 * bidirectional's inner layer name is data too: it names the weights (`<layer>/forward_<inner>/…`)
 * and must not reach the source either.
 */
describe("hostile names in a bidirectional layer and its inner layer", () => {
  const NAMES = { input: "constructor", bi: "__proto__", inner: "toString", out: "hasOwnProperty", target: "prototype" };
  const NEUTRAL_NAMES = { input: "qzin", bi: "qzbi", inner: "qzinner", out: "qzout", target: "qzy" };
  const graphOf = (n: typeof NAMES, graphName: string) => ({
    format: "kiln.graph/v2", name: graphName, seed: 9,
    inputs: [{ name: n.input, shape: [4, 3] }], targets: [{ name: n.target, shape: [2] }],
    layers: [
      { name: n.bi, op: "bidirectional", merge_mode: "concat", layer: { op: "gru", name: n.inner, units: 3, reset_after: false, return_sequences: true } },
      { name: n.out, op: "lstm", units: 2, go_backwards: true },
    ],
    training: { loss: { type: "mean_squared_error", output: n.out, target: n.target }, optimizer: { type: "sgd", learning_rate: 1 } },
  });
  const hostileBi = graphOf(NAMES, "prototype");
  const neutralBi = graphOf(NEUTRAL_NAMES, "qzneutralgraph");
  const rename = (name: string) => {
    let out = name;
    for (const k of Object.keys(NAMES) as (keyof typeof NAMES)[]) out = out.split("/").map((part) => part === NAMES[k] ? NEUTRAL_NAMES[k] : part.replace(new RegExp(`^(forward|backward)_${NAMES[k]}$`), `$1_${NEUTRAL_NAMES[k]}`)).join("/");
    return out;
  };
  const rekeyBi = <T>(rec: Record<string, T>) => Object.fromEntries(Object.entries(rec).map(([key, v]) => [rename(key), v]));

  it("compile to the same source as neutral names; weights keyed forward_/backward_<inner>; predict and a train step match the reference", async () => {
    const h = await compile(JSON.stringify(hostileBi), { optimizeLevel: 0, maxBatch: 4 });
    const n = await compile(JSON.stringify(neutralBi), { optimizeLevel: 0, maxBatch: 4 });
    expect(h.source).toBe(n.source);
    for (const name of Object.values(NEUTRAL_NAMES)) expect(n.source.includes(name), name).toBe(false);
    const m = await loadModel(h.wasm);
    expect(m.weights.map((w) => w.name).filter((w) => w.startsWith("__proto__/"))).toEqual(
      ["forward_toString", "backward_toString"].flatMap((d) => ["kernel", "recurrent_kernel", "bias"].map((w) => `__proto__/${d}/${w}`)));
    const w0 = randomizeWeights(m, 31, 0.6);
    for (const batch of [1, 3]) {
      const feeds = randomFeeds(m.inputs as never, batch, 80 + batch);
      const out = m.predict(feeds).hasOwnProperty as unknown as Float32Array; // an output named "hasOwnProperty"
      const ref = runReference(neutralBi, rekeyBi(w0), rekeyBi(feeds), batch, { training: false });
      expect(relErr(out, ref.outputs.qzout!.data), `batch ${batch}`).toBeLessThan(1e-4);
    }
    const feeds = { ...randomFeeds(m.inputs as never, 3, 95), ...randomFeeds(m.targets as never, 3, 96) };
    m.trainStep(feeds);
    const w1 = m.getWeights();
    const ref = referenceGradients(neutralBi, rekeyBi(w0), rekeyBi(feeds), rekeyBi(feeds), 3);
    for (const w of m.weights) {
      const got = w0[w.name]!.map((v, j) => v - w1[w.name]![j]!);
      expect(relErr(got, ref.grads[rename(w.name)]!), w.name).toBeLessThan(1e-4);
    }
    m.dispose?.();
  }, 120_000);
});
