/**
 * Child-process measurements: the seed CNN's cold compile (fresh process, nothing cached), and
 * process start → first prediction per system (spawn `node` on bench/startup/<system>.js, time
 * from spawn to the printed result, which must match kiln's prediction within 1e-3; the CPU
 * figure is the child's own process.cpuUsage() when it prints).
 */
import { spawn } from "node:child_process";
import { readFileSync, writeFileSync } from "node:fs";
import { ROOT } from "./graphs.js";
import { buildOnnx } from "./ort.js";
import { maxAbsDiff, median } from "./measure.js";

/** Runs node on a script; resolves with the first stdout line and the ms from spawn to it. */
function firstLine(args) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let out = "", err = "", done = false;
    child.stdout.on("data", (d) => {
      out += d;
      const nl = out.indexOf("\n");
      if (nl >= 0 && !done) { done = true; resolve({ line: out.slice(0, nl), ms: performance.now() - t0 }); }
    });
    child.stderr.on("data", (d) => { err += d; });
    child.on("exit", (code) => { if (!done) reject(new Error(`${args[0]} exited with ${code}: ${err.trim().split("\n").pop()}`)); });
  });
}

/** Compiles the seed CNN (training, then inference-only) in a fresh process; timings and the two modules. */
export async function coldCompile(graphPath, dir, optimizeLevel) {
  const { line, ms } = await firstLine([ROOT + "bench/startup/compile-cold.js", graphPath, dir, String(optimizeLevel)]);
  const t = JSON.parse(line);
  return { ...t, spawnToDoneMs: ms, trainWasm: readFileSync(`${dir}/cnn-train.wasm`), inferWasm: readFileSync(`${dir}/cnn-infer.wasm`) };
}

/** Start → first prediction for kiln, tfjs-wasm, tfjs-cpu and ORT-web, round-robin over `rounds`. */
export async function measureStartup({ model, graph, inferWasm, dir, rounds }) {
  const weights = model.getWeights();
  const list = model.weights.map(({ name, shape }) => ({ name, shape }));
  writeFileSync(`${dir}/cnn-infer.wasm`, inferWasm);
  writeFileSync(`${dir}/cnn.safetensors`, model.saveWeights({ optimizer: false }));
  writeFileSync(`${dir}/weights.json`, JSON.stringify(list));
  writeFileSync(`${dir}/weights.bin`, Buffer.concat(list.map(({ name }) => Buffer.from(weights[name].buffer, weights[name].byteOffset, weights[name].byteLength))));
  writeFileSync(`${dir}/graph.json`, JSON.stringify(graph));
  writeFileSync(`${dir}/cnn.onnx`, buildOnnx(graph, weights));
  const input = graph.inputs[0];
  const ref = Object.values(model.predict({ [input.name]: new Float32Array(input.shape.reduce((a, b) => a * b, 1)).fill(0.5) }))[0];
  const systems = {
    kiln: ["bench/startup/kiln.js", `${dir}/cnn-infer.wasm`, `${dir}/cnn.safetensors`],
    "tfjs-wasm": ["bench/startup/tfjs.js", "wasm", `${dir}/graph.json`, `${dir}/weights.bin`, `${dir}/weights.json`],
    "tfjs-cpu": ["bench/startup/tfjs.js", "cpu", `${dir}/graph.json`, `${dir}/weights.bin`, `${dir}/weights.json`],
    "ort-web": ["bench/startup/ort.js", `${dir}/cnn.onnx`, input.name, input.shape.join(",")],
  };
  const samples = Object.fromEntries(Object.keys(systems).map((k) => [k, []]));
  const errors = {};
  for (let r = 0; r < rounds; r++) {
    for (const [name, args] of Object.entries(systems)) {
      if (errors[name]) continue;
      try {
        const { line, ms } = await firstLine([ROOT + args[0], ...args.slice(1)]);
        const { y, cpuMs } = JSON.parse(line);
        const d = maxAbsDiff(ref, Float32Array.from(y));
        if (!(d <= 1e-3)) throw new Error(`first prediction differs from kiln's by ${d}`);
        samples[name].push({ ms, cpuMs });
      } catch (e) {
        errors[name] = e.message;
      }
    }
  }
  const summary = (name, xs) => {
    const [wallMs, cpuMs] = [median(xs.map((x) => x.ms)), median(xs.map((x) => x.cpuMs))];
    return { name, wallMs, cpuMs, rounds: xs.length, figure: { wallMs, cpuMs } };
  };
  const systemsOut = Object.keys(systems).map((name) => errors[name]
    ? { name, error: errors[name] }
    : summary(name, samples[name]));
  return { id: "startup", title: "process start → first prediction, seed CNN (spawn node → printed result)", unit: "ms", systems: systemsOut };
}
