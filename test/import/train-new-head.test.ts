/**
 * `kiln train --weights` on an imported model with a new head (issue 18): the file from
 * `kiln import --cut-at` lacks the head's weights; what it has loads, the head starts from the
 * graph's initializers, and kiln train says which. `--strict-weights` keeps the old refusal. A
 * weight of the wrong shape or dtype is an error naming it; names the graph lacks are skipped with a
 * note (as Keras's load_weights(skip_mismatch=True)); a file with none of the graph's weights is an
 * error. The same through the JS API: loadPretrainedWeights.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, test } from "vitest";
import { compile, KilnError, loadPretrainedWeights, readWeights } from "../../compiler/index.js";
import { main } from "../../compiler/cli/main.js";
import { loadModel } from "../../runtime/index.js";
import { readSafetensors, writeSafetensors } from "../../runtime/safetensors.js";
import { randomizeTf, saveArtifacts, toFiles } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-new-head-"));
const BACKBONE = join(dir, "backbone.json"), BACKBONE_W = join(dir, "backbone.safetensors");
const HEAD = join(dir, "head.json"), DATA = join(dir, "data.safetensors");
let headGraph: Record<string, any>;

async function run(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

/** backbone.safetensors with `edit` applied to its tensors. */
function editedBackbone(name: string, edit: (t: Map<string, { dtype: any; shape: number[]; data: Uint8Array | Float32Array }>) => void): string {
  const tensors = new Map<string, { dtype: any; shape: number[]; data: Uint8Array | Float32Array }>(readSafetensors(readFileSync(BACKBONE_W)).tensors);
  edit(tensors);
  const path = join(dir, name);
  writeFileSync(path, writeSafetensors(tensors));
  return path;
}

beforeAll(async () => {
  await tf.setBackend("cpu");
  // A TF.js model: features (dense 4 → 6 relu) and its old head probs (dense 3 softmax).
  const m = tf.sequential({ name: "pretrained" });
  m.add(tf.layers.dense({ inputShape: [4], units: 6, activation: "relu", name: "features" }));
  m.add(tf.layers.dense({ units: 3, activation: "softmax", name: "probs" }));
  randomizeTf(m, 11);
  for (const [k, v] of Object.entries(toFiles(await saveArtifacts(m)))) writeFileSync(join(dir, k), v);
  const imported = await run("import", join(dir, "model.json"), "-o", BACKBONE, "--freeze-until", "features", "--cut-at", "features");
  expect(imported.code, imported.err).toBe(0);
  // The documented flow: append a new head to the cut graph.
  headGraph = JSON.parse(readFileSync(BACKBONE, "utf8"));
  headGraph.layers.push({ name: "new_head", op: "dense", units: 2, activation: "softmax", inputs: ["features"] });
  headGraph.outputs = ["new_head"];
  headGraph.targets = [{ name: "label", shape: [], dtype: "int32" }];
  headGraph.training = { loss: { type: "sparse_categorical_crossentropy", output: "new_head", target: "label" }, optimizer: { type: "adam", learning_rate: 0.05 } };
  writeFileSync(HEAD, JSON.stringify(headGraph));
  const n = 32, input = headGraph.inputs[0].name as string;
  const x = Float32Array.from({ length: n * 4 }, (_v, i) => Math.sin(i * 1.7));
  const label = Int32Array.from({ length: n }, (_v, i) => (x[i * 4]! > 0 ? 1 : 0));
  writeFileSync(DATA, writeSafetensors({ [input]: { dtype: "F32", shape: [n, 4], data: x }, label: { dtype: "I32", shape: [n], data: label } }));
});

