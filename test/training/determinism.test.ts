/**
 * Spec §1: same graph, seed and data give bit-identical weights after training. Two separate Node
 * processes each load the same compiled module with the built runtime (dist/, rebuilt first when
 * older than runtime/), run one epoch of shuffled `fit` (adam, dropout) and save the weights; the
 * files must be byte-identical, and equal to the same training in this process. Compiling twice
 * gives the same bytes too.
 */
import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";
import { loadModel } from "../../runtime/index.js";
import { writeDataFile } from "../../runtime/safetensors.js";
import { ints, uniform } from "./helpers.js";

const ROOT = fileURLToPath(new URL("../../", import.meta.url));
const COUNT = 37, BATCH = 4;

const GRAPH = {
  format: "kiln.graph/v2",
  name: "determinism",
  seed: 99,
  inputs: [{ name: "x", shape: [5] }],
  targets: [{ name: "label", shape: [], dtype: "int32" }],
  layers: [
    { name: "h", op: "dense", units: 8, activation: "relu" },
    { name: "drop", op: "dropout", rate: 0.3 },
    { name: "probs", op: "dense", units: 3, activation: "softmax" },
  ],
  training: {
    loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "label" },
    optimizer: { type: "adam", learning_rate: 0.01 },
    metrics: ["accuracy"],
  },
};

const DATA = { x: uniform(COUNT * 5, 7), label: ints(COUNT, 3, 8) };

/** The child: load the module with dist/runtime, fit one shuffled epoch, write the weights. */
const CHILD = `
import { readFileSync, writeFileSync } from "node:fs";
import { loadModel } from ${JSON.stringify(pathToFileURL(join(ROOT, "dist/runtime/index.js")).href)};
import { readDataFile } from ${JSON.stringify(pathToFileURL(join(ROOT, "dist/runtime/safetensors.js")).href)};
const [wasmPath, dataPath, outPath] = process.argv.slice(2);
const model = await loadModel(new Uint8Array(readFileSync(wasmPath)));
const feeds = Object.fromEntries([...readDataFile(new Uint8Array(readFileSync(dataPath))).tensors].map(([k, t]) => [k, t.data]));
await model.fit(feeds, { epochs: 1, batchSize: ${BATCH}, shuffle: true });
writeFileSync(outPath, model.saveWeights());
`;

/** True when some runtime/*.ts is newer than its dist/ build (or the build is missing). */
function distIsStale(): boolean {
  for (const f of readdirSync(join(ROOT, "runtime")).filter((n) => n.endsWith(".ts"))) {
    const built = join(ROOT, "dist/runtime", f.replace(/\.ts$/, ".js"));
    if (!existsSync(built) || statSync(built).mtimeMs < statSync(join(ROOT, "runtime", f)).mtimeMs) return true;
  }
  return false;
}

function runChild(dir: string, tag: string): Promise<Uint8Array> {
  const out = join(dir, `weights-${tag}.safetensors`);
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(dir, "child.mjs"), join(dir, "model.wasm"), join(dir, "data.safetensors"), out], { stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    child.on("error", reject);
    child.on("exit", (code) => (code === 0 ? resolve(new Uint8Array(readFileSync(out))) : reject(new Error(`child ${tag} exited ${code}: ${err}`))));
  });
}

let dir: string;
let wasm: Uint8Array;

beforeAll(async () => {
  if (distIsStale()) {
    // tsc still emits when files outside runtime/ have type errors; only the runtime is used here.
    try {
      execFileSync("npx", ["tsc", "-p", "tsconfig.build.json"], { cwd: ROOT, stdio: "ignore" });
    } catch {
      /* checked below */
    }
  }
  expect(distIsStale(), "dist/runtime is built from the current runtime/").toBe(false);
  dir = mkdtempSync(join(tmpdir(), "kiln-determinism-"));
  wasm = (await compile(JSON.stringify(GRAPH), { optimizeLevel: 0, maxBatch: BATCH })).wasm;
  writeFileSync(join(dir, "model.wasm"), wasm);
  writeFileSync(join(dir, "data.safetensors"), writeDataFile({ x: { shape: [COUNT, 5], data: DATA.x }, label: { shape: [COUNT], data: DATA.label } }));
  writeFileSync(join(dir, "child.mjs"), CHILD);
}, 300_000);

afterAll(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe("determinism", () => {
  it("compiling the same graph twice gives the same module bytes", async () => {
    const again = (await compile(JSON.stringify(GRAPH), { optimizeLevel: 0, maxBatch: BATCH })).wasm;
    expect(Buffer.from(again).equals(Buffer.from(wasm))).toBe(true);
  });

  it("two processes training one epoch save bit-identical weights, equal to this process's", async () => {
    const [a, b] = await Promise.all([runChild(dir, "a"), runChild(dir, "b")]);
    expect(a.byteLength).toBeGreaterThan(0);
    expect(Buffer.from(a).equals(Buffer.from(b))).toBe(true);

    const model = await loadModel(wasm);
    const initial = model.saveWeights();
    await model.fit(DATA, { epochs: 1, batchSize: BATCH, shuffle: true });
    const here = model.saveWeights();
    expect(Buffer.from(here).equals(Buffer.from(a))).toBe(true);
    expect(Buffer.from(here).equals(Buffer.from(initial))).toBe(false); // training did change them
  });

  it("another seed gives other weights (the seed reaches initialization, shuffling and dropout)", async () => {
    const other = await loadModel((await compile(JSON.stringify({ ...GRAPH, seed: 100 }), { optimizeLevel: 0, maxBatch: BATCH })).wasm);
    await other.fit(DATA, { epochs: 1, batchSize: BATCH, shuffle: true });
    const model = await loadModel(wasm);
    await model.fit(DATA, { epochs: 1, batchSize: BATCH, shuffle: true });
    expect(Buffer.from(other.saveWeights()).equals(Buffer.from(model.saveWeights()))).toBe(false);
  });
});
