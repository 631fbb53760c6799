// Process start → first prediction, kiln: load a precompiled .wasm and its weights, predict once.
// Usage: node bench/startup/kiln.js model.wasm weights.safetensors
import { readFileSync } from "node:fs";
import { loadModel } from "../../dist/runtime/index.js";

const model = await loadModel(readFileSync(process.argv[2]), { weights: readFileSync(process.argv[3]) });
const input = model.inputs[0];
const out = model.predict({ [input.name]: new Float32Array(input.shape.reduce((a, b) => a * b, 1)).fill(0.5) });
const { user, system } = process.cpuUsage(); // CPU time of this process so far
console.log(JSON.stringify({ y: Array.from(Object.values(out)[0]), cpuMs: (user + system) / 1000 }));
