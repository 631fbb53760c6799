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

/** Compiles a graph; returns the module bytes, wall-clock compile ms and raw/gzip sizes. */
export async function compileGraph(graph, options) {
  const t = performance.now();
  const { wasm } = await compile(JSON.stringify(graph), options);
  return { wasm, compileMs: performance.now() - t, ...sizes(wasm) };
}

export function sizes(bytes) {
  return { bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
}
