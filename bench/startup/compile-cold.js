// Cold compile of the seed CNN in a fresh process (nothing cached, asc not yet imported): the
// training module, then the inference-only module; both written to outDir. Prints JSON timings.
// Usage: node bench/startup/compile-cold.js graph.json outDir optimizeLevel
import { readFileSync, writeFileSync } from "node:fs";

const [graphPath, outDir, level] = process.argv.slice(2);
const t0 = performance.now();
const { compile } = await import("../../dist/compiler/index.js");
const importMs = performance.now() - t0;
const graph = JSON.parse(readFileSync(graphPath, "utf8"));
const t1 = performance.now();
const train = await compile(JSON.stringify(graph), { maxBatch: 64, optimizeLevel: Number(level) });
const trainMs = performance.now() - t1;
const { training: _t, targets: _g, ...inferGraph } = graph;
const t2 = performance.now();
const infer = await compile(JSON.stringify(inferGraph), { maxBatch: 64, optimizeLevel: Number(level) });
const inferMs = performance.now() - t2;
writeFileSync(`${outDir}/cnn-train.wasm`, train.wasm);
writeFileSync(`${outDir}/cnn-infer.wasm`, infer.wasm);
console.log(JSON.stringify({ importMs, trainMs, inferMs, processMs: performance.now() }));
