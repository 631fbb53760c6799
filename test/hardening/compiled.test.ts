/**
 * The NaN finder and trap naming end to end, on compiled graphs (their manifests carry
 * training.layerOutputs and kernels): fit({ debugNaN }) names the dense layer that overflowed,
 * and a kernel that runs out of memory is named with its layer.
 */
import { expect, test } from "vitest";
import { compile } from "../../compiler/index.js";
import { KilnError } from "../../runtime/errors.js";
import { loadModel } from "../../runtime/index.js";

const GRAPH = {
  format: "kiln.graph/v2", name: "blowup", seed: 1,
  inputs: [{ name: "x", shape: [4] }],
  targets: [{ name: "y", shape: [2] }],
  layers: [
    { name: "first", op: "dense", units: 3, activation: "tanh" },
    { name: "second", op: "dense", units: 3 },
    { name: "third", op: "dense", units: 2, activation: "sigmoid" },
  ],
  training: { loss: { type: "mean_squared_error", output: "third", target: "y" }, optimizer: { type: "sgd" } },
};

test("fit({ debugNaN }) names the layer that overflowed in a compiled model", async () => {
  const { wasm, manifest } = await compile(JSON.stringify(GRAPH), { optimizeLevel: 0, maxBatch: 4 });
  expect(manifest.training!.layerOutputs!.map((o) => o.layer)).toEqual(["first", "second", "third"]);
  expect(Object.keys(manifest.kernels!.calls).sort()).toEqual(["evaluate", "predict", "train_step"]);
  const model = await loadModel(wasm);
  // tanh keeps "first" in [-1, 1]; a 3e38 kernel with a 3e38 bias overflows "second" to ±Infinity.
  model.setWeights({ "second/kernel": new Float32Array(9).fill(3e38), "second/bias": new Float32Array(3).fill(3e38) });
  const data = { x: Float32Array.from({ length: 16 }, (_, i) => 1 + i / 16), y: new Float32Array(8) };
  let error: unknown;
  try {
    await model.fit(data, { batchSize: 4, shuffle: false, debugNaN: true });
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(KilnError);
  const e = error as KilnError;
  expect(e.diagnostics[0]).toMatchObject({ code: "diverged", path: "fit", layer: "second" });
  expect(e.message).toContain("step 1 of this fit");
  expect(e.message).toMatch(/the first non-finite layer output is layer "second" \(example 0 of the batch, element \d is -?Infinity\)/);
});

test("a trap in a compiled kernel names its layer (white-box: a batch far past maxBatch)", async () => {
  const graph = {
    format: "kiln.graph/v2", name: "wide", seed: 2,
    inputs: [{ name: "x", shape: [1024] }],
    layers: [{ name: "narrow", op: "dense", units: 1 }, { name: "after", op: "dense", units: 2 }],
  };
  const { wasm, manifest } = await compile(JSON.stringify(graph), { optimizeLevel: 0, maxBatch: 2 });
  const model = await loadModel(wasm);
  // The public API never passes such a batch; the private export runner does. The first kernel
  // (narrow's matmul) reads 4 KB of input per example and writes 4 bytes: its reads leave the
  // memory long before its writes reach the progress cell.
  let error: unknown;
  try {
    (model as unknown as { run(which: string, batch: number): void }).run("predict", 1 << 20);
  } catch (e) {
    error = e;
  }
  expect(error).toBeInstanceOf(KilnError);
  const e = error as KilnError;
  const [kernel, layer] = manifest.kernels!.calls.predict[0];
  expect(layer).toBe("narrow");
  expect(e.diagnostics[0]).toMatchObject({ code: "trap", path: "predict", layer: "narrow" });
  expect(e.message).toContain(`inside export "predict" in kernel ${kernel} of layer "narrow" (batch 1048576)`);
  expect(e.message).toMatch(/out of bounds/);
});
