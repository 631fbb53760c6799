// Two threads against one, A/B between two builds of the compiler in one process (issue 19's
// two-thread rows): ResNet-20 training b64 and MobileNetV2 inference b16, built and imported as
// bench/lib/real.js builds them (same seeded weights), plus the seed CNN inference b64. Each
// build's threaded module runs on 2 threads next to this tree's one-thread plain build, in
// alternating blocks; 2-thread results are checked bit-identical to 1 thread first. Prints
// wall-clock medians, "1 thread ÷ 2 threads" per build, and how many barriers each build's
// program passes. Not a test. Usage:
//   npx tsc -p tsconfig.build.json                       # this tree → dist/
//   (cd <a checkout of the base> && npx tsc -p tsconfig.build.json --outDir /tmp/base-dist)
//   node bench/threads-ab.mjs /tmp/base-dist [resnet20|mobilenetv2|cnn] [--rounds N] [--block ms] [--rt]
// ("-" for no base build). Next to kiln it times the peak probe's loop on 1 and 2 threads in the
// same rounds: the machine's own two-thread scaling then (an indicator, not an exact bound: its
// 3 ms steps and kiln's longer ones do not meet the same moments of a changing machine).
// On a shared machine two threads only say something when two cores are free: the load average
// is printed before and after each row.
import os from "node:os";
import { readFileSync } from "node:fs";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";
import { execFileSync } from "node:child_process";
import { ROOT } from "./lib/graphs.js";
import { compileAssemblyScript } from "./lib/kiln.js";
import { peakProbe } from "./lib/peak.js";
import { twoThreadPeak } from "./lib/peak2.js";

const args = process.argv.slice(2);
const opt = (name, d) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const ROUNDS = opt("--rounds", 7), BLOCK = opt("--block", 1500);
// --rt (Linux, root): every thread of this process at SCHED_FIFO priority 1 during the timed rounds
// only, so that no other process of the machine takes a core from them: what is left is what the
// host gives these two vCPUs. It starves everything else on the machine for that time (≤ 5% of
// the CPU is left to others): keep --rounds and --block small.
const RT = args.includes("--rt");
const realtime = (on) => RT && execFileSync("chrt", on ? ["-a", "-f", "-p", "1", String(process.pid)] : ["-a", "-o", "-p", "0", String(process.pid)]);
const positional = args.filter((a, i) => !a.startsWith("--") && !(i && ["--rounds", "--block"].includes(args[i - 1])));
const distOf = (dir) => pathToFileURL(resolve(dir)).href + "/";
const builds = [["new", new URL("../dist/", import.meta.url).href]];
if (positional[0] && positional[0] !== "-") builds.unshift(["base", distOf(positional[0])]);
const only = positional[1] ?? "";
const libs = await Promise.all(builds.map(async ([name, d]) => ({
  name, compile: (await import(d + "compiler/index.js")).compile, loadModel: (await import(d + "runtime/index.js")).loadModel,
})));
const { importModel } = await import(builds.at(-1)[1] + "compiler/index.js");

const load = () => os.loadavg().map((l) => l.toFixed(1)).join(" ");
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
const uniform = (n, seed) => { let s = seed >>> 0; return Float32Array.from({ length: n }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32)); };
const barriers = (source, program) => (source.slice(source.indexOf(`export function ${program}_t(`)).split("\n}\n")[0].match(/barrier_\(nt, \d+\);/g) ?? []).length;
const same = (a, b) => a.length === b.length && a.every((v, i) => Object.is(v, b[i]));

/**
 * Wall-clock and CPU ms per call over a block of `ms` wall time. CPU time (process.cpuUsage) counts
 * every thread of the process: on 2 threads it is the work of both plus their waiting spins, so
 * against one thread's it shows what two threads cost in all, descheduled time left out.
 */
function block(step, ms) {
  const t0 = performance.now(), c0 = process.cpuUsage();
  let n = 0;
  while (performance.now() - t0 < ms) { step(); n++; }
  const c = process.cpuUsage(c0);
  return { wall: (performance.now() - t0) / n, cpu: (c.user + c.system) / 1000 / n };
}