describe("kiln train --weights with a file that lacks the new head", () => {
  test("the backbone's weights load, the head starts from the initializers, and kiln train names the initialized weights", async () => {
    const out = join(dir, "trained.safetensors");
    const r = await run("train", HEAD, "--data", DATA, "--weights", BACKBONE_W, "--epochs", "3", "--batch-size", "8", "--out", out, "--verbose", "0");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toBe(`kiln train: note: 2 weight(s) not in ${BACKBONE_W} start from the graph's initializers: "new_head/kernel", "new_head/bias" (--strict-weights refuses this)\n`);
    const before = readSafetensors(readFileSync(BACKBONE_W)).tensors;
    const after = readSafetensors(readFileSync(out)).tensors; // weights and optimizer state
    // The frozen backbone is the imported one, bit for bit: it was loaded, not initialized.
    for (const name of ["features/kernel", "features/bias"]) expect(Buffer.from(after.get(name)!.data).equals(Buffer.from(before.get(name)!.data)), name).toBe(true);
    expect(after.get("new_head/kernel")!.shape).toEqual([6, 2]);
  }, 120_000);

  test("--strict-weights keeps the refusal: every weight of the graph must be in the file", async () => {
    const r = await run("train", HEAD, "--data", DATA, "--weights", BACKBONE_W, "--strict-weights", "--out", join(dir, "strict.safetensors"), "--verbose", "0");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/new_head\/bias.*missing from the weights file/);
    expect(r.err).toMatch(/new_head\/kernel.*missing from the weights file/);
  }, 120_000);

  test("a weight of the wrong shape or dtype is an error naming it, with or without --strict-weights", async () => {
    const shape = editedBackbone("shape.safetensors", (t) => t.set("features/bias", { dtype: "F32", shape: [5], data: new Float32Array(5) }));
    const dtype = editedBackbone("dtype.safetensors", (t) => t.set("features/bias", { dtype: "F16", shape: [6], data: new Uint8Array(12) }));
    for (const [file, got] of [[shape, "F32 [5]"], [dtype, "F16 [6]"]] as const) {
      const r = await run("train", HEAD, "--data", DATA, "--weights", file, "--out", join(dir, "never.safetensors"), "--verbose", "0");
      expect(r.code).toBe(1);
      expect(r.err).toContain("features/bias");
      expect(r.err).toContain(`expected F32 [6], got ${got}`);
    }
  }, 120_000);

  test("tensors the graph does not have are skipped with a note (an error with --strict-weights); a file with none of its weights is an error", async () => {
    const extra = editedBackbone("extra.safetensors", (t) => t.set("probs/kernel", { dtype: "F32", shape: [6, 3], data: new Float32Array(18) }));
    const r = await run("train", HEAD, "--data", DATA, "--weights", extra, "--out", join(dir, "extra-out.safetensors"), "--verbose", "0");
    expect(r.code, r.err).toBe(0);
    expect(r.err).toContain(`kiln train: note: 1 tensor(s) of ${extra} are not in the graph and were skipped: "probs/kernel"`);
    const strict = await run("train", HEAD, "--data", DATA, "--weights", extra, "--strict-weights", "--out", join(dir, "never.safetensors"), "--verbose", "0");
    expect(strict.code).toBe(1);
    expect(strict.err).toMatch(/probs\/kernel.*the model has no tensor "probs\/kernel"/);

    const unrelated = join(dir, "unrelated.safetensors");
    writeFileSync(unrelated, writeSafetensors({ "other/kernel": { dtype: "F32", shape: [2], data: new Float32Array(2) } }));
    const none = await run("train", HEAD, "--data", DATA, "--weights", unrelated, "--out", join(dir, "never.safetensors"), "--verbose", "0");
    expect(none.code).toBe(1);
    expect(none.err).toMatch(/the file holds none of the model's 4 weights \(its tensors: "other\/kernel"\); is it the weights file of this graph\?/);
  }, 120_000);
});

describe("loadPretrainedWeights (the JS API of the same)", () => {
  test("loads what the file has, keeps the seeded initializers for the rest, lists both; a refused file leaves the model as it was", async () => {
    const { wasm } = await compile(headGraph, { maxBatch: 8 });
    const fresh = (await loadModel(wasm)).getWeights();
    const model = await loadModel(wasm);
    const r = loadPretrainedWeights(model, new Uint8Array(readFileSync(BACKBONE_W)));
    expect([...r.initialized].sort()).toEqual(["new_head/bias", "new_head/kernel"]);
    expect(r.ignored).toEqual([]);
    expect([...r.loaded].sort()).toEqual(["features/bias", "features/kernel"]);
    const w = model.getWeights(), file = readWeights(new Uint8Array(readFileSync(BACKBONE_W)));
    expect(w["features/kernel"]).toEqual(file["features/kernel"]);
    expect(w["new_head/kernel"]).toEqual(fresh["new_head/kernel"]); // the initializers' values (same seed)
    expect(w["features/kernel"]).not.toEqual(fresh["features/kernel"]);

    const bad = editedBackbone("bad.safetensors", (t) => t.set("features/kernel", { dtype: "F32", shape: [4, 6], data: new Float32Array(24).fill(Number.NaN) }));
    const before = model.getWeights();
    expect(() => loadPretrainedWeights(model, new Uint8Array(readFileSync(bad)))).toThrow(KilnError);
    expect(model.getWeights()).toEqual(before);
  }, 120_000);
});
