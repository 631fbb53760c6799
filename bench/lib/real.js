/**
 * Issue 19's real-size models for the bench (`node bench/run.js --only real-models`, or inside
 * `npm run bench`): each model is built once in TF.js layers with seeded weights
 * (lib/real-models.js), saved to memory and imported by kiln's `importModel`; kiln compiles the
 * imported graph (plain, relaxed-SIMD and, where a two-thread target exists, threaded builds) and
 * loads the imported weights. The TF.js peers rebuild the same model on their backend from the
 * same seed (same weights by construction: the workloads check the outputs before timing), and
 * ORT-web gets the ONNX file written from kiln's graph and weights (lib/ort.js buildOnnxGraph).
 * Also measured here: the compile table rows of these models (compile time, module size without
 * weights, AssemblyScript source size, kernels), a 300-layer model compiled cold in a fresh process,
 * and each model's wasm memory and bytes → first prediction (kiln, TF.js wasm, ORT-web).
 */
import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { ROOT } from "./graphs.js";
import { median } from "./measure.js";
import { compileGraph, loadModel } from "./kiln.js";
import { tf, use } from "./tfjs.js";
import { buildOnnxGraph, session, run as ortRun } from "./ort.js";
import { mobileNetV2, resNet50, inceptionV3, resNet20, randomizeWeights, tfjsFiles } from "./real-models.js";

const { importModel } = await import(new URL("dist/compiler/index.js", "file://" + ROOT).href);

/**
 * The models: `full` sizes for the real run, `quick` (BENCH_QUICK=1) reduced resolutions with the
 * same layers, so a smoke run stays short. `batch`: the module's maxBatch (its largest row).
 * `threads`: also a 2-thread build (the two-thread targets). `train`: the tfjs optimizer
 * and loss the model is compiled with (the importer turns them into kiln's training section).
 */
export const REAL_MODELS = {
  mobilenetv2: { title: "MobileNetV2 α=1.0", build: (size) => mobileNetV2({ size }), full: 224, quick: 96, seed: 1901, batch: 16, threads: true },
  resnet50: { title: "ResNet-50-style", build: (size) => resNet50({ size }), full: 299, quick: 64, seed: 1902, batch: 1 },
  inceptionv3: { title: "InceptionV3-style", build: (size) => inceptionV3({ size }), full: 299, quick: 75, seed: 1903, batch: 1 },
  // The same MobileNetV2 (same seed: the same weights) with every layer but the 1000-way top frozen.
  mobilenetv2Head: { title: "MobileNetV2 α=1.0, backbone frozen", build: (size) => mobileNetV2({ size, backboneTrainable: false }), full: 224, quick: 96, seed: 1901, batch: 32, train: true },
  resnet20: { title: "ResNet-20", build: () => resNet20(), full: 32, quick: 32, seed: 1904, batch: 64, threads: true, train: true },
};

/** The learning setup of the training rows (Keras's CIFAR-10 ResNet example and transfer-learning guides use Adam 1e-3). */
const compileForTraining = (m) => m.compile({ optimizer: tf.train.adam(1e-3, 0.9, 0.999, 1e-7), loss: "sparseCategoricalCrossentropy" });

/** The tfjs model of `key` on the current backend, with its seeded weights (compiled for training where the row trains). */
export function tfjsRealModel(key, quick) {
  const spec = REAL_MODELS[key];
  const m = randomizeWeights(spec.build(quick ? spec.quick : spec.full), spec.seed);
  if (spec.train) compileForTraining(m);
  return m;
}

/**
 * Builds, imports and compiles every model. Returns per key: the imported graph and weights,
 * the loaded kiln models ({ plain, relaxed, threaded }), compile rows, memory, and a `tfjs(backend)`
 * factory for the peers.
 */
export async function prepareRealModels({ opts, quick, log, relaxed = true, keys }) {
  const unknown = (keys ?? []).filter((k) => !Object.hasOwn(REAL_MODELS, k));
  if (unknown.length) throw new Error(`unknown real-size model ${unknown.join(", ")}: the models are ${Object.keys(REAL_MODELS).join(", ")}`);
  const out = {};
  // One untimed compile first, so that every row's compile time is a warm compiler's (in --only
  // real-models nothing else compiled before: the first row paid asc's start-up).
  await compileGraph(deepGraph(1), opts);
  for (const [key, spec] of Object.entries(REAL_MODELS).filter(([k]) => !keys || keys.includes(k))) {
    log(`${spec.title}: build in TF.js layers (cpu), import into kiln…`);
    await use("cpu");
    const m = tfjsRealModel(key, quick);
    const files = await tfjsFiles(m);
    m.dispose();
    const t0 = performance.now();
    const imported = await importModel(files);
    const importMs = performance.now() - t0;
    const graph = spec.train ? imported.graph : inferenceGraph(imported.graph);
    const base = { ...opts, maxBatch: spec.batch };
    log(`  compile (maxBatch ${spec.batch})…`);
    const plainBuilt = await compileGraph(graph, base);
    const compileRow = { name: `${spec.title}${spec.train ? " (training module)" : ""} ${imported.graph.inputs[0].shape.join("×")}`, layers: graph.layers.length, compileMs: plainBuilt.compileMs, bytes: plainBuilt.bytes, gzipBytes: plainBuilt.gzipBytes, sourceBytes: plainBuilt.sourceBytes, kernels: plainBuilt.kernels, importMs };
    const load = async (wasm, o = {}) => { const k = await loadModel(wasm, o); k.loadWeights(imported.weights); return k; };
    const models = { plain: await load(plainBuilt.wasm) };
    compileRow.params = models.plain.weights.reduce((s, w) => s + w.shape.reduce((a, b) => a * b, 1), 0);
    if (relaxed) {
      log("  compile the relaxed-SIMD build…");
      models.relaxed = await load((await compileGraph(graph, { ...base, relaxedSimd: true })).wasm);
    }
    if (spec.threads) {
      log("  compile the 2-thread build…");
      models.threaded = await load((await compileGraph(graph, { ...base, threads: 2 })).wasm, { threads: 2 });
    }
    out[key] = { spec, graph, weights: imported.weights, files, models, compileRow, wasm: plainBuilt.wasm, tfjs: async (backend) => { await use(backend); return tfjsRealModel(key, quick); } };
  }
  return out;
}

