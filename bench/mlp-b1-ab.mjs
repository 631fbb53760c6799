// MLP 784-512-512-10 inference at batch 1 (the bench's mlp-infer-b1 and mlp-infer-b1-digits rows),
// A/B between two builds of the compiler in one process, optionally with ONNX Runtime Web (one
// thread, the bench's session settings) beside them. Each build compiles the bench's MLP as
// bench/run.js does (maxBatch 256, optimizeLevel 0, plain SIMD unless --relaxed), with the same
// weights; the builds' outputs are checked bit-identical first (the few-row path must keep the
// blocked path's bits), ORT-web's within 1e-4. Blocks alternate, each round in another order;
// prints median wall and CPU (process.cpuUsage) µs per predict and the load average before and
// after, and the 10th percentile of the blocks' CPU times (the blocks least slowed by other
// processes' cache traffic). Not a test. Usage:
//   npx tsc -p tsconfig.build.json                                    # this tree → dist/
//   (cd <a checkout of the base> && npx tsc -p tsconfig.build.json --outDir /tmp/base-dist)
//   node bench/mlp-b1-ab.mjs /tmp/base-dist [more dist dirs…] [--ort] [--relaxed] [--rounds N] [--block ms]
import os from "node:os";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { mlpGraph } from "./lib/graphs.js";
import { uniformF32 } from "./lib/measure.js";
import { mnistImages } from "./lib/digits.js";

const args = process.argv.slice(2);
const opt = (name, d) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const ROUNDS = opt("--rounds", 9), BLOCK = opt("--block", 400);
const relaxed = args.includes("--relaxed");
const positional = args.filter((a, i) => !a.startsWith("--") && !(i && args[i - 1].startsWith("--")));
const builds = [["new", new URL("../dist/", import.meta.url).href]];
// Every positional argument is another build (the first is the base the others are checked against).
builds.unshift(...positional.map((dir, i) => [i ? dir.split("/").filter(Boolean).pop() : "base", pathToFileURL(resolve(dir)).href + "/"]));

const load = () => os.loadavg().map((l) => l.toFixed(2)).join(" ");
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
/** The 10th percentile: on a shared machine the blocks least slowed by others. */
const low = (xs) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 10)];

/** Wall-clock and CPU µs per call over a block of `ms` wall time. */
function block(step, ms) {
  const t0 = performance.now(), c0 = process.cpuUsage();
  let n = 0;
  while (performance.now() - t0 < ms) { step(); n++; }
  const c = process.cpuUsage(c0);
  return { wall: ((performance.now() - t0) * 1000) / n, cpu: (c.user + c.system) / n };
}

const inputs = { uniform: [uniformF32(784, 14)], digits: mnistImages(10) };
const models = [];
let weights;
for (const [name, d] of builds) {
  const { compile } = await import(d + "compiler/index.js");
  const { loadModel } = await import(d + "runtime/index.js");
  const { wasm } = await compile(JSON.stringify(mlpGraph), { maxBatch: 256, optimizeLevel: 0, relaxedSimd: relaxed });
  const model = await loadModel(wasm);
  if (weights) model.loadWeights(weights); else weights = model.saveWeights({ optimizer: false });
  models.push({ name, predict: (x) => model.predict({ x }).out });
}
const systems = [];
for (const m of models) for (const [kind, xs] of Object.entries(inputs)) {
  let i = 0;
  systems.push({ name: `${m.name} ${kind}`, kind, step: () => m.predict(xs[i++ % xs.length]) });
}
// Same bits from every build (the plain builds; relaxed builds only where both are relaxed).
for (const xs of Object.values(inputs)) for (const x of xs) {
  const ref = models[0].predict(x);
  for (const m of models.slice(1)) {
    const y = m.predict(x);
    if (!y.every((v, i) => Object.is(v, ref[i]))) throw new Error(`${m.name} differs from ${models[0].name}`);
  }
}
if (args.includes("--ort")) {
  const { buildOnnx, session, run } = await import("./lib/ort.js");
  const { loadModel } = await import(builds[0][1] + "runtime/index.js");
  const sess = await session(buildOnnx(mlpGraph, (await loadModel((await (await import(builds[0][1] + "compiler/index.js")).compile(JSON.stringify(mlpGraph), { maxBatch: 256, optimizeLevel: 0 })).wasm)).getWeights()));
  for (const x of Object.values(inputs).flat()) {
    const ref = models[0].predict(x), y = await run(sess, "x", x, [1, 784]);
    const diff = Math.max(...ref.map((v, i) => Math.abs(v - y[i])));
    if (!(diff <= 1e-4)) throw new Error(`ort-web differs from kiln by ${diff}`);
  }
  for (const [kind, xs] of Object.entries(inputs)) {
    let i = 0;
    // run() is async but ORT-web's wasm session completes synchronously inside; await per step.
    systems.push({ name: `ort-web ${kind}`, kind, async: true, step: () => run(sess, "x", xs[i++ % xs.length], [1, 784]) });
  }
}

async function ablock(s, ms) {
  if (!s.async) return block(s.step, ms);
  const t0 = performance.now(), c0 = process.cpuUsage();
  let n = 0;
  while (performance.now() - t0 < ms) { await s.step(); n++; }
  const c = process.cpuUsage(c0);
  return { wall: ((performance.now() - t0) * 1000) / n, cpu: (c.user + c.system) / n };
}

console.log(`MLP b1 A/B — ${builds.map(([n, d]) => `${n}=${d}`).join(", ")}${relaxed ? " (relaxed SIMD)" : " (plain SIMD)"}; load ${load()}`);
for (const s of systems) await ablock(s, 300);
const loadBefore = load();
const times = systems.map(() => []);
for (let r = 0; r < ROUNDS; r++) {
  for (const i of systems.map((_, i) => (i + r) % systems.length)) { await ablock(systems[i], 50); times[i].push(await ablock(systems[i], BLOCK)); }
}
console.log(`load ${loadBefore} → ${load()}, ${ROUNDS} rounds of ${BLOCK} ms`);
for (const kind of Object.keys(inputs)) {
  systems.forEach((s, i) => {
    if (s.kind !== kind) return;
    const w = median(times[i].map((x) => x.wall)), c = median(times[i].map((x) => x.cpu)), c10 = low(times[i].map((x) => x.cpu));
    console.log(`  ${s.name.padEnd(22)} ${w.toFixed(1).padStart(7)} µs wall ${c.toFixed(1).padStart(7)} µs CPU (median) ${c10.toFixed(1).padStart(7)} µs CPU (10th percentile)`);
  });
}
process.exit(0);
