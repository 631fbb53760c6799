/**
 * Child-process measurements: the seed CNN's cold compile (fresh process, nothing cached), and
 * process start → first prediction per system (spawn `node` on bench/startup/<system>.js, time
 * from spawn to the printed result, which must match kiln's prediction within 1e-3; the CPU
 * figure is the child's own process.cpuUsage() when it prints).
 */
import { spawn } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { ROOT } from "./graphs.js";
import { buildOnnx } from "./ort.js";
import { maxAbsDiff, median } from "./measure.js";

/** Runs node on a script; resolves with the first stdout line and the ms from spawn to it. */
function firstLine(args, env = process.env) {
  return new Promise((resolve, reject) => {
    const t0 = performance.now();
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], env });
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

/** Runs node on a script to its end (it appends to its trace file at exit); rejects unless it exits with 0. */
function runToExit(args, env) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "ignore", "pipe"], env });
    let err = "";
    child.stderr.on("data", (d) => { err += d; });
    child.on("exit", (code) => (code === 0 ? resolve() : reject(new Error(`${args.find((a) => a.includes("bench/startup/") && !a.includes("trace-imports"))} exited with ${code}: ${err.trim().split("\n").pop()}`))));
  });
}

/** Compiles the seed CNN (training, then inference-only) in a fresh process; timings and the two modules. */
export async function coldCompile(graphPath, dir, optimizeLevel) {
  const { line, ms } = await firstLine([ROOT + "bench/startup/compile-cold.js", graphPath, dir, String(optimizeLevel)]);
  const t = JSON.parse(line);
  return { ...t, spawnToDoneMs: ms, trainWasm: readFileSync(`${dir}/cnn-train.wasm`), inferWasm: readFileSync(`${dir}/cnn-infer.wasm`) };
}

/**
 * What each start-up child may load: kiln's runtime has no dependencies; ORT-web needs
 * onnxruntime-web (and its own dependencies) but not onnx-proto, which only writes the model;
 * each TF.js child tfjs-core, tfjs-layers and its own backend (the wasm backend uses shared code
 * from tfjs-backend-cpu's package, not its backend), never the umbrella package, the other
 * backend, webgl, converter or data.
 */
const TFJS_EXTRAS = ["@tensorflow/tfjs", "@tensorflow/tfjs-backend-webgl", "@tensorflow/tfjs-converter", "@tensorflow/tfjs-data", "onnxruntime-web", "onnx-proto"];
const FORBIDDEN = {
  kiln: { anyPackage: true },
  "ort-web": { packages: ["onnx-proto", "@tensorflow/tfjs-core"] },
  "tfjs-wasm": { packages: TFJS_EXTRAS, files: [/tfjs-backend-cpu\/dist\/tf-backend-cpu\.node\.js$/] },
  "tfjs-cpu": { packages: [...TFJS_EXTRAS, "@tensorflow/tfjs-backend-wasm"] },
};

/** The npm packages a list of loaded files and URLs comes from (node_modules/<name> or <@scope/name>). */
export function packagesOf(paths) {
  const names = new Set();
  for (const p of paths) {
    const m = /node_modules\/((?:@[^/]+\/)?[^/]+)\/(?!.*node_modules\/)/.exec(p);
    if (m) names.add(m[1]);
  }
  return [...names].sort();
}

/**
 * One untimed extra run of a start-up child with trace-imports.mjs: the packages it loaded.
 * Throws when it loaded one its system must not need (FORBIDDEN).
 */
export async function importsOf(name, args, dir) {
  const file = `${dir}/imports-${name}.txt`;
  rmSync(file, { force: true });
  await runToExit(["--import", ROOT + "bench/startup/trace-imports.mjs", ROOT + args[0], ...args.slice(1)], { ...process.env, KILN_BENCH_TRACE: file });
  const loaded = readFileSync(file, "utf8").split("\n").filter(Boolean);
  const packages = packagesOf(loaded);
  const rule = FORBIDDEN[name];
  const bad = rule.anyPackage ? packages : packages.filter((p) => rule.packages.includes(p));
  const badFiles = (rule.files ?? []).flatMap((re) => loaded.filter((f) => re.test(f)));
  if (bad.length || badFiles.length) throw new Error(`its start-up loaded ${[...bad, ...badFiles].join(", ")}, which ${name} does not need`);
  return packages;
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
  const errors = {}, imports = {};
  // First what each child loads (traced, untimed), then the timed rounds.
  for (const [name, args] of Object.entries(systems)) {
    try {
      imports[name] = await importsOf(name, args, dir);
    } catch (e) {
      errors[name] = e.message;
    }
  }
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
    : { ...summary(name, samples[name]), imports: imports[name], note: `loads ${imports[name].length ? imports[name].join(", ") : "no npm package"}` });
  return { id: "startup", title: "process start → first prediction, seed CNN (spawn node → printed result)", unit: "ms", systems: systemsOut };
}
