/**
 * Rescaling and Normalization in Keras files. Fixtures are written here following Keras's saving
 * code (keras-fixtures.ts): NOT produced by Keras, as no Python runs here. Their configs are what
 * Keras 3's get_config writes (rescaling.py: scale/offset through serialize_keras_object, so a
 * list stays a list and a numpy array becomes {"class_name": "__numpy__", ...}; normalization.py:
 * axis as its tuple, mean/variance as lists or null), adapted statistics at vars/0 (mean), vars/1
 * (variance) and vars/2 (count, int64). kiln's predictions are compared with its float64
 * reference interpreter fed the weights the fixture put at each Keras path.
 */
import { describe, expect, test } from "vitest";
import { importModel } from "../../compiler/index.js";
import { asFloat32, readSafetensors } from "../../runtime/safetensors.js";
import { runReference, type RefGraph } from "../reference/interpret.js";
import { relErr, rng } from "../compile/harness.js";
import { feedsFor, kilnModel } from "./helpers.js";
import { ensureGroup, k3layer, keras2H5, kerasZip, putDataset, writeH5, type H5Tensor, k2layer } from "./keras-fixtures.js";
import type h5wasm from "h5wasm";

const values = (data: number[], shape = [data.length]): H5Tensor => ({ shape, data: Float32Array.from(data) });

function randomTensor(shape: number[], next: () => number, scale = 0.5): H5Tensor {
  return { shape, data: Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => (next() * 2 - 1) * scale) };
}

/** The imported weights by kiln name, as float32. */
function weightsOf(weights: Uint8Array): Record<string, Float32Array> {
  const out: Record<string, Float32Array> = {};
  for (const [name, t] of readSafetensors(weights).tensors) out[name] = asFloat32(t, name);
  return out;
}

/** kiln's predict of the last layer against the reference interpreter on the imported graph and weights. */
async function againstReference(imported: Awaited<ReturnType<typeof importModel>>, output: string, seed: number): Promise<number> {
  const kiln = await kilnModel(imported);
  const feeds = feedsFor(imported.graph, 3, seed);
  const ref = runReference(imported.graph as unknown as RefGraph, weightsOf(imported.weights), feeds, 3, { training: false });
  return relErr(kiln.predict(feeds)[output]!, ref.outputs[output]!.data);
}

