/**
 * Issue 19 item 5 in the browser: navigation start → first prediction in Chromium (the browser the
 * tests drive: test/browser/find-chromium.mjs, through playwright-core), each sample a cold page
 * load (a new browser context, so an empty HTTP cache and no wasm code cache; the cache also
 * disabled over CDP; the server sends no-store), round-robin over the systems after one untimed
 * warm-up round, medians.
 *
 * Systems, each loading the same model from a local HTTP server (node:http, this file):
 * - kiln (compileStreaming): `loadModel(new URL(".../model.wasm"))` of kiln/runtime/predict (as an
 *   app ships it: bundled and minified by esbuild, on-demand parts as their own chunks); the
 *   server sends application/wasm, so the runtime compiles while the bytes arrive
 *   (WebAssembly.compileStreaming, runtime/load.ts). The module carries its weights (`--weights`).
 * - kiln (compile(arrayBuffer)): the page fetches the same file whole and passes the ArrayBuffer,
 *   so the runtime calls WebAssembly.compile on it: what a page does without streaming.
 * - tfjs-wasm: tf-core, tf-layers and the wasm backend's UMD bundles (SIMD, no threads, as in the
 *   Node bench), `tf.loadLayersModel(".../model.json")` (topology + one weights shard), predict.
 * - ort-web: onnxruntime-web's wasm build (ort.wasm.min.mjs, one thread), `InferenceSession.create(
 *   ".../model.onnx")`, run.
 * Every page's first output must match kiln's in Node within 1e-3, or the system is shown with an error.
 * Each page also reports which WebAssembly compile entry points it called and the bytes of every
 * WebAssembly.Memory it made or instantiated (an init script wraps the constructors; it only
 * counts), read right after the first prediction.
 */
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { loadavg } from "node:os";
import { dirname, extname, join } from "node:path";
import { build } from "esbuild";
import { chromium as playwright } from "playwright-core";
import { CHROMIUM_ARGS, findChromium, INSTALL_HINT } from "../../test/browser/find-chromium.mjs";
import { ROOT, inferenceOnly, readGraph } from "./graphs.js";
import { compileGraph, loadModel } from "./kiln.js";
import { maxAbsDiff, median } from "./measure.js";
import { buildOnnx, buildOnnxGraph } from "./ort.js";
import { tfjsFiles } from "./real-models.js";
import { REAL_MODELS, tfjsRealModel } from "./real.js";
import { buildSequential, copyWeights, use } from "./tfjs.js";

const require = createRequire(import.meta.url);
const { importModel } = await import(new URL("dist/compiler/index.js", "file://" + ROOT).href);

export const BROWSER_SYSTEMS = ["kiln (compileStreaming)", "kiln (compile(arrayBuffer))", "tfjs-wasm", "ort-web"];
export const BROWSER_MODELS = ["cnn", "mobilenetv2"];

/**
 * The served models: per key a kiln module with its weights embedded (maxBatch 1), the TF.js
 * layers files, the ONNX file, and kiln's first output in Node (the reference every page must match).
 */
export async function prepareBrowserModels({ keys = BROWSER_MODELS, quick = false, log }) {
  const out = {};
  for (const key of keys) {
    if (key === "cnn") out.cnn = await seedCnn(log);
    else if (key === "mobilenetv2") out.mobilenetv2 = await mobileNetV2(quick, log);
    else throw new Error(`browser start-up: unknown model ${key}; the models are ${BROWSER_MODELS.join(", ")}`);
  }
  return out;
}

/** The seed CNN's inference module with kiln's seeded initial weights; TF.js and ONNX from the same weights. */
async function seedCnn(log) {
  log("browser start-up: seed CNN (compile with its weights embedded)…");
  const graph = inferenceOnly(readGraph("examples/mnist-cnn/graph.json"));
  const seeded = await loadModel((await compileGraph(graph, { maxBatch: 1 })).wasm);
  const weights = seeded.getWeights();
  const safetensors = seeded.saveWeights({ optimizer: false });
  seeded.dispose();
  await use("cpu");
  const tfModel = buildSequential(graph);
  copyWeights(tfModel, graph, weights);
  const files = await tfjsFiles(tfModel);
  tfModel.dispose();
  return finish("seed CNN 28×28×1", graph, safetensors, files, buildOnnx(graph, weights));
}

