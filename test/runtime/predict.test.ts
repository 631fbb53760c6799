/**
 * kiln/runtime/predict (issue 15 item 10): loadModel for apps that only predict. Its Predictor
 * predicts exactly as kiln/runtime's Model does, takes weights only from loadModel (embedded or
 * `weights`, optimizer state ignored), refuses a bad weights file with the same sentences (fetched
 * from load-errors.ts only then), never checks or writes a module's training part, and has none
 * of the training and saving methods.
 */
import { describe, expect, test } from "vitest";
import { KilnError } from "../../runtime/errors.js";
import { loadModel as loadFull } from "../../runtime/index.js";
import { loadModel } from "../../runtime/predict.js";
import { readSafetensors, writeSafetensors } from "../../runtime/safetensors.js";
import { linearManifest, moduleBytes, probeManifest } from "./fixtures.js";
import { rejects } from "../util/errors.js";

const W = new Float32Array([0.5, -1, 2, 0.25, -0.75, 1.5]); // [3, 2]
const B = new Float32Array([0.1, -0.2]);
const x = Float32Array.from({ length: 15 }, (_, i) => Math.sin(i) * 3); // 5 examples: split at maxBatch 4

/** A trained model's weights file, with its optimizer state (as `kiln train` writes it). */
async function trainedFile(): Promise<Uint8Array> {
  const m = await loadFull(await moduleBytes(linearManifest()));
  m.setWeights({ "dense/kernel": W, "dense/bias": B });
  m.trainStep({ x: x.slice(0, 12), y: new Float32Array(8).fill(1) });
  return m.saveWeights();
}

describe("kiln/runtime/predict", () => {
  test("predicts what kiln/runtime's Model predicts, from a weights file with optimizer state (ignored)", async () => {
    const file = await trainedFile();
    expect([...readSafetensors(file).tensors.keys()]).toContain("optimizer/step");
    const bytes = await moduleBytes(linearManifest());
    const full = await loadFull(bytes, { weights: file }), lean = await loadModel(bytes, { weights: file });
    expect(lean.predict({ x }).out).toEqual(full.predict({ x }).out);
    expect(lean.getWeights()).toEqual(full.getWeights());
    expect(lean.inputs).toEqual(full.inputs);
    expect(lean.outputs).toEqual(full.outputs);
    expect(lean.canTrain).toBe(true); // what the module can do, not what this model offers
  });

  test("weights embedded in the module are loaded", async () => {
    const file = await trainedFile();
    const bytes = await moduleBytes(linearManifest({ weightsEmbedded: true }), file);
    const reference = await loadFull(await moduleBytes(linearManifest()), { weights: file });
    expect((await loadModel(bytes)).predict({ x }).out).toEqual(reference.predict({ x }).out);
  });

  test("has no training or saving methods: a Predictor only predicts", async () => {
    const m = await loadModel(await moduleBytes(linearManifest()));
    for (const method of ["trainStep", "fit", "evaluate", "saveWeights", "loadWeights", "setWeights"]) expect(method in m).toBe(false);
    expect(typeof m.predict).toBe("function");
  });

  test("a bad weights file is refused with the sentences kiln/runtime gives, naming each tensor", async () => {
    const bytes = await moduleBytes(linearManifest());
    const bad = writeSafetensors({ "dense/kernel": { dtype: "F32", shape: [2, 3], data: W }, "dense/extra": { dtype: "F32", shape: [2], data: B } });
    const lean = await rejects(loadModel(bytes, { weights: bad }));
    const full = await rejects(loadFull(bytes, { weights: bad }));
    expect(lean.diagnostics).toEqual(full.diagnostics);
    expect(lean.message).toMatch(/dense\/bias: missing from the weights file/);
    expect(lean.message).toMatch(/dense\/kernel: expected F32 \[3, 2\], got F32 \[2, 3\]/);
    expect(lean.message).toMatch(/dense\/extra: the model has no tensor "dense\/extra"/);
    const notBytes = await rejects(loadModel(bytes, { weights: [1, 2] as unknown as Uint8Array }));
    expect(notBytes.diagnostics).toEqual([{ code: "safetensors", path: "header", message: "expected the weights file as a Uint8Array, got Array" }]);
  });

  test("never checks or writes the training part: a broken one loads here and is refused by kiln/runtime", async () => {
    const m = probeManifest();
    // The seed word over an input: kiln/runtime refuses the overlap; a Predictor never writes it.
    const bytes = await moduleBytes({ ...m, training: { ...m.training!, seedOffset: m.inputs[0].offset } });
    await expect(loadFull(bytes)).rejects.toThrow(KilnError);
    const lean = await loadModel(bytes);
    const a = Float32Array.from([1, 2, 3, 4]), ids = Int32Array.from([1, 2, 3, 4, 5, 6]);
    const { sum, seed } = lean.predict({ a, ids });
    expect(Array.from(sum)).toEqual([1 + 2 + 1 + 2 + 3, 3 + 4 + 4 + 5 + 6]);
    expect(Array.from(seed)).toEqual([0, 0]); // the probe's predict reads the seed word, which only a Model writes
  });

  test("bad inputs are KilnErrors naming the input, as kiln/runtime's", async () => {
    const m = await loadModel(await moduleBytes(linearManifest()));
    expect(() => m.predict({ x: new Float64Array(3) as unknown as Float32Array })).toThrow(/input "x": expected Float32Array \(float32\), got Float64Array/);
    m.dispose();
    expect(() => m.predict({ x })).toThrow(/the model was disposed/);
  });
});
