/**
 * The NaN finder on a compiled module: a learning rate far too large makes the weights explode;
 * fit stops at the first non-finite loss naming the step, and with { debugNaN: true } it also
 * names the first layer whose output went non-finite (manifest.training.layerOutputs), with the
 * layers a fusion folded into its kernels (their outputs have no buffer to check).
 */
import { describe, expect, it } from "vitest";
import { KilnError, loadModel } from "../../runtime/index.js";
import { compile } from "../../compiler/index.js";
import { build, rng } from "./harness.js";
import { CASES } from "./cases.js";
import { customSection } from "../hardening/crafted.js";
import { withoutSection } from "../hardening/fixtures.js";

const graph = {
  format: "kiln.graph/v2", name: "explode", seed: 2,
  inputs: [{ name: "x", shape: [6] }], targets: [{ name: "y", shape: [1] }],
  layers: [
    { name: "a", op: "dense", units: 8, activation: "tanh" },
    { name: "b", op: "dense", units: 8 },
    { name: "c", op: "dense", units: 1 },
  ],
  training: { loss: { type: "mean_squared_error", output: "c", target: "y" }, optimizer: { type: "sgd", learning_rate: 1e25 } },
};

describe("NaN finder", () => {
  it("names the step, and with debugNaN the first non-finite layer output", async () => {
    const { model } = await build(graph, { maxBatch: 8 });
    const next = rng(3);
    const data = { x: Float32Array.from({ length: 8 * 6 }, () => next() * 2 - 1), y: Float32Array.from({ length: 8 }, () => next()) };
    const plain = await model.fit(data, { epochs: 3, batchSize: 8 }).then(() => undefined, (e) => e);
    expect(plain).toBeInstanceOf(KilnError);
    expect(String(plain.message)).toMatch(/step \d+/);

    const { model: fresh } = await build(graph, { maxBatch: 8 });
    const found = await fresh.fit(data, { epochs: 3, batchSize: 8, debugNaN: true }).then(() => undefined, (e) => e);
    expect(found).toBeInstanceOf(KilnError);
    expect(String(found.message)).toMatch(/the first non-finite layer output is layer "(b|c)"/);
  });
});

/** A fine-tuning graph: frozen layers (fused as in predict) before a trainable head. */
const frozenThen = (input: number[], layers: object[], before: string) => ({
  format: "kiln.graph/v2", name: "folded", seed: 2,
  inputs: [{ name: "x", shape: input }], targets: [{ name: "y", shape: [1] }],
  layers: [...layers, { name: "flat", op: "flatten", inputs: [before] }, { name: "head", op: "dense", units: 1 }],
  training: { loss: { type: "mean_squared_error", output: "head", target: "y" }, optimizer: { type: "sgd", learning_rate: 0.01 } },
});

const PADDED = frozenThen([6, 6, 2], [
  { name: "zero_padding2d_1", op: "zero_padding2d", padding: 1 },
  { name: "conv2d_3", op: "conv2d", filters: 4, kernel_size: 3, trainable: false },
], "conv2d_3");

async function folded(graph: object): Promise<[string, string[]][]> {
  const { manifest } = await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 2 });
  return manifest.training!.layerOutputs!.map((o) => [o.layer, o.folded ?? []]);
}

describe("NaN finder: layers folded into a later layer's kernels", () => {
  it("a NaN at a conv with zero padding folded into it names both", async () => {
    const { model } = await build(PADDED, { maxBatch: 4, debug: false });
    // The padding's output has no buffer of its own: the conv reads the unpadded image.
    expect(model.manifest.training!.layerOutputs!.map((o) => o.layer)).toEqual(["conv2d_3", "flat", "head"]);
    const kernel = model.getWeights()["conv2d_3/kernel"]!;
    kernel[0] = Infinity;
    model.setWeights({ "conv2d_3/kernel": kernel });
    const next = rng(5);
    const data = { x: Float32Array.from({ length: 4 * 72 }, () => next() * 2 - 1), y: Float32Array.from({ length: 4 }, () => next()) };
    const found = await model.fit(data, { epochs: 1, batchSize: 4, debugNaN: true }).then(() => undefined, (e) => e);
    expect(found).toBeInstanceOf(KilnError);
    // Before: 'layer "conv2d_3" (example 0 …', the padding layer nowhere.
    expect(String(found.message)).toMatch(/the first non-finite layer output is layer "conv2d_3" \(with "zero_padding2d_1" folded into it\) \(example 0 of the batch, element \d+ is -?(Infinity|NaN)\)/);
    expect(found.diagnostics[0].layer).toBe("conv2d_3");
  });

  it("every fusion that leaves a layer without an output buffer lists it at the layer whose kernel computes it", async () => {
    // Epilogue fusion: a dense's output goes straight through the activation layer after it.
    expect(await folded(frozenThen([4], [
      { name: "d", op: "dense", units: 8, trainable: false }, { name: "act", op: "activation", activation: "relu" },
    ], "act"))).toEqual([["act", ["d"]], ["flat", []], ["head", []]]);
    // Batch-norm folding (a frozen normalization on its moving statistics) and the relu after it.
    expect(await folded(frozenThen([6, 6, 2], [
      { name: "c", op: "conv2d", filters: 4, kernel_size: 3, use_bias: false, trainable: false },
      { name: "bn", op: "batch_normalization", trainable: false }, { name: "r", op: "activation", activation: "relu" },
    ], "r"))).toEqual([["r", ["c", "bn"]], ["flat", []], ["head", []]]);
    // Inverted-residual fusion: a frozen MobileNetV2 block is one kernel, named by its last normalization.
    const block = CASES.find((c) => c.name.startsWith("frozen MobileNetV2 block"))!.graph as { layers: object[] };
    const trained = { ...block, targets: [{ name: "t", shape: [6, 6, 3] }], training: { loss: { type: "mean_squared_error", output: "h", target: "t" }, optimizer: { type: "sgd", learning_rate: 0.01 } } };
    expect(await folded(trained)).toEqual([["pbn", ["e", "ebn", "er", "pad", "d", "dbn", "dr", "p"]], ["h", []]]);
  });

  it("a manifest whose folded list is not a list of names is refused", async () => {
    const r = await compile(JSON.stringify(PADDED), { optimizeLevel: 0, maxBatch: 2 });
    const m = structuredClone(r.manifest);
    (m.training!.layerOutputs![0] as { folded?: unknown }).folded = [3];
    const bytes = Uint8Array.from([...withoutSection(r.wasm, "kiln.manifest"), ...customSection("kiln.manifest", new TextEncoder().encode(JSON.stringify(m)))]);
    const e = await loadModel(bytes).then(() => undefined, (x) => x);
    expect(e).toBeInstanceOf(KilnError);
    expect(e.message).toMatch(/training.layerOutputs: the layers folded into layer "conv2d_3" must be a list of names, got \[3\]/);
  });
});