async function row(title, graph, { batch, train, weights }) {
  const x = graph.inputs[0], y = graph.targets?.[0];
  const xs = uniform(batch * x.shape.reduce((a, b) => a * b, 1), 11);
  const feeds = train ? { [x.name]: xs, [y.name]: Int32Array.from(uniform(batch, 13), (u) => Math.floor(u * 10)) } : { [x.name]: xs };
  const json = JSON.stringify(graph), program = train ? "train_step" : "predict";
  const one = await libs.at(-1).loadModel((await libs.at(-1).compile(json, { maxBatch: batch })).wasm);
  if (weights) one.loadWeights(weights);
  const start = one.saveWeights({ optimizer: train });
  const systems = [{ name: "new, 1 thread (plain build)", model: one }];
  for (const lib of libs) {
    const built = await lib.compile(json, { maxBatch: batch, threads: 2 });
    const model = await lib.loadModel(built.wasm, { threads: 2 });
    systems.push({ name: `${lib.name}, 2 threads`, model, barriers: barriers(built.source, program) });
  }
  // Same bits on 2 threads as on 1, from the same weights (and optimizer state).
  const out = (m) => (train ? [m.trainStep(feeds).loss, m.trainStep(feeds).loss] : [...Object.values(m.predict(feeds))[0].subarray(0, 64)]);
  const ref = (one.loadWeights(start), out(one));
  for (const s of systems.slice(1)) {
    s.model.loadWeights(start);
    if (!same(out(s.model), ref)) throw new Error(`${title}: ${s.name} differs from one thread`);
  }
  const step = (m) => (train ? () => m.trainStep(feeds) : () => m.predict(feeds));
  for (const s of systems) s.step = step(s.model);
  // The machine's own two-thread scaling in the same rounds (lib/peak2.js): the peak probe's
  // register-only loop on one thread, and on two at once (each a one-thread step's work).
  const machine = [{ name: "peak loop, 1 thread", step: peak.step }, { name: "peak loop, 2 threads", step: peak2.step }];
  const all = [...systems, ...machine];
  for (const s of all) block(s.step, 300);
  const loadBefore = load();
  const times = all.map(() => []);
  realtime(true);
  try {
    // Each round in another order, so that no system always follows the same one.
    for (let r = 0; r < ROUNDS; r++) all.map((_, i) => (i + r) % all.length).forEach((i) => { block(all[i].step, 50); times[i].push(block(all[i].step, BLOCK)); });
  } finally {
    realtime(false);
  }
  const wall = times.map((t) => median(t.map((x) => x.wall))), cpu = times.map((t) => median(t.map((x) => x.cpu)));
  console.log(`\n${title} (${program} b${batch}), load ${loadBefore} → ${load()}, ${ROUNDS} rounds of ${BLOCK} ms${RT ? ", SCHED_FIFO (--rt)" : ""}`);
  // The runtime's split of the batch after the rounds (runtime/threads.ts rebalance): far from even, one thread was slower.
  const split = (m) => m.pool?.shares.get(program)?.map((x) => x.toFixed(3)).join("/") ?? "—";
  systems.forEach((s, i) => console.log(`  ${s.name.padEnd(28)} ${wall[i].toFixed(2).padStart(9)} ms wall, ${cpu[i].toFixed(2).padStart(9)} ms CPU${i ? `  1 thread ÷ this ${(wall[0] / wall[i]).toFixed(3)}× wall, CPU ${(cpu[i] / cpu[0]).toFixed(3)}× one thread's  (${s.barriers} barriers, split ${split(s.model)})` : ""}`));
  const [p1, p2] = [systems.length, systems.length + 1];
  console.log(`  machine: the peak loop on 2 threads does ${(2 * wall[p1] / wall[p2]).toFixed(3)}× one thread's work per wall second, CPU per loop ${(cpu[p2] / 2 / cpu[p1]).toFixed(3)}× one thread's`);
  systems.forEach((s) => s.model.dispose());
}

const peak = await peakProbe(compileAssemblyScript, 1e8); // ~3 ms a step: long next to a worker's wake-up
const peak2 = await twoThreadPeak(peak);
console.log(`threads A/B — builds: ${builds.map(([n, d]) => `${n}=${d}`).join(", ")}; load ${load()}; ${os.cpus().length} CPUs`);
if (!only || only === "cnn") {
  const g = JSON.parse(readFileSync(ROOT + "examples/mnist-cnn/graph.json", "utf8"));
  await row("seed CNN", g, { batch: 64, train: false });
}
if (!only || only === "resnet20" || only === "mobilenetv2") {
  const { use } = await import("./lib/tfjs.js");
  const { tfjsRealModel } = await import("./lib/real.js");
  const { tfjsFiles } = await import("./lib/real-models.js");
  for (const key of ["resnet20", "mobilenetv2"].filter((k) => !only || k === only)) {
    await use("cpu");
    const m = tfjsRealModel(key, false);
    const files = await tfjsFiles(m);
    m.dispose();
    const { graph, weights } = await importModel(files);
    if (key === "resnet20") await row("ResNet-20 32×32×3", graph, { batch: 64, train: true, weights });
    else await row("MobileNetV2 224×224", (({ training: _t, targets: _g, ...rest }) => rest)(graph), { batch: 16, train: false, weights });
  }
}
await peak2.dispose();
process.exit(0);