/** MobileNetV2 α=1.0 (224×224; quick: 96×96) as the real-size rows build and import it (lib/real.js). */
async function mobileNetV2(quick, log) {
  const spec = REAL_MODELS.mobilenetv2;
  log(`browser start-up: ${spec.title} (build in TF.js, import, compile with its weights embedded)…`);
  await use("cpu");
  const m = tfjsRealModel("mobilenetv2", quick);
  const files = await tfjsFiles(m);
  m.dispose();
  const imported = await importModel(files);
  const { training: _t, targets: _g, ...graph } = imported.graph;
  const k = await loadModel((await compileGraph(graph, { maxBatch: 1 })).wasm);
  k.loadWeights(imported.weights);
  const onnx = buildOnnxGraph(graph, k.getWeights());
  k.dispose();
  const size = quick ? spec.quick : spec.full;
  return finish(`${spec.title} ${size}×${size}×3`, graph, imported.weights, files, onnx);
}

/** Compiles `graph` with `weights` embedded and computes the reference output in Node. */
async function finish(title, graph, weights, files, onnx) {
  const built = await compileGraph(graph, { maxBatch: 1, weights });
  const model = await loadModel(built.wasm);
  const input = model.inputs[0];
  const ref = Object.values(model.predict({ [input.name]: new Float32Array(input.shape.reduce((a, b) => a * b, 1)).fill(0.5) }))[0].slice();
  const declaredMemory = model.manifest.memory.pages * 65536;
  model.dispose();
  return { title, input: { name: input.name, shape: input.shape }, ref, declaredMemory, files: { "model.wasm": built.wasm, "model.json": Buffer.from(files["model.json"]), "weights.bin": files["weights.bin"], "model.onnx": onnx } };
}

