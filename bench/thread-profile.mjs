/**
 * Probe (not a test, not part of the bench): how a threaded program shares its work, counted
 * rather than timed on two threads. For each program it lists every step of `<program>_t` with
 * its split (batch, parts, serial), the barriers, and each call's one-thread time (the module's
 * `<program>_range(batch, i, i + 1)`, call after call in program order so caches stay as in a
 * real call; median over passes, CPU time of the whole pass scaled per call). From those:
 * the serial share s, the parts' imbalance on 2 threads, and Amdahl's bound 1 / (s + (1 − s)/2)
 * (parts counted as the larger of the two threads' parts). Build first:
 * `npx tsc -p tsconfig.build.json`.
 *
 *   node bench/thread-profile.mjs [cnn|resnet20|mobilenetv2|all] [--passes N] [--top K]
 */
import { readFileSync } from "node:fs";
import { loadavg } from "node:os";
import { ROOT } from "./lib/graphs.js";

const dist = (p) => import(new URL(`dist/${p}`, "file://" + ROOT).href);
const { compile } = await dist("compiler/index.js");
const { loadModel } = await dist("runtime/index.js");

const args = process.argv.slice(2);
const opt = (name, d) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : d);
const which = args.find((a) => !a.startsWith("--") && !/^\d+$/.test(a)) ?? "all";
const PASSES = opt("--passes", 7), TOP = opt("--top", 12);

