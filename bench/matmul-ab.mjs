// A/B of the bench's matmul 512³ row (bench/workloads.js "matmul-512": a dense 512→512 layer, no
// bias, predict at batch 512, compiled as the bench compiles it: -O0, maxBatch 512) between this
// tree's dist/ and another build. Not a test. CPU time per predict (`process.cpuUsage`: time
// descheduled on the shared machine does not count), alternating rounds over several instances of
// each build, medians; GFLOP/s and share
// of the physical wasm SIMD ceiling (16 FLOP/cycle × the clock measured here, lib/ceiling.js).
// Usage: npx tsc -p tsconfig.build.json && node bench/matmul-ab.mjs [<base dist>] [--rounds N] [--relaxed] [--m M --n N --k K]
// (<base dist>: npx tsc -p tsconfig.build.json --outDir <dir> in a checkout of the base, inside a
// directory that sees node_modules, e.g. <worktree>/dist-base; without it, this tree alone.)
import os from "node:os";
import { clockProbe } from "./lib/ceiling.js";
import { abDists, cpuMs, median } from "./lib/ab.js";

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i < 0 ? dflt : Number(process.argv[i + 1]); };
const rounds = arg("--rounds", 7), instances = arg("--instances", 3), relaxed = process.argv.includes("--relaxed");
const M = arg("--m", 512), N = arg("--n", 512), K = arg("--k", 512);
if (relaxed) (await import("node:v8")).setFlagsFromString("--experimental-wasm-relaxed-simd");
const baseDir = process.argv[2]?.startsWith("--") ? undefined : process.argv[2];
const dists = abDists(baseDir);

const graph = {
  format: "kiln.graph/v2", name: "bench_matmul", seed: 5,
  inputs: [{ name: "x", shape: [K] }],
  layers: [{ name: "mm", op: "dense", units: N, use_bias: false }],
};
const x = Float32Array.from({ length: M * K }, (_, i) => Math.sin(i * 0.37));

// Each build is loaded `instances` times, each instance with a wasm memory of its own, and every
// instance is timed in every round: two instances of the SAME module differed by up to 15% in
// this process, consistently over rounds (which physical pages back the memory: packed B and the
// A tile fill half the 1 MB L2), so one instance per build measures placement, not code.
async function build(name, dir) {
  const { compile } = await import(dir + "compiler/index.js");
  const { loadModel } = await import(dir + "runtime/index.js");
  const built = await compile(JSON.stringify(graph), { maxBatch: M, optimizeLevel: 0, relaxedSimd: relaxed });
  const models = [];
  for (let i = 0; i < instances; i++) models.push(await loadModel(built.wasm));
  const out = Object.values(models[0].predict({ x }))[0].slice();
  return { name, models, out, cpu: [], perInstance: models.map(() => []) };
}
const builds = [];
for (const [name, dir] of dists) builds.push(await build(name, dir));
if (builds.length > 1) {
  const [a, b] = builds;
  let diff = 0, scale = 0;
  for (let i = 0; i < a.out.length; i++) { diff = Math.max(diff, Math.abs(a.out[i] - b.out[i])); scale = Math.max(scale, Math.abs(a.out[i])); }
  diff /= scale;
  console.log(`base vs new outputs: largest difference ${diff.toExponential(1)} of the largest output`);
}
for (const b of builds) for (const model of b.models) cpuMs(() => model.predict({ x }), 200);
// a round: every instance of every build, the builds taking turns going first
for (let r = 0; r < rounds; r++) {
  for (const b of r % 2 ? builds.slice().reverse() : builds) {
    b.models.forEach((model, i) => { const t = cpuMs(() => model.predict({ x }), 250); b.perInstance[i].push(t); b.cpu.push(t); });
  }
}

const clockGHz = (await clockProbe(2e8)).calibration.cpuGHz, ceiling = 16 * clockGHz;
const flops = 2 * M * N * K;
console.log(`matmul ${M}x${N}x${K} (dense, predict b${M}), ${relaxed ? "relaxed" : "plain"} SIMD, ${rounds} rounds, CPU time; clock ${clockGHz.toFixed(2)} GHz, ceiling ${ceiling.toFixed(1)} GFLOP/s; load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
for (const b of builds) {
  const ms = median(b.cpu), g = flops / ms / 1e6;
  console.log(`  ${b.name}: ${ms.toFixed(3)} ms, ${g.toFixed(1)} GFLOP/s, ${(100 * g / ceiling).toFixed(0)}% of ceiling (median of ${b.cpu.length}; per instance ${b.perInstance.map((t) => (flops / median(t) / 1e6).toFixed(1)).join(" ")} GFLOP/s)`);
}
if (builds.length > 1) console.log(`base/new ${(median(builds[0].cpu) / median(builds[1].cpu)).toFixed(3)}x (medians over all instances and rounds)`);
for (const b of builds) for (const model of b.models) model.dispose();
