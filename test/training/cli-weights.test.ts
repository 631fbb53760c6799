/**
 * `kiln train --sample-weight / --class-weight` and `kiln evaluate --sample-weight` (issue 21
 * item 3): the command line trains bit-identically to fit with the same weights, and bad weights
 * are usage or data errors naming the flag, the file and the tensor.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { main } from "../../compiler/cli/main.js";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { asFloat32, readSafetensors, writeDataFile } from "../../runtime/safetensors.js";
import { uniform } from "./helpers.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-w-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const graph = {
  format: "kiln.graph/v2", name: "cli_w", seed: 4,
  inputs: [{ name: "x", shape: [3] }], targets: [{ name: "y", shape: [], dtype: "int32" }],
  layers: [{ name: "p", op: "dense", units: 3, activation: "softmax" }],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "p", target: "y" }, optimizer: { type: "sgd", learning_rate: 0.1 }, metrics: ["accuracy"] },
};
const GRAPH = join(dir, "graph.json");
writeFileSync(GRAPH, JSON.stringify(graph));
const x = uniform(60, 1), y = Int32Array.from({ length: 20 }, (_, i) => (i * 7) % 3), sw = Float32Array.from({ length: 20 }, (_, i) => (i % 4) * 0.5);
const DATA = join(dir, "data.safetensors");
writeFileSync(DATA, writeDataFile(new Map<string, { shape: number[]; data: Float32Array | Int32Array }>([["x", { shape: [20, 3], data: x }], ["y", { shape: [20], data: y }], ["w", { shape: [20], data: sw }]])));

async function cli(...argv: string[]) {
  let out = "", err = "";
  const code = await main(argv, { out: (t) => void (out += t), err: (t) => void (err += t) });
  return { code, out, err };
}

async function fitted(opts: Record<string, unknown>) {
  const model = await loadModel((await compile(JSON.stringify(graph), { maxBatch: 8 })).wasm);
  await model.fit({ x, y }, { epochs: 2, batchSize: 8, ...opts });
  return model.getWeights();
}

const weightsOf = (file: string) => {
  const t = readSafetensors(readFileSync(file)).tensors;
  return Object.fromEntries([...t].filter(([k]) => !k.startsWith("optimizer/")).map(([k, v]) => [k, Array.from(asFloat32(v, k))]));
};
const plain = (w: Record<string, Float32Array>) => Object.fromEntries(Object.entries(w).map(([k, v]) => [k, Array.from(v)]));

describe("kiln train / evaluate with weights", () => {
  it("--sample-weight names a tensor of --data: the same weights as fit({ sampleWeight })", async () => {
    const out = join(dir, "sw.safetensors");
    const r = await cli("train", GRAPH, "--data", DATA, "--epochs", "2", "--batch-size", "8", "--sample-weight", "w", "--out", out);
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(weightsOf(out)).toEqual(plain(await fitted({ sampleWeight: sw })));
    const e = await cli("evaluate", GRAPH, "--data", DATA, "--weights", out, "--sample-weight", "w", "--json");
    const model = await loadModel((await compile(JSON.stringify(graph), { maxBatch: 64 })).wasm);
    model.loadWeights(readFileSync(out));
    expect(JSON.parse(e.out).loss).toBe(model.evaluate({ x, y }, { batchSize: 64, sampleWeight: sw }).loss);
  });

  it("--class-weight JSON: the same weights as fit({ classWeight })", async () => {
    const out = join(dir, "cw.safetensors");
    const r = await cli("train", GRAPH, "--data", DATA, "--epochs", "2", "--batch-size", "8", "--class-weight", '{"0": 1, "1": 3, "2": 0.5}', "--out", out);
    expect(r.err).toBe("");
    expect(weightsOf(out)).toEqual(plain(await fitted({ classWeight: { 0: 1, 1: 3, 2: 0.5 } })));
  });

  it("bad weights: errors naming the flag, file and tensor; nothing written", async () => {
    const out = join(dir, "bad.safetensors");
    const missing = await cli("train", GRAPH, "--data", DATA, "--sample-weight", "weights", "--out", out);
    expect(missing.code).not.toBe(0);
    expect(missing.err).toMatch(/--sample-weight: .*data\.safetensors has no tensor "weights"/);
    const wrong = await cli("train", GRAPH, "--data", DATA, "--sample-weight", "x", "--out", out);
    expect(wrong.err).toMatch(/--sample-weight: .*data\.safetensors: x: expected \[N\] F32 for "x", got \[20, 3\] F32/);
    const json = await cli("train", GRAPH, "--data", DATA, "--class-weight", "{0: 1}", "--out", out);
    expect(json.code).not.toBe(0);
    expect(json.err).toMatch(/--class-weight.*expected a JSON object of class id → weight/);
    const absent = await cli("train", GRAPH, "--data", DATA, "--class-weight", '{"0": 1, "1": 2}', "--out", out);
    expect(absent.err).toMatch(/classWeight.*example 2 \(counting from 0\) of target "y" is class 2, which has no weight in the map/);
    expect(() => readFileSync(out)).toThrow();
  });
});