describe("Keras 3 .keras: Rescaling and Normalization as Keras 3 writes them", () => {
  test("a numpy scale ([1, 1, 3] as __numpy__), EfficientNetV2's mean/variance lists, adapted statistics with an int64 count, a list scale with an offset", async () => {
    const next = rng(61);
    const dense = { units: 2, activation: "linear", use_bias: true, kernel_initializer: null, bias_initializer: null, lora_rank: null };
    const config = {
      module: "keras", class_name: "Sequential", registered_name: null,
      config: {
        name: "stem", layers: [
          k3layer("InputLayer", { batch_shape: [null, 4, 4, 3], dtype: "float32", sparse: false, name: "input_layer" }),
          k3layer("Rescaling", { name: "rescaling", scale: { class_name: "__numpy__", config: { value: [[[0.5, 2, -1]]], dtype: "float32" } }, offset: 0.0 }),
          k3layer("Normalization", { name: "normalization", axis: [-1], invert: false, mean: [0.485, 0.456, 0.406], variance: [0.052441, 0.050176, 0.050625] }),
          k3layer("Normalization", { name: "normalization_1", axis: [-1], invert: false, mean: null, variance: null }),
          k3layer("Rescaling", { name: "rescaling_1", scale: [2.0897, 2.1129, 2.1082], offset: -1.0 }),
          k3layer("Flatten", { name: "flatten", data_format: "channels_last" }),
          k3layer("Dense", { name: "dense", ...dense }),
        ],
      },
    };
    const mean = randomTensor([3], next), variance = values([0.7, 1.3, 0.2]);
    const kernel = randomTensor([48, 2], next), bias = randomTensor([2], next);
    const store = await writeH5((f) => {
      for (const l of ["rescaling", "normalization", "rescaling_1", "flatten"]) ensureGroup(f, `layers/${l}/vars`);
      putDataset(f, "layers/normalization_1/vars/0", mean);
      putDataset(f, "layers/normalization_1/vars/1", variance);
      (f.get("layers/normalization_1/vars") as InstanceType<typeof h5wasm.Group>).create_dataset({ name: "2", data: new BigInt64Array([1000n]), shape: [], dtype: "<q" });
      putDataset(f, "layers/dense/vars/0", kernel);
      putDataset(f, "layers/dense/vars/1", bias);
      ensureGroup(f, "optimizer/vars");
    });
    const imported = await importModel(kerasZip(config, store));
    expect(imported.notes).toEqual([]);
    const layers = imported.graph.layers as Record<string, unknown>[];
    expect(layers.slice(0, 4)).toMatchObject([
      { op: "rescaling", scale: [0.5, 2, -1], offset: 0 },
      { op: "normalization", axis: [-1], mean: [0.485, 0.456, 0.406], variance: [0.052441, 0.050176, 0.050625] },
      { op: "normalization", axis: [-1], mean: null, variance: null },
      { op: "rescaling", scale: [2.0897, 2.1129, 2.1082], offset: -1 },
    ]);
    const w = weightsOf(imported.weights);
    expect(Object.keys(w).sort()).toEqual(["dense/bias", "dense/kernel", "normalization_1/mean", "normalization_1/variance"]);
    expect(Array.from(w["normalization_1/mean"]!)).toEqual(Array.from(mean.data));
    expect(Array.from(w["normalization_1/variance"]!)).toEqual(Array.from(variance.data));
    expect(await againstReference(imported, "dense", 62)).toBeLessThan(1e-4);
  });

  test("Normalization with axis=None (Keras writes []) reads its scalar statistics; an unusable scale is refused naming the layer", async () => {
    const config = (scale: unknown) => ({
      module: "keras", class_name: "Sequential", registered_name: null,
      config: {
        name: "scalar", layers: [
          k3layer("InputLayer", { batch_shape: [null, 5], dtype: "float32", sparse: false, name: "input_layer" }),
          k3layer("Normalization", { name: "normalization", axis: [], invert: true, mean: null, variance: null }),
          k3layer("Rescaling", { name: "rescaling", scale, offset: 0.5 }),
        ],
      },
    });
    const store = await writeH5((f) => {
      ensureGroup(f, "layers/rescaling/vars");
      putDataset(f, "layers/normalization/vars/0", values([0.25], []));
      putDataset(f, "layers/normalization/vars/1", values([4], []));
      (f.get("layers/normalization/vars") as InstanceType<typeof h5wasm.Group>).create_dataset({ name: "2", data: new BigInt64Array([7n]), shape: [], dtype: "<q" });
      ensureGroup(f, "optimizer/vars");
    });
    const imported = await importModel(kerasZip(config(3), store));
    expect((imported.graph.layers as Record<string, unknown>[])[0]).toMatchObject({ op: "normalization", axis: null, invert: true });
    expect(await againstReference(imported, "rescaling", 63)).toBeLessThan(1e-4);
    await expect(importModel(kerasZip(config([[1, 2], [3, 4]]), store))).rejects.toThrow(
      /layer "rescaling" \(Rescaling\): scale must be a number or a list of numbers \(one per channel; nested lists only with leading axes of 1\)/,
    );
  });
});

describe("Keras 2 .h5: Normalization's weights by weight_names", () => {
  test("mean:0, variance:0 and count:0 under the layer: mean and variance imported, count taken and left; predictions equal the reference's", async () => {
    const next = rng(71);
    const modelConfig = {
      class_name: "Functional",
      config: {
        name: "model", layers: [
          k2layer("InputLayer", "x", { batch_input_shape: [null, 3, 4], sparse: false, ragged: false }, []),
          k2layer("Rescaling", "rescaling", { scale: 0.00392156862745098, offset: 0.0 }, ["x"]),
          k2layer("Normalization", "normalization", { axis: [1, 2], invert: false, mean: null, variance: null }, ["rescaling"]),
          k2layer("Flatten", "flatten", { data_format: "channels_last" }, ["normalization"]),
          k2layer("Dense", "out", { units: 2, activation: "tanh", use_bias: true }, ["flatten"]),
        ],
        input_layers: [["x", 0, 0]], output_layers: [["out", 0, 0]],
      },
    };
    const mean = randomTensor([3, 4], next), variance = { shape: [3, 4], data: Float32Array.from({ length: 12 }, () => 0.5 + next()) };
    const file = await keras2H5(modelConfig, null, [
      { name: "x", weights: {} }, { name: "rescaling", weights: {} },
      // Keras 2 writes count as int64; its value never matters to predict, and the reader only takes it.
      { name: "normalization", weights: { "normalization/mean:0": mean, "normalization/variance:0": variance, "normalization/count:0": values([5], []) } },
      { name: "flatten", weights: {} },
      { name: "out", weights: { "out/kernel:0": randomTensor([12, 2], next), "out/bias:0": randomTensor([2], next) } },
    ]);
    const imported = await importModel(file);
    expect(imported.notes).toEqual([]);
    expect((imported.graph.layers as Record<string, unknown>[])[1]).toMatchObject({ op: "normalization", axis: [1, 2] });
    expect(Array.from(weightsOf(imported.weights)["normalization/variance"]!)).toEqual(Array.from(variance.data));
    expect(await againstReference(imported, "out", 72)).toBeLessThan(1e-4);
  });
});
