/**
 * `compile({ weights })` / `kiln compile --weights`: trained weights travel inside the module and
 * loadModel starts from them; a weights file that does not fit the graph is rejected by name.
 */
import { describe, expect, it } from "vitest";
import { compile, KilnError } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { writeSafetensors } from "../../runtime/safetensors.js";
import { randomizeWeights, rng } from "./harness.js";

const graph = {
  format: "kiln.graph/v2", name: "embed", seed: 1, inputs: [{ name: "x", shape: [3] }],
  layers: [{ name: "d", op: "dense", units: 2 }],
};

describe("embedded weights", () => {
  it("a module compiled with trained weights loads with exactly those weights", async () => {
    const plain = await loadModel((await compile(JSON.stringify(graph), { maxBatch: 2 })).wasm);
    const trained = randomizeWeights(plain, 5);
    const { wasm, manifest } = await compile(JSON.stringify(graph), { maxBatch: 2, weights: plain.saveWeights() });
    expect(manifest.weightsEmbedded).toBe(true);
    const ready = await loadModel(wasm);
    for (const [name, v] of Object.entries(trained)) expect(Array.from(ready.getWeights()[name]!)).toEqual(Array.from(v));
    const next = rng(2);
    const x = Float32Array.from({ length: 6 }, () => next());
    expect(Array.from(ready.predict({ x }).d!)).toEqual(Array.from(plain.predict({ x }).d!));
  });

  it("weights of more than 8 MB embed (binaryen's addCustomSection fails from 8 MB; kiln appends the section itself)", async () => {
    const big = { ...graph, inputs: [{ name: "x", shape: [1600] }], layers: [{ name: "d", op: "dense", units: 1500 }] };
    const plain = await loadModel((await compile(JSON.stringify(big), { maxBatch: 1 })).wasm);
    const trained = randomizeWeights(plain, 9);
    const weights = plain.saveWeights();
    expect(weights.length).toBeGreaterThan(9_000_000);
    const { wasm } = await compile(JSON.stringify(big), { maxBatch: 1, weights });
    expect(WebAssembly.Module.customSections(new WebAssembly.Module(wasm), "kiln.weights").map((s) => s.byteLength)).toEqual([weights.length]);
    const ready = await loadModel(wasm);
    expect(Array.from(ready.getWeights()["d/kernel"]!.subarray(0, 5000))).toEqual(Array.from(trained["d/kernel"]!.subarray(0, 5000)));
    expect(Array.from(ready.getWeights()["d/bias"]!)).toEqual(Array.from(trained["d/bias"]!));
  });

  it("a weights file that does not fit the graph is rejected, naming the tensor", async () => {
    const wrong = writeSafetensors({ "d/kernel": { dtype: "F32", shape: [2, 2], data: new Float32Array(4) } });
    const err = await compile(JSON.stringify(graph), { weights: wrong }).then(() => undefined, (e) => e);
    expect(err).toBeInstanceOf(KilnError);
    expect(err.message).toContain("d/kernel: expected F32 [3, 2], got F32 [2, 2]");
    expect(err.message).toContain('the weights file has no tensor "d/bias" (expected F32 [2])');
  });
});