/** The steps of `<program>_t` in a threaded module's source: kind, calls, barrier after. */
function stepsOf(source, program) {
  const body = source.slice(source.indexOf(`export function ${program}_t(`)).split("\n}\n")[0];
  const steps = [];
  for (const line of body.split("\n")) {
    if (/^ {2}store<i32>\(/.test(line)) steps.push({ kind: undefined, parts: 0, barrier: false });
    else if (/^ {2}if \(nb_ > 0\)/.test(line)) steps.at(-1).kind = "batch";
    else if (/^ {2}if \(tid == 0\)/.test(line)) steps.at(-1).kind = "serial";
    else if (/^ {2}if \(true\)/.test(line)) steps.at(-1).kind = "replicated";
    else if (/^ {2}if \(\d+ % nt == tid\)/.test(line)) { steps.at(-1).kind = "parts"; steps.at(-1).parts++; }
    else if (/^ {2}barrier_\(/.test(line)) steps.at(-1).barrier = true;
  }
  return steps;
}

/** Kernel labels by name (the `// kN: label` comments). */
const labelsOf = (source) => Object.fromEntries([...source.matchAll(/^\/\/ (k\d+): (.*)$/gm)].map((m) => [m[1], m[2]]));

/** Median one-thread ms of each call of a program: passes of call-by-call `_range`, in order. */
function callTimes(model, program, batch, n) {
  const range = model.exports[`${program}_range`];
  const per = Array.from({ length: n }, () => []);
  for (let p = 0; p < PASSES + 1; p++) {
    for (let i = 0; i < n; i++) {
      const t = performance.now();
      range(batch, i, i + 1);
      if (p) per[i].push(performance.now() - t);
    }
  }
  return per.map((xs) => xs.sort((a, b) => a - b)[xs.length >> 1]);
}

function profile(title, source, manifest, model, program, batch) {
  const steps = stepsOf(source, program), labels = labelsOf(source);
  const calls = manifest.kernels.calls[program];
  if (steps.length !== calls.length) throw new Error(`${program}: ${steps.length} steps, ${calls.length} calls`);
  const ms = callTimes(model, program, batch, calls.length);
  const by = { batch: 0, serial: 0, replicated: 0, parts: 0 }, count = { batch: 0, serial: 0, replicated: 0, parts: 0 };
  steps.forEach((s, i) => { by[s.kind] += ms[i]; count[s.kind]++; });
  const total = by.batch + by.serial + by.replicated + by.parts;
  // Parts: kernel calls of unequal size; on 2 threads part j runs on thread j mod 2. Each parts
  // step's time split evenly by part count is the best case (the parts are equal column slices).
  const s = (by.serial + by.replicated) / total;
  const two = by.serial + by.replicated + by.batch / 2 + by.parts / 2;
  const barriers = steps.filter((x) => x.barrier).length;
  console.log(`\n== ${title}: ${program} b${batch}: ${calls.length} calls, ${barriers} barriers; one thread ${total.toFixed(2)} ms`);
  for (const k of ["batch", "parts", "serial", "replicated"]) console.log(`  ${k.padEnd(10)} ${String(count[k]).padStart(4)} calls  ${by[k].toFixed(3).padStart(8)} ms  ${((100 * by[k]) / total).toFixed(1).padStart(5)}%`);
  console.log(`  Amdahl bound on 2 threads (no barrier cost, perfect batch balance): ${(total / two).toFixed(3)}×  (serial and replicated ${(100 * s).toFixed(2)}%)`);
  const serial = steps.map((st, i) => ({ i, st, ms: ms[i], kernel: calls[i][0], layer: calls[i][1] })).filter((x) => x.st.kind !== "batch").sort((a, b) => b.ms - a.ms);
  console.log(`  largest non-batch calls:`);
  for (const x of serial.slice(0, TOP)) console.log(`    #${String(x.i).padStart(3)} ${x.st.kind.padEnd(10)}${x.st.kind === "parts" ? `×${x.st.parts}` : "  "} ${x.ms.toFixed(3).padStart(7)} ms  ${x.layer}: ${labels[x.kernel] ?? x.kernel}`);
  const segs = [];
  let cur = { kinds: new Set(), ms: 0, calls: 0 };
  steps.forEach((st, i) => { cur.kinds.add(st.kind); cur.ms += ms[i]; cur.calls++; if (st.barrier) { segs.push(cur); cur = { kinds: new Set(), ms: 0, calls: 0 }; } });
  console.log(`  segments between barriers: ${segs.map((g) => `${g.calls}:${[...g.kinds].join("+")} ${g.ms.toFixed(2)}ms`).join(" | ")}`);
  return { total, by, count, barriers, bound: total / two };
}

async function run(title, graph, { batch, programs, weights, feeds }) {
  const built = await compile(JSON.stringify(graph), { maxBatch: batch, threads: 2 });
  const model = await loadModel(built.wasm, { threads: 1 });
  if (weights) model.loadWeights(weights);
  const out = [];
  for (const program of programs) {
    // One real call first, so inputs (and targets) are in memory.
    if (program === "predict") model.predict(feeds.x);
    else model.trainStep(feeds.train);
    out.push(profile(title, built.source, built.manifest, model, program, batch));
  }
  model.dispose();
  return out;
}

const uniform = (n, seed) => { let s = seed >>> 0; return Float32Array.from({ length: n }, () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32)); };
const ints = (n, k, seed) => Float32Array.from(uniform(n, seed), (u) => Math.floor(u * k));
function feedsOf(g, batch) {
  const x = g.inputs[0], y = g.targets?.[0];
  const n = (t) => batch * t.shape.reduce((a, b) => a * b, 1);
  const xs = uniform(n(x), 7);
  const classes = y ? g.layers.find((l) => l.name === g.training.loss.output)?.units ?? 1 : 0;
  return { x: { [x.name]: xs }, train: y ? { [x.name]: xs, [y.name]: y.dtype === "int32" ? Int32Array.from(ints(n(y), classes, 9)) : ints(n(y), 2, 9) } : undefined };
}

console.log(`thread profile — load average ${loadavg().map((x) => x.toFixed(1)).join(" ")}; ${PASSES} passes per program`);
if (which === "cnn" || which === "all") {
  const g = JSON.parse(readFileSync(ROOT + "examples/mnist-cnn/graph.json", "utf8"));
  await run("seed CNN", g, { batch: 64, programs: ["predict", "train_step"], feeds: feedsOf(g, 64) });
}
if (which === "resnet20" || which === "mobilenetv2" || which === "all") {
  const { importModel } = await dist("compiler/index.js");
  const { use } = await import("./lib/tfjs.js");
  const { tfjsRealModel } = await import("./lib/real.js");
  const { tfjsFiles } = await import("./lib/real-models.js");
  for (const key of which === "all" ? ["resnet20", "mobilenetv2"] : [which]) {
    await use("cpu");
    const m = tfjsRealModel(key, false);
    const files = await tfjsFiles(m);
    m.dispose();
    const { graph, weights } = await importModel(files);
    const train = key === "resnet20";
    const g = train ? graph : (({ training: _t, targets: _g, ...rest }) => rest)(graph);
    const batch = train ? 64 : 16;
    await run(key, g, { batch, programs: train ? ["train_step"] : ["predict"], weights, feeds: feedsOf(g, batch) });
  }
}
process.exit(0);
