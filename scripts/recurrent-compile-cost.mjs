/**
 * Compile time and generated-source size of a recurrent model against its sequence length T
 * (issue 22.1: recurrent layers were unrolled over T, so both grew with it). Compiles a training
 * graph — lstm(16 units) over [T, 8] → dense(1, sigmoid), binary crossentropy, adam — at each T
 * (default 100, 400, 2000) with the default compile options, each in its own process with a
 * timeout, and prints one line per T: wall time, source characters, wasm bytes, kernel calls.
 *
 * Usage: node scripts/recurrent-compile-cost.mjs [--dist DIR] [--steps 100,400,2000] [--timeout 300]
 *   --dist     a built kiln (`npx tsc -p tsconfig.build.json`): DIR/compiler/index.js (default ./dist),
 *              so the same script measures another checkout (e.g. main) for a before/after table.
 *   --timeout  seconds per compile; a compile still running then is stopped and reported as such.
 * A build whose step limit is lower than T is measured with the limit raised in that process
 * (COMPILE_LIMITS is a plain object), since "before" figures are the point; the report says so.
 */
import { spawn } from "node:child_process";
import { resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const args = process.argv.slice(2);
const opt = (name, dflt) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : dflt;
};
const dist = resolve(opt("dist", fileURLToPath(new URL("../dist", import.meta.url))));

function graph(steps) {
  return {
    format: "kiln.graph/v2", name: "rnn_cost", seed: 1,
    inputs: [{ name: "x", shape: [steps, 8] }], targets: [{ name: "y", shape: [1] }],
    layers: [{ name: "rnn", op: "lstm", units: 16 }, { name: "out", op: "dense", units: 1, activation: "sigmoid" }],
    training: { loss: { type: "binary_crossentropy", output: "out", target: "y" }, optimizer: { type: "adam" } },
  };
}

if (opt("child")) {
  // One measurement, in this process: prints a JSON line.
  const steps = Number(opt("child"));
  const { COMPILE_LIMITS } = await import(pathToFileURL(`${dist}/compiler/limits.js`).href);
  const raised = COMPILE_LIMITS.recurrentSteps < steps;
  if (raised) COMPILE_LIMITS.recurrentSteps = steps;
  const { compile } = await import(pathToFileURL(`${dist}/compiler/index.js`).href);
  const t0 = performance.now();
  const r = await compile(JSON.stringify(graph(steps)));
  const ms = performance.now() - t0;
  console.log(JSON.stringify({ ms, sourceChars: r.source.length, wasmBytes: r.wasm.length, calls: r.stats.calls, kernels: r.stats.kernels, raised }));
  process.exit(0);
}

const steps = opt("steps", "100,400,2000").split(",").map(Number);
const timeout = Number(opt("timeout", "300"));
console.log(`kiln at ${dist}: lstm(16) over [T, 8] -> dense(1), training graph, default compile options`);
for (const T of steps) {
  const child = spawn(process.execPath, [fileURLToPath(import.meta.url), "--dist", dist, "--child", String(T)], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "", err = "";
  child.stdout.on("data", (d) => (out += d));
  child.stderr.on("data", (d) => (err += d));
  const started = performance.now();
  const timer = setTimeout(() => child.kill("SIGKILL"), timeout * 1000);
  const code = await new Promise((done) => child.on("exit", (c) => done(c)));
  clearTimeout(timer);
  const line = out.trim().split("\n").at(-1);
  if (code === 0 && line) {
    const r = JSON.parse(line);
    console.log(`T=${String(T).padStart(5)}: ${(r.ms / 1000).toFixed(2).padStart(7)} s, source ${r.sourceChars.toLocaleString("en-US").padStart(11)} chars, wasm ${r.wasmBytes.toLocaleString("en-US").padStart(10)} bytes, ${r.calls} kernel calls, ${r.kernels} kernels${r.raised ? " (step limit raised for the measurement)" : ""}`);
  } else if (code === null) {
    console.log(`T=${String(T).padStart(5)}: still compiling after ${((performance.now() - started) / 1000).toFixed(0)} s: stopped`);
  } else {
    console.log(`T=${String(T).padStart(5)}: failed (exit ${code}): ${err.trim().split("\n").slice(0, 3).join(" | ")}`);
  }
}
