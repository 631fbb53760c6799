// Cold compile of one graph with default options (`compile(graph)`: maxBatch 64, asc -O0) in a
// fresh process (nothing cached, asc not yet imported). Prints JSON: compiler import ms, compile
// ms, module bytes (no weights) and gzip bytes, AssemblyScript source bytes, kernels.
// Usage: node bench/startup/compile-cold-one.js graph.json
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";

const t0 = performance.now();
const { compile } = await import("../../dist/compiler/index.js");
const importMs = performance.now() - t0;
const text = readFileSync(process.argv[2], "utf8");
const t1 = performance.now();
const { wasm, source, stats } = await compile(text);
const compileMs = performance.now() - t1;
console.log(JSON.stringify({ importMs, compileMs, bytes: wasm.length, gzipBytes: gzipSync(wasm, { level: 9 }).length, sourceBytes: Buffer.byteLength(source), kernels: stats.kernels }));
