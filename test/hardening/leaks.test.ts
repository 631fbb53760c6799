/**
 * No leaks (issue 7, item 7): a small compiled model trains for 10,000 steps (5,000 trainStep
 * calls, 5,000 inside fit) and answers 100,000 predict calls in a child `node --expose-gc`
 * process running the bundled runtime. After warm-up, the wasm memory must not grow at all and
 * the JS heap (after full collections) by less than 1 MB.
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { build } from "esbuild";
import { afterAll, expect, it } from "vitest";
import { compile } from "../../compiler/index.js";

const dir = mkdtempSync(join(tmpdir(), "kiln-leaks-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GRAPH = {
  format: "kiln.graph/v2", name: "leaky", seed: 5,
  inputs: [{ name: "x", shape: [8] }],
  targets: [{ name: "label", shape: [], dtype: "int32" }],
  layers: [
    { name: "hidden", op: "dense", units: 16, activation: "relu" },
    { name: "drop", op: "dropout", rate: 0.1 },
    { name: "probs", op: "dense", units: 3, activation: "softmax" },
  ],
  training: { loss: { type: "sparse_categorical_crossentropy", output: "probs", target: "label" }, optimizer: { type: "adam" }, metrics: ["accuracy"] },
};

/** Runs in the child: warm up, measure, run the long loops, measure again; prints one JSON line. */
const CHILD = `
import { readFileSync } from "node:fs";
import { loadModel } from "./runtime.mjs";
const model = await loadModel(readFileSync(process.argv[2]));
const N = 4000;
const x = Float32Array.from({ length: N * 8 }, (_, i) => Math.sin(i * 0.37));
const label = Int32Array.from({ length: N }, (_, i) => (x[i * 8] > 0 ? 1 : 0) + (x[i * 8 + 1] > 0.5 ? 1 : 0));
const batch = { x: x.subarray(0, 64), label: label.subarray(0, 8) };
const one = { x: x.subarray(0, 8) };
let steps = 0, predictions = 0, last = 0;
const train = (n) => { for (let i = 0; i < n; i++, steps++) last = model.trainStep(batch).loss; };
const predict = (n) => { for (let i = 0; i < n; i++, predictions++) model.predict(one); };
const settle = () => { for (let i = 0; i < 4; i++) globalThis.gc(); return process.memoryUsage().heapUsed; };
const bytes = () => model.memoryView().byteLength;
// Warm-up: every path runs (and gets optimized) before the baseline.
train(1000); predict(10000);
await model.fit({ x, label }, { epochs: 1, batchSize: 8, yieldEvery: 1000 });
const heap0 = settle(), mem0 = bytes();
train(5000);
const history = await model.fit({ x, label }, { epochs: 10, batchSize: 8, yieldEvery: 1000 });
steps += 5000;
predict(100000);
const heap1 = settle(), mem1 = bytes();
console.log(JSON.stringify({ steps, predictions, heap0, heap1, mem0, mem1, last, epochs: history.epoch.length, fitLoss: history.history.loss.at(-1) }));
`;

it("10,000 training steps and 100,000 predictions: wasm memory unchanged, heap growth < 1 MB", async () => {
  const { wasm } = await compile(JSON.stringify(GRAPH), { optimizeLevel: 0, maxBatch: 8 });
  writeFileSync(join(dir, "model.wasm"), wasm);
  await build({ entryPoints: ["runtime/index.ts"], bundle: true, format: "esm", platform: "node", outfile: join(dir, "runtime.mjs"), logLevel: "silent" });
  writeFileSync(join(dir, "child.mjs"), CHILD);
  const out = execFileSync(process.execPath, ["--expose-gc", join(dir, "child.mjs"), join(dir, "model.wasm")], { cwd: dir, encoding: "utf8", timeout: 300_000 });
  const r = JSON.parse(out.trim().split("\n").at(-1)!);
  console.log(`leaks: ${r.steps} steps, ${r.predictions} predictions, heap ${r.heap0} -> ${r.heap1} bytes (${r.heap1 - r.heap0}), wasm memory ${r.mem0} -> ${r.mem1}`);
  expect(r.steps).toBe(11_000); // 1,000 warm-up + 10,000 measured
  expect(r.predictions).toBe(110_000);
  expect(r.epochs).toBe(10);
  expect(Number.isFinite(r.last) && Number.isFinite(r.fitLoss)).toBe(true);
  expect(r.mem0).toBeGreaterThan(0);
  expect(r.mem1).toBe(r.mem0);
  expect(r.heap1 - r.heap0).toBeLessThan(1 << 20);
}, 600_000);
