/**
 * Builds what the web demo serves, into examples/web-mnist/build/ (or --out <dir>): mnist.bin, the
 * `mnist` package's 10,000 digits as one static binary file (layout below); mnist-cnn.wasm, the
 * seed CNN compiled by kiln (from dist/, so run `npm run build` first); and mnist-cnn.threads.wasm,
 * the same CNN built for up to THREADS threads (it carries the single-threaded build as a fallback).
 * Nothing is fetched. Usage: node examples/web-mnist/prepare.mjs [--out dir] [-O 0-3]
 */
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { mnistPart } from "../shared/mnist.mjs";

const here = fileURLToPath(new URL(".", import.meta.url));
export const DEFAULT_OUT = join(here, "build");
const GRAPH = join(here, "../mnist-cnn/graph.json");
/** Largest batch the module runs at once: training batches and the page's predictions fit in it. */
export const MAX_BATCH = 32;
/** Threads the training worker asks for in a cross-origin-isolated page (the demo's build allows this many). */
export const THREADS = 2;

/**
 * mnist.bin: a 16-byte header "KMN1", u32 train count, u32 test count, u32 pixels per image (784),
 * all little-endian; then every image as bytes (pixel·255, train images first), then every label as
 * a byte. Bytes instead of float32 keep the file at 7.9 MB instead of 31 MB.
 */
export function mnistBinary() {
  const parts = [mnistPart("train"), mnistPart("test")];
  const total = parts[0].count + parts[1].count;
  const bytes = new Uint8Array(16 + total * 785);
  const head = new DataView(bytes.buffer);
  bytes.set([75, 77, 78, 49]); // "KMN1"
  head.setUint32(4, parts[0].count, true);
  head.setUint32(8, parts[1].count, true);
  head.setUint32(12, 784, true);
  let at = 16, labelAt = 16 + total * 784;
  for (const p of parts) {
    for (let i = 0; i < p.image.length; i++) bytes[at++] = Math.round(p.image[i] * 255);
    bytes.set(p.label, labelAt);
    labelAt += p.count;
  }
  return bytes;
}

/** Compiles the seed CNN with the built compiler (threads > 0: a threaded build); returns the module's bytes. */
export async function compileCnn(optimizeLevel = 3, threads = 0) {
  const { compile } = await import("../../dist/compiler/index.js").catch(() => {
    throw new Error("dist/compiler/index.js is missing: run `npm run build` first");
  });
  const { wasm } = await compile(readFileSync(GRAPH, "utf8"), { maxBatch: MAX_BATCH, optimizeLevel, ...(threads ? { threads } : {}) });
  return wasm;
}

/** The files prepare() writes into `out`. */
export function buildFiles(out = DEFAULT_OUT) {
  return { data: join(out, "mnist.bin"), wasm: join(out, "mnist-cnn.wasm"), threadsWasm: join(out, "mnist-cnn.threads.wasm") };
}

/** Writes mnist.bin, mnist-cnn.wasm and mnist-cnn.threads.wasm into `out`; returns their paths. */
export async function prepare({ out = DEFAULT_OUT, optimizeLevel = 3 } = {}) {
  mkdirSync(out, { recursive: true });
  const files = buildFiles(out);
  writeFileSync(files.data, mnistBinary());
  writeFileSync(files.wasm, await compileCnn(optimizeLevel));
  writeFileSync(files.threadsWasm, await compileCnn(optimizeLevel, THREADS));
  return files;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const args = process.argv.slice(2);
  const flag = (name) => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
  const level = Number(flag("-O") ?? 3);
  if (![0, 1, 2, 3].includes(level)) {
    console.error(`-O expects 0, 1, 2 or 3, got ${flag("-O")}`);
    process.exit(2);
  }
  const files = await prepare({ out: flag("--out") ?? DEFAULT_OUT, optimizeLevel: level });
  console.log(`wrote ${files.data}, ${files.wasm} and ${files.threadsWasm}`);
}
