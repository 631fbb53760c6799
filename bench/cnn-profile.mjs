// Per-call profile of the seed CNN's training step (examples/mnist-cnn, Adam), compiled as the bench
// compiles it (-O0, maxBatch 64): times every call of `train_step` alone through the module's
// `train_step_range(batch, i, i + 1)` and whole trainStep()s, in CPU time (median of rounds); with
// --base <dist>, both builds are timed in alternating rounds (several instances each, --instances N)
// and their losses compared. Also times predict at batch 1 and 64 (--infer). Not a test.
//   npx tsc -p tsconfig.build.json && node bench/cnn-profile.mjs [--base <dist>] [--batch 32] [--rounds N] [--instances N] [--relaxed] [--infer]
import os from "node:os";
import { readFileSync } from "node:fs";
import v8 from "node:v8";
import { abDists, cpuMs, median } from "./lib/ab.js";

v8.setFlagsFromString("--experimental-wasm-relaxed-simd");
const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i < 0 ? dflt : Number(process.argv[i + 1]); };
const rounds = arg("--rounds", 7), batch = arg("--batch", 32), instances = arg("--instances", 2), relaxed = process.argv.includes("--relaxed");
const baseAt = process.argv.indexOf("--base");
const dists = abDists(baseAt >= 0 ? process.argv[baseAt + 1] : undefined);
const graph = JSON.parse(readFileSync(new URL("../examples/mnist-cnn/graph.json", import.meta.url), "utf8"));
const x = Float32Array.from({ length: batch * 784 }, (_, i) => 0.5 + 0.5 * Math.sin(i * 0.37));
const y = Int32Array.from({ length: batch }, (_, i) => (i * 7919) % 10);
const feeds = { image: x, label: y };

async function build(name, dir) {
  const { compile } = await import(dir + "compiler/index.js");
  const { loadModel } = await import(dir + "runtime/index.js");
  const built = await compile(JSON.stringify(graph), { maxBatch: 64, optimizeLevel: 0, relaxedSimd: relaxed });
  const labels = new Map([...built.source.matchAll(/^\/\/ (k\d+): (.*)$/gm)].map((m) => [m[1], m[2].replace(/-\?/g, "->")]));
  const calls = built.manifest.kernels.calls.train_step;
  const models = [];
  for (let i = 0; i < instances; i++) {
    const model = await loadModel(built.wasm);
    models.push({ model, losses: [model.trainStep(feeds).loss, model.trainStep(feeds).loss], range: model.exports.train_step_range });
  }
  return { name, models, labels, calls, whole: [], perCall: calls.map(() => []) };
}
const builds = [];
for (const [name, dir] of dists) builds.push(await build(name, dir));
for (const b of builds) console.log(`${b.name}: losses ${b.models[0].losses.map((l) => l.toFixed(6)).join(", ")}; ${b.calls.length} calls`);
for (let r = 0; r < rounds; r++) {
  for (const b of r % 2 ? [...builds].reverse() : builds) {
    for (const m of b.models) {
      b.whole.push(cpuMs(() => m.model.trainStep(feeds), 300));
      for (let i = 0; i < b.calls.length; i++) b.perCall[i].push(cpuMs(() => m.range(batch, i, i + 1), 15));
    }
  }
}
const labelOf = (b, [k, layer]) => `${b.labels.get(k) ?? k} [${layer}]`;
for (const b of builds) {
  const per = b.perCall.map(median), sum = per.reduce((a, c) => a + c, 0), step = median(b.whole);
  console.log(`\n${b.name}: trainStep b${batch} ${step.toFixed(3)} ms CPU (${(batch * 1000 / step).toFixed(0)} samples/s; instances ${b.whole.length / rounds}: ${b.models.map((_, j) => median(b.whole.filter((_, i) => i % b.models.length === j)).toFixed(2)).join(", ")} ms), sum of calls ${sum.toFixed(3)} ms; load ${os.loadavg()[0].toFixed(2)}`);
  per.forEach((ms, i) => console.log(`  #${String(i).padStart(2)} ${ms.toFixed(3).padStart(7)} ms ${(100 * ms / sum).toFixed(1).padStart(5)}%  ${labelOf(b, b.calls[i])}`));
}
if (builds.length === 2) {
  const [a, n] = builds.map((b) => median(b.whole));
  console.log(`\ntrainStep b${batch}: base ${a.toFixed(3)} → new ${n.toFixed(3)} ms CPU (${(a / n).toFixed(3)}×)`);
}
if (process.argv.includes("--infer")) {
  for (const bs of [1, 64]) {
    const fx = Float32Array.from({ length: bs * 784 }, (_, i) => 0.5 + 0.5 * Math.sin(i * 0.11));
    const t = builds.map(() => []);
    for (let r = 0; r < rounds; r++) for (const j of r % 2 ? builds.map((_, i) => i).reverse() : builds.map((_, i) => i)) for (const m of builds[j].models) t[j].push(cpuMs(() => m.model.predict({ image: fx }), 200));
    console.log(`predict b${bs}: ${builds.map((b, j) => `${b.name} ${median(t[j]).toFixed(3)} ms`).join(", ")}`);
  }
}
