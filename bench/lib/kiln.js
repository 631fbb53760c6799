/**
 * kiln as a benchmark system: compile a graph (dist/compiler) and load it (dist/runtime), with
 * compile time and module size recorded. Build dist first (`npm run bench` does).
 */
import { gzipSync } from "node:zlib";
import { ROOT } from "./graphs.js";

const dist = (p) => import(new URL(`dist/${p}`, "file://" + ROOT).href);
const { compile } = await dist("compiler/index.js");
const { loadModel } = await dist("runtime/index.js");
export const { compileAssemblyScript } = await dist("compiler/assemble/asc.js");
export { loadModel };

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
