// Process start → first prediction, TF.js: import tfjs-core, tfjs-layers and the one backend
// measured (not the @tensorflow/tfjs umbrella, which also loads webgl, converter and data, nor the
// other backend), build the seed CNN, set its weights (raw f32 file + names/shapes), predict once.
// Usage: node bench/startup/tfjs.js wasm|cpu graph.json weights.bin weights.json
import { readFileSync } from "node:fs";
import { tf, use, buildSequential, copyWeights, wasmSettings } from "../lib/tfjs-model.js";

const [backend, graphPath, binPath, listPath] = process.argv.slice(2);
if (backend === "wasm") wasmSettings((await import("@tensorflow/tfjs-backend-wasm")).setWasmPaths);
else if (backend === "cpu") await import("@tensorflow/tfjs-backend-cpu");
else throw new Error(`backend ${backend}: expected wasm or cpu`);
await use(backend);
const graph = JSON.parse(readFileSync(graphPath, "utf8"));
const raw = readFileSync(binPath);
const all = new Float32Array(raw.buffer, raw.byteOffset, raw.byteLength / 4);
const weights = {};
let at = 0;
for (const { name, shape } of JSON.parse(readFileSync(listPath, "utf8"))) {
  const n = shape.reduce((a, b) => a * b, 1);
  weights[name] = all.subarray(at, at + n);
  at += n;
}
const model = buildSequential({ ...graph, training: undefined });
copyWeights(model, graph, weights);
const input = graph.inputs[0];
const y = model.predict(tf.fill([1, ...input.shape], 0.5), { batchSize: 1 });
const { user, system } = process.cpuUsage(); // CPU time of this process so far
console.log(JSON.stringify({ y: Array.from(y.dataSync()), cpuMs: (user + system) / 1000 }));
