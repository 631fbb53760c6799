// Does a peer's block leave something running in kiln's next 2-thread block? (issue 19's
// two-thread rows, which missed 1.7× inside the full bench and met it alone.) The seed CNN
// predict b64 on kiln's 2-thread build is timed right after a block of each system the full
// bench's "seed CNN inference, batch 64" row runs before it (kiln on 1 thread, tfjs-wasm,
// tfjs-cpu, ORT-web on 1 thread, ORT-web on 2 threads in its worker), in rotating order, and every
// thread of this process is accounted during kiln's block from /proc/self/task/*/schedstat: ns on
// a core and ns waiting for one. CPU per call of kiln's two threads and of every other thread is
// what the machine's load does not change much; wall clock is printed too, with the load.
// Not a test. Usage (Linux; build first: npx tsc -p tsconfig.build.json):
//   node bench/thread-interference.mjs [--rounds N] [--block ms] [--only a,b]
import os from "node:os";
import { readdirSync, readFileSync } from "node:fs";
import { readGraph } from "./lib/graphs.js";
import { compileGraph, loadModel } from "./lib/kiln.js";
import { median, uniformF32 } from "./lib/measure.js";
import { initTf, tf, use, buildSequential, copyWeights } from "./lib/tfjs.js";
import { buildOnnx, session, run as ortRun, threadedSession } from "./lib/ort.js";

const args = process.argv.slice(2);
const opt = (name, d) => (args.includes(name) ? args[args.indexOf(name) + 1] : d);
const ROUNDS = Number(opt("--rounds", 5)), BLOCK = Number(opt("--block", 400));
const only = opt("--only", "")?.split(",").filter(Boolean);
const load = () => os.loadavg().map((l) => l.toFixed(1)).join(" ");

/** tid → [ns on a core, ns waiting for one] for every thread of this process. */
function tasks() {
  const out = new Map();
  for (const tid of readdirSync("/proc/self/task")) {
    try { out.set(tid, readFileSync(`/proc/self/task/${tid}/schedstat`, "utf8").split(" ").slice(0, 2).map(Number)); } catch { /* ended */ }
  }
  return out;
}
const machineBusy = () => { const f = readFileSync("/proc/stat", "utf8").split("\n")[0].trim().split(/\s+/).slice(1).map(Number); return (f.reduce((a, b) => a + b, 0) - f[3] - f[4]) * 10; }; // ms

const graph = readGraph("examples/mnist-cnn/graph.json"), batch = 64;
const input = graph.inputs[0], per = input.shape.reduce((a, b) => a * b, 1);
const x = uniformF32(batch * per, 12);
const opts = { maxBatch: 64, optimizeLevel: 0 };
const one = await loadModel((await compileGraph(graph, opts)).wasm);
const before = new Set(tasks().keys());
const two = await loadModel((await compileGraph(graph, { ...opts, threads: 2 })).wasm, { threads: 2 });
const kilnWorkers = [...tasks().keys()].filter((t) => !before.has(t));
two.loadWeights(one.saveWeights({ optimizer: false }));
const feeds = { [input.name]: x };
const ref = one.predict(feeds)[one.outputs[0].name], got = two.predict(feeds)[two.outputs[0].name];
if (!ref.every((v, i) => Object.is(v, got[i]))) throw new Error("2 threads differ from 1 thread");
const main = String(process.pid);
const born = new Map([...tasks().keys()].map((t) => [t, t === main ? "main" : kilnWorkers.includes(t) ? "kiln worker" : "before the peers"]));

await initTf();
const tfjsOf = async (backend) => {
  await use(backend);
  const m = buildSequential({ ...graph, training: undefined });
  copyWeights(m, graph, one.getWeights());
  return () => { const y = tf.tidy(() => m.predict(tf.tensor(x, [batch, ...input.shape]), { batchSize: batch })); y.dataSync(); y.dispose(); };
};
const onnx = buildOnnx(graph, one.getWeights());
const ort1 = await session(onnx);
const ort2 = await threadedSession(onnx, 2, input.name, x, [batch, ...input.shape]);
for (const t of tasks().keys()) if (!born.has(t)) born.set(t, "ORT-web / TF.js");
const peers = {
  "kiln 1 thread": { step: () => one.predict(feeds) },
  "tfjs-wasm": { step: await tfjsOf("wasm"), before: () => use("wasm") },
  "tfjs-cpu": { step: await tfjsOf("cpu"), before: () => use("cpu") },
  "ort-web": { step: () => ortRun(ort1, input.name, x, [batch, ...input.shape]) },
  "ort-web (2 threads)": { step: ort2.run },
};
for (const t of tasks().keys()) if (!born.has(t)) born.set(t, "ORT-web / TF.js");
const names = Object.keys(peers).filter((n) => !only?.length || only.includes(n));

async function run(step, ms) {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) { await step(); n++; }
  return n;
}

/** kiln's 2-thread block: wall ms per call and each thread's ms on a core per call. */
async function kilnBlock() {
  await run(() => two.predict(feeds), 50);
  const t0 = tasks(), m0 = machineBusy(), w0 = performance.now();
  const n = await run(() => two.predict(feeds), BLOCK);
  const wall = performance.now() - w0, t1 = tasks(), m1 = machineBusy();
  const per = {};
  let ours = 0;
  for (const [tid, [r, w]] of t1) {
    const [r0, w0_] = t0.get(tid) ?? [0, 0];
    ours += (r - r0) / 1e6;
    const kind = born.get(tid) ?? "new during the rounds";
    const e = (per[kind] ??= { run: 0, wait: 0 });
    e.run += (r - r0) / 1e6 / n; e.wait += (w - w0_) / 1e6 / n;
  }
  return { wall: wall / n, per, others: (m1 - m0 - ours) / n };
}

// One thread's CPU per call, for reference (same rounds).
const results = Object.fromEntries(names.map((n) => [n, []]));
const oneCpu = [];
console.log(`seed CNN predict b${batch}: kiln's 2 threads after a block of each peer; ${ROUNDS} rounds of ${BLOCK} ms; load ${load()}`);
for (let r = 0; r < ROUNDS; r++) {
  for (let i = 0; i < names.length; i++) {
    const name = names[(i + r) % names.length], p = peers[name];
    await p.before?.();
    const c0 = process.cpuUsage();
    const n = await run(p.step, BLOCK);
    if (name === "kiln 1 thread") { const c = process.cpuUsage(c0); oneCpu.push((c.user + c.system) / 1000 / n); }
    results[name].push(await kilnBlock());
  }
}
console.log(`load after: ${load()}; kiln 1 thread: ${median(oneCpu).toFixed(2)} ms CPU per call (median)`);
const kinds = [...new Set(Object.values(results).flatMap((rs) => rs.flatMap((x) => Object.keys(x.per))))];
console.log(`${"block before".padEnd(22)} ${"wall".padStart(7)}  ${kinds.map((k) => `${k} run/wait`.padStart(26)).join(" ")}  other processes (ms per call, medians)`);
for (const name of names) {
  const rs = results[name];
  const cell = (k) => `${median(rs.map((x) => x.per[k]?.run ?? 0)).toFixed(3)}/${median(rs.map((x) => x.per[k]?.wait ?? 0)).toFixed(3)}`.padStart(26);
  console.log(`${name.padEnd(22)} ${median(rs.map((x) => x.wall)).toFixed(3).padStart(7)}  ${kinds.map(cell).join(" ")}  ${median(rs.map((x) => x.others)).toFixed(3)}`);
}
two.dispose();
await ort2.release();
await ort1.release();
process.exit(0);
