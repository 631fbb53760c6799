// Whole-model A/B of the inverted-residual fusion (issue 19; or of any two builds) on the bench's
// MobileNetV2 α=1.0 224×224 (same seed as the bench): predict at batch 1 or 16 (module maxBatch 16,
// as the bench compiles it) or the frozen-backbone fine-tuning train step at batch 32 (maxBatch 32).
// Each build is compiled once and loaded as several instances (two instances of one module differ
// by up to 15%: where their memory lands; bench/README.md), and every instance is timed in every
// round, builds alternating in order, CPU time (process.cpuUsage), median per instance and the
// median of those. Outputs (or the first two losses) are compared between builds first. Not a test.
//   npx tsc -p tsconfig.build.json && node bench/inverted-residual-ab.mjs <base dist> [--batch 1|16 | --finetune] [--instances N] [--rounds N] [--block ms] [--same] [--relaxed]
// --same: this tree's dist/ with fuseInvertedResidual: false as the base (no second build needed).
import os from "node:os";
import { mobileNetV2, randomizeWeights, tfjsFiles } from "./lib/real-models.js";
import { tf, use } from "./lib/tfjs.js";
import { abDists, cpuMs, median } from "./lib/ab.js";

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i < 0 ? dflt : Number(process.argv[i + 1]); };
const finetune = process.argv.includes("--finetune"), same = process.argv.includes("--same"), relaxed = process.argv.includes("--relaxed");
if (relaxed) (await import("node:v8")).setFlagsFromString("--experimental-wasm-relaxed-simd"); // before any wasm compiles (probe only)
const batch = finetune ? 32 : arg("--batch", 1), instances = arg("--instances", 3), rounds = arg("--rounds", 5), blockMs = arg("--block", finetune ? 1500 : 400);
const baseDir = same ? undefined : process.argv[2]?.startsWith("--") ? undefined : process.argv[2];
const dists = same ? [["unfused", abDists()[0][1], false], ["fused", abDists()[0][1], true]] : abDists(baseDir).map(([n, d]) => [n, d, undefined]);
if (dists.length < 2) throw new Error("give a base dist (or --same)");
const { importModel } = await import(dists.at(-1)[1] + "compiler/index.js");

await use("cpu");
const tfm = randomizeWeights(mobileNetV2({ size: 224, ...(finetune ? { backboneTrainable: false } : {}) }), 1901);
if (finetune) tfm.compile({ optimizer: tf.train.adam(1e-3, 0.9, 0.999, 1e-7), loss: "sparseCategoricalCrossentropy" });
const files = await tfjsFiles(tfm);
tfm.dispose();
const { graph, weights } = await importModel(files);
const { training: _t, targets: _g, ...inference } = graph;
const program = finetune ? graph : inference;
const x = Float32Array.from({ length: batch * 224 * 224 * 3 }, (_, i) => Math.sin(i * 0.37));
const feeds = { [graph.inputs[0].name]: x };
if (finetune) {
  const classes = graph.layers.find((l) => l.name === graph.training.loss.output)?.units ?? 1000;
  const y = Int32Array.from({ length: batch }, (_, i) => (i * 7919) % classes);
  feeds[graph.targets[0].name] = graph.targets[0].dtype === "int32" ? y : Float32Array.from(y);
}

async function build([name, dir, fuse]) {
  const { compile } = await import(dir + "compiler/index.js");
  const { loadModel } = await import(dir + "runtime/index.js");
  const built = await compile(JSON.stringify(program), { maxBatch: finetune ? 32 : 16, optimizeLevel: 0, relaxedSimd: relaxed, ...(fuse === undefined ? {} : { fuseInvertedResidual: fuse }) });
  const models = [];
  for (let i = 0; i < instances; i++) {
    const m = await loadModel(built.wasm);
    m.loadWeights(weights);
    if (relaxed && m.manifest.simd !== "relaxed-simd") throw new Error("the relaxed build did not load (host lacks relaxed SIMD)");
    models.push(m);
  }
  const check = finetune ? [models[0].trainStep(feeds).loss, models[0].trainStep(feeds).loss] : Object.values(models[0].predict(feeds))[0].slice();
  if (finetune) for (const m of models.slice(1)) { m.trainStep(feeds); m.trainStep(feeds); }
  return { name, models, check, calls: (built.manifest.kernels.calls.train_step ?? built.manifest.kernels.calls.predict).length, times: models.map(() => []) };
}
const builds = [];
for (const d of dists) builds.push(await build(d));
const [A, B] = builds;
if (finetune) console.log(`losses: ${A.name} ${A.check.map((l) => l.toFixed(6)).join(", ")}; ${B.name} ${B.check.map((l) => l.toFixed(6)).join(", ")}`);
else {
  const diff = Math.max(...A.check.map((v, i) => Math.abs(v - B.check[i]))) / Math.max(...A.check.map(Math.abs));
  console.log(`outputs: largest difference ${diff.toExponential(1)} of the largest output`);
}
const step = finetune ? (m) => m.trainStep(feeds) : (m) => m.predict(feeds);
const load0 = os.loadavg()[0];
for (let r = 0; r < rounds; r++) {
  for (const b of r % 2 ? [B, A] : [A, B]) b.models.forEach((m, i) => b.times[i].push(cpuMs(() => step(m), blockMs)));
}
const what = finetune ? "trainStep b32" : `predict b${batch}`;
console.log(`MobileNetV2 224 ${what}${relaxed ? " (relaxed SIMD)" : ""}, ${instances} instances × ${rounds} rounds, CPU ms per call (median per instance); load ${load0.toFixed(2)} → ${os.loadavg()[0].toFixed(2)}`);
for (const b of builds) {
  const per = b.times.map(median), mid = median(per);
  b.mid = mid;
  console.log(`  ${b.name.padEnd(8)} ${b.calls} calls: ${per.map((t) => t.toFixed(2)).join(" ")}  → ${mid.toFixed(2)} ms (${(batch * 1000 / mid).toFixed(1)} samples/s)`);
}
console.log(`  ${A.name}/${B.name} ${(A.mid / B.mid).toFixed(3)}x`);
for (const b of builds) for (const m of b.models) m.dispose();
