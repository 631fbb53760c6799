/**
 * What an app ships, and how long kiln takes to build it: the runtime bundle (via
 * scripts/runtime-size.mjs), the peers' package files (raw and gzip -9), and compile time and
 * module size of every example graph.
 */
import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { gzipSync } from "node:zlib";
import { ROOT } from "./graphs.js";

const fileSize = (rel) => {
  const bytes = readFileSync(ROOT + rel);
  return { file: rel.replace(/^node_modules\//, ""), bytes: bytes.length, gzipBytes: gzipSync(bytes, { level: 9 }).length };
};
const total = (files) => ({ bytes: files.reduce((s, f) => s + f.bytes, 0), gzipBytes: files.reduce((s, f) => s + f.gzipBytes, 0), files });

/** kiln's runtime bundle, minified and gzipped, as scripts/runtime-size.mjs reports it. */
export function kilnRuntimeSize() {
  const out = execFileSync(process.execPath, [ROOT + "scripts/runtime-size.mjs"], { cwd: ROOT, encoding: "utf8" });
  const m = /(\d+) bytes minified, (\d+) bytes gzipped/.exec(out);
  if (!m) throw new Error(`unexpected runtime-size output: ${out.slice(0, 200)}`);
  return { file: "kiln/runtime (esbuild, minified)", bytes: Number(m[1]), gzipBytes: Number(m[2]) };
}

/** The files a browser app loads for each peer (minified bundles + the SIMD wasm binary). */
export function peerSizes() {
  return {
    "tfjs-wasm": total([
      "node_modules/@tensorflow/tfjs-core/dist/tf-core.min.js",
      "node_modules/@tensorflow/tfjs-layers/dist/tf-layers.min.js",
      "node_modules/@tensorflow/tfjs-backend-wasm/dist/tf-backend-wasm.min.js",
      "node_modules/@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm",
    ].map(fileSize)),
    "ort-web": total([
      "node_modules/onnxruntime-web/dist/ort.wasm.min.mjs",
      "node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.mjs",
      "node_modules/onnxruntime-web/dist/ort-wasm-simd-threaded.wasm",
    ].map(fileSize)),
  };
}
