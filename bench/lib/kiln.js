/**
 * kiln as a benchmark system: compile a graph (dist/compiler) and load it (dist/runtime), with
 * compile time and module size recorded. Build dist first (`npm run bench` does).
 */
import { gzipSync } from "node:zlib";
import { ROOT } from "./graphs.js";

const dist = (p) => import(new URL(`dist/${p}`, "file://" + ROOT).href);
const { compile } = await dist("compiler/index.js");
const runtime = await dist("runtime/index.js");
export const { compileAssemblyScript } = await dist("compiler/assemble/asc.js");

/** What each model was loaded from (bytes and options), for anotherInstance. */
const loadedFrom = new WeakMap();

/** The runtime's loadModel, remembering the source and options so the bench can load the module again. */
export async function loadModel(source, options) {
  const model = await runtime.loadModel(source, options);
  loadedFrom.set(model, { source, options });
  return model;
}

/**
 * Another instance of `model` (issue 19, bench method): its module loaded again from the same
 * bytes with the same options — its own wasm memory (and, threaded, its own workers) — holding
 * `model`'s weights, and its optimizer state unless `optimizer: false`. The caller disposes it.
 */
export async function anotherInstance(model, { optimizer = true } = {}) {
  const from = loadedFrom.get(model);
  if (!from) throw new Error("anotherInstance: the model was not loaded through bench/lib/kiln.js's loadModel");
  const copy = await loadModel(from.source, from.options);
  copy.loadWeights(model.saveWeights({ optimizer }));
  return copy;
}

/** Compiles a graph; returns the module bytes, wall-clock compile ms, raw/gzip sizes, the generated AssemblyScript's size and kernel count. */
export async function compileGraph(graph, options) {
  const t = performance.now();
  const { wasm, source, stats } = await compile(JSON.stringify(graph), options);
  return { wasm, compileMs: performance.now() - t, ...sizes(wasm), sourceBytes: Buffer.byteLength(source), kernels: stats.kernels };
}

/**
 * Compile time, module size and parameter count (every weight, trainable or not: Keras's "Total
 * params") of each graph file; a graph that fails to compile gets its first error line instead.
 */
export async function compileRows(entries, options, readGraph, log = () => {}) {
  const rows = [], wasms = {};
  for (const e of entries) {
    log(`compile ${e.path}…`);
    try {
      const r = await compileGraph(readGraph(e.path), options);
      const model = await loadModel(r.wasm);
      const params = model.weights.reduce((sum, w) => sum + w.shape.reduce((a, b) => a * b, 1), 0);
      wasms[e.name] = r.wasm;
      rows.push({ name: e.path, compileMs: r.compileMs, bytes: r.bytes, gzipBytes: r.gzipBytes, params, sourceBytes: r.sourceBytes, kernels: r.kernels });
    } catch (err) {
      rows.push({ name: e.path, error: err.message.split("\n")[0] });
    }
  }
  return { rows, wasms };
}

export function sizes(bytes) {
  return { bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
}
