// Process start → first prediction, ONNX Runtime Web (wasm, 1 thread): create a session from an
// .onnx file the bench wrote beforehand, run once. Imports onnxruntime-web only (lib/ort-session.js;
// not onnx-proto, which the bench parent uses to write the file).
// Usage: node bench/startup/ort.js model.onnx inputName 28,28,1
import { readFileSync } from "node:fs";
import { session, run } from "../lib/ort-session.js";

const [path, name, dims] = process.argv.slice(2);
const shape = [1, ...dims.split(",").map(Number)];
const sess = await session(readFileSync(path));
const y = await run(sess, name, new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5), shape);
const { user, system } = process.cpuUsage(); // CPU time of this process so far
console.log(JSON.stringify({ y: Array.from(y), cpuMs: (user + system) / 1000 }));