const TYPES = { ".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".mjs": "text/javascript; charset=utf-8", ".wasm": "application/wasm", ".json": "application/json", ".bin": "application/octet-stream", ".onnx": "application/octet-stream" };

/** The folder of an installed package (some do not export their package.json, so: up from its entry point to it). */
function packageDir(pkg) {
  let dir = dirname(require.resolve(pkg));
  while (!existsSync(join(dir, "package.json")) || JSON.parse(readFileSync(join(dir, "package.json"), "utf8")).name !== pkg) {
    if (dirname(dir) === dir) throw new Error(`browser start-up: no package.json of ${pkg} above ${require.resolve(pkg)}`);
    dir = dirname(dir);
  }
  return dir;
}

/** Every static file the pages load: kiln's built runtime, the peers' browser builds, the models. */
function staticFiles(models) {
  const files = new Map();
  const tfjsFile = (pkg, file) => readFileSync(join(packageDir(pkg), "dist", file));
  for (const f of ["tf-core.min.js"]) files.set(`/tfjs/${f}`, tfjsFile("@tensorflow/tfjs-core", f));
  files.set("/tfjs/tf-layers.min.js", tfjsFile("@tensorflow/tfjs-layers", "tf-layers.min.js"));
  for (const f of ["tf-backend-wasm.min.js", "tfjs-backend-wasm-simd.wasm", "tfjs-backend-wasm.wasm"]) files.set(`/tfjs/${f}`, tfjsFile("@tensorflow/tfjs-backend-wasm", f));
  const ortDist = join(packageDir("onnxruntime-web"), "dist") + "/";
  for (const f of ["ort.wasm.min.mjs", "ort-wasm-simd-threaded.mjs", "ort-wasm-simd-threaded.wasm"]) files.set(`/ort/${f}`, readFileSync(ortDist + f));
  for (const [key, m] of Object.entries(models)) for (const [name, bytes] of Object.entries(m.files)) files.set(`/m/${key}/${name}`, bytes);
  for (const [name, html] of Object.entries(PAGES)) files.set(`/${name}.html`, Buffer.from(html));
  return files;
}

/**
 * kiln/runtime/predict as an app ships it (as scripts/runtime-size.mjs measures it): dist/runtime
 * bundled by esbuild for the browser, minified, the parts loaded on demand as their own chunks.
 * Served under /kiln/ (the entry: /kiln/predict.js).
 */
async function runtimeBundle() {
  const result = await build({
    entryPoints: { predict: join(ROOT, "dist/runtime/predict.js") }, bundle: true, splitting: true, platform: "browser", format: "esm", minify: true,
    target: "es2022", external: ["node:*"], write: false, outdir: "out", logLevel: "warning",
  });
  return new Map(result.outputFiles.map((f) => [`/kiln/${f.path.split("/out/")[1]}`, Buffer.from(f.contents)]));
}

/** The local server: the static files and kiln's bundled runtime. */
export async function startBenchServer(models) {
  const files = new Map([...staticFiles(models), ...(await runtimeBundle())]);
  const server = createServer((req, res) => {
    const path = new URL(req.url ?? "/", "http://x").pathname;
    const body = files.get(path);
    if (!body) { res.writeHead(404, { "content-type": "text/plain" }).end("not found"); return; }
    res.writeHead(200, { "content-type": TYPES[extname(path)] ?? "application/octet-stream", "cache-control": "no-store" }).end(body);
  });
  await new Promise((resolve, reject) => server.once("error", reject).listen(0, "127.0.0.1", resolve));
  return { url: `http://127.0.0.1:${server.address().port}/`, close: () => new Promise((resolve) => server.close(() => resolve())) };
}

/**
 * Runs in every page before its scripts: counts the WebAssembly compile/instantiate calls and keeps
 * every Memory made with `new WebAssembly.Memory` or exported by an instance, to sum their bytes.
 */
export const INSTRUMENT = `(() => {
  const W = WebAssembly, memories = new Set(), calls = { compileStreaming: 0, compile: 0, instantiateStreaming: 0, instantiate: 0 };
  const OrigMemory = W.Memory, OrigInstance = W.Instance;
  const keep = (instance) => { for (const v of Object.values(instance.exports)) if (v instanceof OrigMemory) memories.add(v); };
  W.Memory = new Proxy(OrigMemory, { construct(t, a, nt) { const m = Reflect.construct(t, a, nt); memories.add(m); return m; } });
  W.Instance = new Proxy(OrigInstance, { construct(t, a, nt) { const i = Reflect.construct(t, a, nt); keep(i); return i; } });
  for (const name of ["instantiate", "instantiateStreaming"]) {
    const f = W[name];
    W[name] = function (...a) { calls[name]++; return f.apply(this, a).then((r) => { keep(r instanceof OrigInstance ? r : r.instance); return r; }); };
  }
  for (const name of ["compile", "compileStreaming"]) { const f = W[name]; W[name] = function (...a) { calls[name]++; return f.apply(this, a); }; }
  globalThis.__wasmWatch = { calls, memoryBytes: () => [...memories].reduce((s, m) => s + m.buffer.byteLength, 0), memories: () => memories.size };
})();`;

/** What every page does at the end: its timings, output, wasm calls and memory, and the bytes it downloaded. */
const REPORT = `
let ready; // when the model was loaded, before its first prediction
const loaded = () => { ready = performance.now(); };
function report(scriptStart, y) {
  const firstPrediction = performance.now();
  const w = globalThis.__wasmWatch;
  const downloaded = performance.getEntriesByType("navigation").concat(performance.getEntriesByType("resource")).reduce((s, e) => s + e.encodedBodySize, 0);
  const htmlReceived = performance.getEntriesByType("navigation")[0].responseEnd;
  window.benchResult = { htmlReceived, scriptStart, ready, firstPrediction, y: Array.from(y), calls: { ...w.calls }, memoryBytes: w.memoryBytes(), memories: w.memories(), downloaded };
}
const fail = (e) => { window.benchError = String(e && e.stack || e); };
const q = new URLSearchParams(location.search), model = q.get("model"), shape = q.get("shape").split(",").map(Number);
const input = new Float32Array(shape.reduce((a, b) => a * b, 1)).fill(0.5);`;

const PAGES = {
  // The baseline: a page that only reports (what the browser spends on any new page).
  blank: `<!doctype html><meta charset="utf-8"><title>blank</title><script type="module">
${REPORT}
const scriptStart = performance.now();
loaded();
report(scriptStart, []);
</script>`,
  kiln: `<!doctype html><meta charset="utf-8"><title>kiln</title><script type="module">
import { loadModel } from "/kiln/predict.js";
${REPORT}
try {
  const scriptStart = performance.now();
  const url = new URL("/m/" + model + "/model.wasm", location.href);
  const source = q.get("mode") === "stream" ? url : await (await fetch(url)).arrayBuffer();
  const m = await loadModel(source);
  loaded();
  report(scriptStart, Object.values(m.predict({ [m.inputs[0].name]: input }))[0]);
} catch (e) { fail(e); }
</script>`,
  tfjs: `<!doctype html><meta charset="utf-8"><title>tfjs-wasm</title>
<script src="/tfjs/tf-core.min.js"></script><script src="/tfjs/tf-layers.min.js"></script><script src="/tfjs/tf-backend-wasm.min.js"></script>
<script type="module">
${REPORT}
try {
  const scriptStart = performance.now();
  tf.env().set("WASM_HAS_MULTITHREAD_SUPPORT", false);
  tf.env().set("WASM_HAS_SIMD_SUPPORT", true);
  tf.wasm.setWasmPaths(new URL("/tfjs/", location.href).href);
  await tf.setBackend("wasm");
  const m = await tf.loadLayersModel("/m/" + model + "/model.json");
  loaded();
  const y = m.predict(tf.tensor(input, [1, ...shape]));
  report(scriptStart, y.dataSync());
} catch (e) { fail(e); }
</script>`,
  ort: `<!doctype html><meta charset="utf-8"><title>ort-web</title><script type="module">
import * as ort from "/ort/ort.wasm.min.mjs";
${REPORT}
try {
  const scriptStart = performance.now();
  ort.env.wasm.numThreads = 1;
  ort.env.wasm.wasmPaths = new URL("/ort/", location.href).href;
  ort.env.logLevel = "error";
  const s = await ort.InferenceSession.create("/m/" + model + "/model.onnx", { executionProviders: ["wasm"], graphOptimizationLevel: "all" });
  loaded();
  const out = await s.run({ [q.get("input")]: new ort.Tensor("float32", input, [1, ...shape]) });
  report(scriptStart, out.y.data);
} catch (e) { fail(e); }
</script>`,
};

/** The page URL of one system for one model. */
function pageUrl(base, system, key, m) {
  const q = `model=${key}&shape=${m.input.shape.join(",")}&input=${encodeURIComponent(m.input.name)}`;
  if (system === "kiln (compileStreaming)") return `${base}kiln.html?${q}&mode=stream`;
  if (system === "kiln (compile(arrayBuffer))") return `${base}kiln.html?${q}&mode=buffer`;
  return `${base}${system === "tfjs-wasm" ? "tfjs" : "ort"}.html?${q}`;
}

/** Launches Chromium for the bench (a plain browser: each load gets its own context); fails, with what to install, when it cannot. */
export async function launchBenchBrowser() {
  const chromium = await findChromium();
  try {
    return { browser: await playwright.launch({ executablePath: chromium.path, headless: true, args: CHROMIUM_ARGS, timeout: 60_000 }), chromium };
  } catch (e) {
    throw new Error(`browser start-up bench: Chromium ${chromium.version} (${chromium.source}, ${chromium.path}) did not start: ${e.message}\n${INSTALL_HINT}`);
  }
}

/**
 * One cold page load: a new context with the instrumentation and the cache disabled; the page's
 * result. `mbps`: the download throughput to emulate (CDP), in megabits per second; none: as fast as 127.0.0.1 serves.
 */
export async function coldLoad(browser, url, { mbps, timeout = 180_000 } = {}) {
  const processes = await browser.newBrowserCDPSession();
  const context = await browser.newContext();
  try {
    await context.addInitScript(INSTRUMENT);
    const page = await context.newPage();
    const cdp = await context.newCDPSession(page);
    await cdp.send("Network.setCacheDisabled", { cacheDisabled: true });
    if (mbps) await cdp.send("Network.emulateNetworkConditions", { offline: false, latency: 0, downloadThroughput: (mbps * 1e6) / 8, uploadThroughput: (mbps * 1e6) / 8 });
    const before = await cpuTimes(processes);
    await page.goto(url);
    await page.waitForFunction(() => window.benchResult || window.benchError, null, { timeout });
    const after = await cpuTimes(processes);
    const { benchResult, benchError } = await page.evaluate(() => ({ benchResult: window.benchResult, benchError: window.benchError }));
    if (benchError) throw new Error(benchError.split("\n")[0]);
    let cpuMs = 0;
    for (const [id, t] of after) cpuMs += (t - (before.get(id) ?? 0)) * 1000;
    return { ...benchResult, cpuMs };
  } finally {
    await context.close();
    await processes.detach();
  }
}

/**
 * CPU seconds so far of every Chromium process (browser, network service, renderers: CDP
 * SystemInfo.getProcessInfo), by id. A load's CPU time is the sum of the changes over it: the
 * renderers of closed contexts are gone or idle, so it is this page's work — a figure that,
 * unlike wall time, does not grow while the page waits for a core on a loaded machine.
 */
async function cpuTimes(cdp) {
  const { processInfo } = await cdp.send("SystemInfo.getProcessInfo");
  return new Map(processInfo.map((p) => [p.id, p.cpuTime]));
}

/** Checks what a page did: its output against kiln's in Node, and the compile entry point kiln used. */
function check(system, m, r) {
  const d = maxAbsDiff(m.ref, Float32Array.from(r.y));
  if (!(d <= 1e-3)) throw new Error(`first prediction differs from kiln's in Node by ${d}`);
  if (system === "kiln (compileStreaming)" && r.calls.compileStreaming !== 1) throw new Error(`the runtime called compileStreaming ${r.calls.compileStreaming} times, compile ${r.calls.compile} times`);
  if (system === "kiln (compile(arrayBuffer))" && (r.calls.compileStreaming !== 0 || r.calls.compile !== 1)) throw new Error(`the runtime called compileStreaming ${r.calls.compileStreaming} times, compile ${r.calls.compile} times`);
  return d;
}

/**
 * The whole measurement: prepares the models, serves them, and per round loads every
 * (model, system) page once, cold (and a blank page, the baseline), in an order that rotates by one each round (`mbps`: over an emulated link of that many megabits per second). Throws when Chromium cannot start (never a skip); a system
 * whose page fails or disagrees with kiln is shown with its error.
 */
export async function browserStartup({ rounds = 5, quick = false, keys = BROWSER_MODELS, systems = BROWSER_SYSTEMS, mbps, log = () => {} } = {}) {
  const { browser, chromium } = await launchBenchBrowser(); // first: no browser fails before minutes of compiling
  let server;
  try {
    const models = await prepareBrowserModels({ keys, quick, log });
    server = await startBenchServer(models);
    const loadStart = loadavg();
    const samples = {}, errors = {}, checks = {}, blankSamples = [];
    // Round 0 is untimed: every page once, so no system pays the browser's first renderer or first read of its files.
    for (let r = -1; r < rounds; r++) {
      log(r < 0 ? "browser start-up: warm-up round (untimed)" : `browser start-up: round ${r + 1}/${rounds}`);
      // Each round starts one page later, so no system always follows the same one (a closing
      // context's renderer may still be exiting while the next page loads).
      const pages = Object.keys(models).flatMap((key) => systems.map((system) => [key, system]));
      const blank = await coldLoad(browser, `${server.url}blank.html?model=none&shape=1`, { mbps });
      if (r >= 0) blankSamples.push(blank);
      const first = Math.max(r, 0) % pages.length;
      for (const [key, system] of pages.slice(first).concat(pages.slice(0, first))) {
        const m = models[key], id = `${key}\u0000${system}`;
        if (errors[id]) continue;
        try {
          const result = await coldLoad(browser, pageUrl(server.url, system, key, m), { mbps });
          checks[id] = check(system, m, result);
          if (r >= 0) (samples[id] ??= []).push(result);
        } catch (e) {
          errors[id] = e.message.split("\n")[0];
          log(`  ${key} ${system}: ${errors[id]}`);
        }
      }
    }
    const rows = Object.entries(models).map(([key, m]) => ({
      key, title: m.title, moduleBytes: m.files["model.wasm"].length, declaredMemory: m.declaredMemory, onnxBytes: m.files["model.onnx"].length, tfjsWeightBytes: m.files["weights.bin"].length,
      systems: systems.map((name) => {
        const id = `${key}\u0000${name}`, xs = samples[id] ?? [];
        if (errors[id]) return { name, error: errors[id] };
        const pick = (f) => median(xs.map(f));
        return { name, rounds: xs.length, firstPredictionMs: pick((x) => x.firstPrediction), htmlToPredictionMs: pick((x) => x.firstPrediction - x.htmlReceived), scriptToPredictionMs: pick((x) => x.firstPrediction - x.scriptStart), predictMs: pick((x) => x.firstPrediction - x.ready), cpuMs: pick((x) => x.cpuMs), memoryBytes: pick((x) => x.memoryBytes), downloadedBytes: pick((x) => x.downloaded), calls: xs[0].calls, maxDiff: checks[id] };
      }),
    }));
    const blank = { firstPredictionMs: median(blankSamples.map((x) => x.firstPrediction)), cpuMs: median(blankSamples.map((x) => x.cpuMs)) };
    return { chromium: { version: chromium.version, source: chromium.source }, rounds, mbps, blank, loadavgStart: loadStart, loadavgEnd: loadavg(), rows };
  } finally {
    await server?.close();
    await browser.close();
  }
}