/** The graph without its training section (the inference rows' modules). */
function inferenceGraph(g) {
  const { training: _t, targets: _g, ...rest } = g;
  return rest;
}

/** Disposes every loaded kiln model (threaded ones keep worker threads alive). */
export function disposeRealModels(real) {
  for (const r of Object.values(real)) for (const m of Object.values(r.models)) m.dispose();
}

/**
 * Item 5: per inference model, kiln's wasm memory (the module's declared memory and its weights
 * and activation arena, at the module's maxBatch) and the time from bytes in memory to the first
 * prediction (batch 1; median of `rounds`), next to TF.js wasm (`tf.loadLayersModel` from the
 * same artifacts) and ORT-web (`InferenceSession.create` from the ONNX bytes). In this process,
 * after the modules were compiled: V8's wasm compile is the same work a fresh page does (no
 * code cache is kept between WebAssembly.compile calls of different byte arrays).
 */
export async function memoryAndStartup(real, { rounds = 3, log }) {
  const rows = [];
  for (const [key, r] of Object.entries(real)) {
    if (r.spec.train) continue;
    log(`${r.spec.title}: memory and bytes → first prediction…`);
    const k = r.models.plain, input = r.graph.inputs[0];
    const x = new Float32Array(input.shape.reduce((a, b) => a * b, 1)).fill(0.5);
    const kilnMs = await timed(rounds, async () => { const m = await loadModel(r.wasm, { weights: r.weights }); m.predict({ [input.name]: x }); m.dispose(); });
    const artifacts = { modelTopology: JSON.parse(r.files["model.json"]).modelTopology, weightSpecs: JSON.parse(r.files["model.json"]).weightsManifest[0].weights, weightData: r.files["weights.bin"].slice().buffer };
    await use("wasm");
    const tfjsMs = await timed(rounds, async () => {
      const m = await tf.loadLayersModel(tf.io.fromMemory(artifacts));
      const y = m.predict(tf.tensor(x, [1, ...input.shape]));
      y.dataSync();
      tf.dispose(y);
      m.dispose();
    });
    const onnx = buildOnnxGraph(r.graph, k.getWeights());
    const ortMs = await timed(rounds, async () => { const s = await session(onnx); await ortRun(s, input.name, x, [1, ...input.shape]); await s.release(); });
    const mem = k.manifest.memory;
    rows.push({ key, title: r.spec.title, maxBatch: r.spec.batch, memoryBytes: mem.pages * 65536, weightsBytes: mem.weightsBytes, arenaBytes: mem.arenaBytes, moduleBytes: r.wasm.length, weightFileBytes: r.weights.length, onnxBytes: onnx.length, firstPredictionMs: { kiln: kilnMs, "tfjs-wasm": tfjsMs, "ort-web": ortMs } });
  }
  return rows;
}

async function timed(rounds, f) {
  const t = [];
  for (let i = 0; i < rounds; i++) {
    const t0 = performance.now();
    await f();
    t.push(performance.now() - t0);
  }
  return median(t);
}

/**
 * A 300-layer graph (100 blocks of 3×3 conv 32 → batch normalization → relu on 32×32×32 after a
 * 3×3 stem, then global average pool and a 10-way dense: 303 layers), compiled with default options
 * (`compile(graph)`: maxBatch 64) in a fresh node process (bench/startup/compile-cold-one.js):
 * compile time cold, module size without weights, AssemblyScript source size.
 */
export function deepGraph(blocks = 100) {
  const layers = [{ name: "stem", op: "conv2d", filters: 32, kernel_size: 3, padding: "same" }];
  for (let i = 0; i < blocks; i++) {
    layers.push({ name: `c${i}`, op: "conv2d", filters: 32, kernel_size: 3, padding: "same", use_bias: false });
    layers.push({ name: `bn${i}`, op: "batch_normalization" });
    layers.push({ name: `r${i}`, op: "activation", activation: "relu" });
  }
  layers.push({ name: "gap", op: "global_average_pooling2d" }, { name: "out", op: "dense", units: 10, activation: "softmax" });
  return { format: "kiln.graph/v2", name: "deep300", inputs: [{ name: "x", shape: [32, 32, 3] }], layers };
}

export function coldCompileDeep(log) {
  const dir = mkdtempSync(tmpdir() + "/kiln-deep-");
  try {
    const graph = deepGraph();
    writeFileSync(`${dir}/graph.json`, JSON.stringify(graph));
    log(`cold compile of a ${graph.layers.length}-layer graph (fresh process, default options)…`);
    const name = `${graph.layers.length}-layer CNN (100 × conv 3×3 32 → BN → relu, 32×32), cold, default options`;
    try {
      const out = execFileSync(process.execPath, [ROOT + "bench/startup/compile-cold-one.js", `${dir}/graph.json`], { cwd: ROOT, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
      return { name, layers: graph.layers.length, ...JSON.parse(out.trim().split("\n").pop()) };
    } catch (e) {
      return { name, layers: graph.layers.length, error: (e.stderr || e.message).toString().trim().split("\n").pop() };
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}
