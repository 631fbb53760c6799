/**
 * The seed's linear regression (examples/linear-regression/graph.json: X = [[1,2],[2,4],[3,6],[4,8]],
 * y = [3,6,9,12], sgd 0.01, full batch) learns to predict 15 ± 0.01 for [5, 10], through the
 * runtime and through the command line (`kiln train` then `kiln predict` on safetensors data
 * files). Bad data files make the command line exit 1 naming the tensor and the sizes.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../compiler/cli/main.js";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { writeDataFile, type DataTensor } from "../../runtime/safetensors.js";

const GRAPH_PATH = fileURLToPath(new URL("../../examples/linear-regression/graph.json", import.meta.url));
const X = new Float32Array([1, 2, 2, 4, 3, 6, 4, 8]);
const Y = new Float32Array([3, 6, 9, 12]);
const EPOCHS = 20;

const dir = mkdtempSync(join(tmpdir(), "kiln-linreg-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function dataFile(name: string, tensors: Record<string, DataTensor>): string {
  const path = join(dir, name);
  writeFileSync(path, writeDataFile(tensors));
  return path;
}

async function cli(...argv: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "", err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

describe("linear regression", () => {
  it("the runtime learns y = x1 + x2: predict([5, 10]) = 15 ± 0.01", async () => {
    const { wasm } = await compile(await readFile(GRAPH_PATH, "utf8"), { optimizeLevel: 0, maxBatch: 4 });
    const model = await loadModel(wasm);
    const before = model.predict({ x: new Float32Array([5, 10]) }).linear![0]!;
    expect(Math.abs(before - 15)).toBeGreaterThan(1); // not right by luck
    const history = await model.fit({ x: X, y: Y }, { epochs: EPOCHS, batchSize: 4, shuffle: false });
    const losses = history.history.loss!;
    expect(losses).toHaveLength(EPOCHS);
    expect(losses.at(-1)!).toBeLessThan(losses[0]! / 100);
    const after = model.predict({ x: new Float32Array([5, 10]) }).linear![0]!;
    expect(Math.abs(after - 15)).toBeLessThan(0.01);
    expect(model.evaluate({ x: X, y: Y }).loss).toBeLessThan(1e-4);
  });

  it("the command line trains and predicts the same: 15 ± 0.01", async () => {
    const train = dataFile("train.safetensors", { x: { shape: [4, 2], data: X }, y: { shape: [4, 1], data: Y } });
    const query = dataFile("predict.safetensors", { x: { shape: [1, 2], data: new Float32Array([5, 10]) } });
    const weights = join(dir, "weights.safetensors");
    const t = await cli("train", GRAPH_PATH, "--data", train, "--epochs", String(EPOCHS), "--batch-size", "4", "--no-shuffle", "--out", weights);
    expect(t.err).toBe("");
    expect(t.code).toBe(0);
    expect(t.out).toContain(`Epoch ${EPOCHS}/${EPOCHS}`);
    const p = await cli("predict", GRAPH_PATH, "--data", query, "--weights", weights, "--json");
    expect(p.code).toBe(0);
    const out = JSON.parse(p.out) as { linear: number[] };
    expect(out.linear).toHaveLength(1);
    expect(Math.abs(out.linear[0]! - 15)).toBeLessThan(0.01);
  });
});

describe("command-line data errors: exit 1, naming the tensor and the sizes", () => {
  const CLASSIFIER = join(dir, "classifier.json");
  writeFileSync(CLASSIFIER, JSON.stringify({
    format: "kiln.graph/v2", name: "classifier", seed: 1,
    inputs: [{ name: "features", shape: [3] }],
    targets: [{ name: "label", shape: [], dtype: "int32" }],
    layers: [{ name: "probs", op: "dense", units: 4, activation: "softmax" }],
    training: { loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "label" }, optimizer: { type: "sgd" } },
  }));
  const features = { shape: [5, 3], data: new Float32Array(15).fill(0.5) };
  const label = { shape: [5], data: Int32Array.from([0, 1, 2, 3, 0]) };

  const cases: [string, Record<string, DataTensor>, RegExp[]][] = [
    ["a missing tensor", { features }, [/"label"/, /I32/]],
    ["a wrong shape", { features: { shape: [5, 4], data: new Float32Array(20) }, label }, [/"features"/, /\[N, 3\]/, /\[5, 4\]/]],
    ["a wrong dtype", { features: { shape: [5, 3], data: new Int32Array(15) }, label }, [/"features"/, /F32/, /I32/]],
    ["a label out of range", { features, label: { shape: [5], data: Int32Array.from([0, 1, 7, 3, 0]) } }, [/label/, /7/, /\[0, 4\)/]],
  ];
  for (const [what, tensors, patterns] of cases) {
    it(`train with ${what}`, async () => {
      const data = dataFile(`bad-${what.replace(/\W+/g, "-")}.safetensors`, tensors);
      const r = await cli("train", CLASSIFIER, "--data", data, "--batch-size", "5", "--out", join(dir, "never.safetensors"));
      expect(r.code).toBe(1);
      for (const p of patterns) expect(r.err).toMatch(p);
    });
  }

  it("evaluate with a target of the wrong shape names it", async () => {
    const data = dataFile("bad-target.safetensors", { x: { shape: [4, 2], data: X }, y: { shape: [4], data: Y } });
    const r = await cli("evaluate", GRAPH_PATH, "--data", data);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/"y"/);
    expect(r.err).toMatch(/\[N, 1\]/);
    expect(r.err).toMatch(/\[4\]/);
  });

  it("predict with a missing input names it", async () => {
    const data = dataFile("no-input.safetensors", { z: { shape: [1, 2], data: new Float32Array(2) } });
    const r = await cli("predict", GRAPH_PATH, "--data", data, "--json");
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/"x"/);
    expect(r.err).toMatch(/\[N, 2\] F32/);
  });
});
