/**
 * `npm run bench`: kiln side by side with TensorFlow.js (wasm, cpu) and ONNX Runtime Web on the
 * same workloads, weights, data and batch sizes, one thread (and kiln/ORT-web on 2 threads where
 * issue 8 asks; kiln's relaxed-SIMD build next to its plain build where issue 5 asks), round-robin
 * rounds after warm-up, medians; plus this machine's wasm-SIMD peaks (mul+add, relaxed_madd),
 * process start → first prediction (in Node, and navigation → first prediction in Chromium:
 * lib/browser-startup.js), compile times, module sizes and what an app ships. Writes
 * bench/results/latest.json and README-table.md. Runs under --experimental-wasm-relaxed-simd on
 * Node 20 (lib/relaxed-host.js re-executes node with it).
 * BENCH_INSTANCES=n (default 3): every system that can make another instance of itself runs as n
 * instances per row, the rounds taking them in turn; figures are medians over all instances'
 * blocks, each instance's median and the spread are reported too (lib/instances.js).
 * BENCH_QUICK=1: a fast smoke run (asc -O0, short rounds, no tfjs cpu backend), written to
 * git-ignored bench/results/quick.*.tmp.
 * `--only real-models` (or BENCH_ONLY=real-models): only issue 19's real-size models
 * (lib/real.js: MobileNetV2, ResNet-50- and InceptionV3-style, ResNet-20; their compile rows, a
 * 300-layer cold compile, memory and bytes → first prediction), written to
 * bench/results/real-models.{json,md} (quick: quick-real.*.tmp). `npm run bench` runs everything.
 */
// First import: where relaxed SIMD does not validate, it re-runs this command with the Node flag and exits.
import { relaxedHost } from "./lib/relaxed-host.js";
import { writeFileSync, mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir, cpus, loadavg } from "node:os";
import { readGraph, exampleGraphs, zooGraphs, mlpGraph, matmulGraph, inferenceOnly, ROOT } from "./lib/graphs.js";
import { roundRobin } from "./lib/measure.js";
import { instanceCount, roundsFor } from "./lib/instances.js";
import { label } from "./lib/task-cpu.js";
import { compileGraph, compileRows, loadModel, compileAssemblyScript, sizes } from "./lib/kiln.js";
import { peakProbe } from "./lib/peak.js";
import { twoThreadPeak } from "./lib/peak2.js";
import { clockProbe, cpuinfoMHz, fpPipes, flopsPerCycle } from "./lib/ceiling.js";
import { initTf } from "./lib/tfjs.js";
import { kilnRuntimeSize, peerSizes } from "./lib/sizes.js";
import { coldCompile, measureStartup } from "./lib/startup.js";
import { browserStartup } from "./lib/browser-startup.js";
import { findChromium } from "../test/browser/find-chromium.mjs";
import { workloads, realWorkloads, Skip, THREADED } from "./workloads.js";
import { renderReport, renderRealReport, RELAXED } from "./lib/report.js";
import { evaluateTargets, evaluateRealTargets } from "./lib/targets.js";
import { prepareRealModels, disposeRealModels, memoryAndStartup, coldCompileDeep } from "./lib/real.js";

const onlyArg = process.argv.includes("--only") ? process.argv[process.argv.indexOf("--only") + 1] : process.env.BENCH_ONLY;
if (onlyArg !== undefined && onlyArg !== "real-models") throw new Error(`--only ${onlyArg}: the only subset is "real-models"`);
/** Only issue 19's real-size model rows (the full bench takes ~7 minutes without them). */
const onlyReal = onlyArg === "real-models";
/**
 * `--models mobilenetv2,mobilenetv2Head` (or BENCH_REAL_MODELS) with `--only real-models`: only
 * those models' rows (keys of lib/real.js REAL_MODELS), no 300-layer cold compile; results go to
 * git-ignored bench/results/real-models.subset.*.tmp, so a partial run never replaces a full one.
 */
const modelsArg = process.argv.includes("--models") ? process.argv[process.argv.indexOf("--models") + 1] : process.env.BENCH_REAL_MODELS;
const realSubset = modelsArg === undefined ? undefined : modelsArg.split(",").filter(Boolean);
if (realSubset && !onlyReal) throw new Error("--models selects real-size models: use it with --only real-models");

const quick = !!process.env.BENCH_QUICK;
const settings = quick
  ? { quick, optimizeLevel: 0, rounds: 2, blockMs: 100, warmupMs: 100, budgetMs: 1500, startupRounds: 1, browserRounds: 2 }
  : { quick, optimizeLevel: 0, rounds: 5, blockMs: 400, warmupMs: 1000, budgetMs: 8000, startupRounds: 3, browserRounds: 5 };
// BENCH_INSTANCES=n (default 3): instances per system in every row (lib/instances.js); the rounds
// take them in turn, so the rounds grow to a multiple of n with at least two blocks per instance.
// The blocks shrink by as much as the rounds grow, so a fast system's timed work per row stays
// what it was with 5 rounds of 0.4 s (a system slower than a block runs one iteration a block anyway).
settings.instances = instanceCount();
const baseRounds = settings.rounds;
settings.rounds = roundsFor(baseRounds, settings.instances);
settings.blockMs = Math.round((settings.blockMs * baseRounds) / settings.rounds);
// BENCH_ROUNDS=n: fewer (or more) timed rounds, same rows in the same order (a replica of the full run's process history, for probes such as BENCH_TASK_CPU).
if (process.env.BENCH_ROUNDS) settings.rounds = Math.max(1, Number(process.env.BENCH_ROUNDS));
const log = (...a) => console.error("[bench]", ...a);
const started = performance.now();

const machine = { cpu: cpus()[0]?.model ?? "unknown", cores: cpus().length, node: process.version, platform: `${process.platform} ${process.arch}`, date: new Date().toISOString(), loadavgStart: loadavg(), relaxedSimd: relaxedHost };
console.log(`kiln benchmark — ${machine.date}\nmachine: ${machine.cpu}, ${machine.cores} cores, Node ${machine.node} (${machine.platform}); load average ${machine.loadavgStart.map((x) => x.toFixed(1)).join(" ")}`);
console.log(`relaxed SIMD: ${relaxedHost.validates ? "validates" : "does NOT validate (kiln's relaxed build is skipped)"}${relaxedHost.flag ? ` (node ${relaxedHost.flag})` : ""}`);
if (quick) console.log("BENCH_QUICK: asc -O0, 2 short rounds, no tfjs-cpu — a smoke run, not representative");

const tmp = mkdtempSync(tmpdir() + "/kiln-bench-");
const opts = { maxBatch: 64, optimizeLevel: settings.optimizeLevel };
let cold, peak, relaxedPeak, examples, models, startup, browserStart, cnnThreaded, mlpThreaded;
const cnnGraph = readGraph("examples/mnist-cnn/graph.json");
const lstmGraph = readGraph("examples/names-gender/graph.json");
const tfmGraph = readGraph("examples/names-transformer/graph.json");

if (!onlyReal) {
// The browser start-up part needs Chromium: no browser fails the run now, not after minutes of work.
log(`Chromium for the browser start-up part: ${(await findChromium()).version}`);
// 1. Cold compile of the seed CNN in a fresh process; its modules are the ones measured below.
log("cold compile of the seed CNN (fresh process)…");
cold = await coldCompile(ROOT + "examples/mnist-cnn/graph.json", tmp, settings.optimizeLevel);

// 2. The peak probes (this also imports asc, so the example compiles below are warm), then every example graph.
log("wasm-SIMD peak probe…");
const peakFlops = quick ? 2e7 : 1e8;
peak = await peakProbe(compileAssemblyScript, peakFlops);
log(`peak probe: ${peak.calibration.map((c) => `${c.name} ${c.gflops.toFixed(1)}`).join(", ")} GFLOP/s (CPU time); using ${peak.variant}`);
// kiln's relaxed build is measured against the peak of its own instruction set (relaxed_madd).
relaxedPeak = relaxedHost.validates ? await peakProbe(compileAssemblyScript, peakFlops, "relaxed_madd") : undefined;
if (relaxedPeak) log(`relaxed_madd peak probe: ${relaxedPeak.calibration.map((c) => `${c.name} ${c.gflops.toFixed(1)}`).join(", ")} GFLOP/s (CPU time); using ${relaxedPeak.variant}`);
// Every example graph and every zoo model (examples/zoo/graphs): compile time, module size, parameters.
let compiled;
({ rows: examples, wasms: compiled } = await compileRows([...exampleGraphs(), ...zooGraphs()], opts, readGraph, log));
log("compile the MLP and matmul graphs…");
const mlpBuilt = await compileGraph(mlpGraph, { ...opts, maxBatch: 256 });
const mmBuilt = await compileGraph(matmulGraph, { ...opts, maxBatch: 512 });
// Threaded builds (2 threads) of the seed CNN training module and the MLP, for the 2-thread columns.
log("compile the threaded (2-thread) seed CNN and MLP…");
cnnThreaded = await compileGraph(cnnGraph, { ...opts, threads: 2 });
mlpThreaded = await compileGraph(mlpGraph, { ...opts, maxBatch: 256, threads: 2 });
const lstmWasm = compiled["names-gender"] ?? (await compileGraph(lstmGraph, opts)).wasm;
const tfmWasm = compiled["names-transformer"] ?? (await compileGraph(tfmGraph, opts)).wasm;
// kiln's relaxed-SIMD builds of the one-thread workloads' graphs, same options otherwise: the
// module is the plain build carrying the relaxed one, and loadModel picks it here (workloads.js checks).
log("compile the relaxed-SIMD builds (seed CNN, MLP, matmul, LSTM, transformer)…");
const relaxedOpts = { ...opts, relaxedSimd: true };
const relaxedWasm = {
  cnn: (await compileGraph(cnnGraph, relaxedOpts)).wasm,
  mlp: (await compileGraph(mlpGraph, { ...relaxedOpts, maxBatch: 256 })).wasm,
  mm: (await compileGraph(matmulGraph, { ...relaxedOpts, maxBatch: 512 })).wasm,
  lstm: (await compileGraph(lstmGraph, relaxedOpts)).wasm,
  tfm: (await compileGraph(tfmGraph, relaxedOpts)).wasm,
};

// 3. Workloads, each round-robin over its systems.
label("load the one-thread workloads' models");
await initTf();
models = {
  cnn: await loadModel(cold.trainWasm), cnn2: await loadModel(cnnThreaded.wasm, { threads: 2 }), cnnGraph,
  mlp: await loadModel(mlpBuilt.wasm), mlp2: await loadModel(mlpThreaded.wasm, { threads: 2 }), mlpGraph,
  mm: await loadModel(mmBuilt.wasm), mmGraph: matmulGraph,
  lstm: await loadModel(lstmWasm), lstmGraph,
  tfm: await loadModel(tfmWasm), tfmGraph,
  relaxed: Object.fromEntries(await Promise.all(Object.entries(relaxedWasm).map(async ([k, wasm]) => [k, await loadModel(wasm)]))),
  quick,
};
// Start-up first, while this process is still small: measured after the workloads, from a process
// holding every model, TF.js and ORT-web, kiln's child printed after ~320 ms against ~200 ms when
// started alone (a heavy parent spawns more slowly: +17 ms with 2 GB of touched wasm memory).
log("process start → first prediction…");
startup = await measureStartup({ model: models.cnn, graph: cnnGraph, inferWasm: cold.inferWasm, dir: tmp, rounds: settings.startupRounds });
// The same in Chromium (lib/browser-startup.js): navigation → first prediction, cold page loads; a
// browser that cannot start fails the bench here, with what to install.
log("browser start-up (Chromium, cold page loads)…");
browserStart = await browserStartup({ rounds: settings.browserRounds, quick, log });
}

// The physical ceiling (lib/ceiling.js): 4 lanes × multiply-adds per cycle × 2 FLOP × the clock,
// measured by a dependent integer-add chain here and again in every FLOP-counted workload's rounds.
const pipes = fpPipes();
const clock = await clockProbe(quick ? 2e6 : 1e7);
const mhz = cpuinfoMHz();
log(`clock probe (dependent i32.add chain): ${clock.calibration.cpuGHz.toFixed(2)} GHz CPU time, ${clock.calibration.wallGHz.toFixed(2)} GHz wall clock; /proc/cpuinfo: ${mhz ? mhz.map((m) => m.toFixed(0)).join(", ") + " MHz" : "n/a"}`);
log(`FP pipes: ${pipes.why} → ${flopsPerCycle(pipes, "plain")} FLOP/cycle plain, ${flopsPerCycle(pipes, "relaxed")} relaxed; ceiling ${(flopsPerCycle(pipes, "plain") * clock.calibration.cpuGHz).toFixed(1)} GFLOP/s (plain)`);

// The machine's own two-thread scaling (lib/peak2.js): the peak probe's register-only loop on one
// thread and on two at once, in the rounds of every row with a 2-thread system. Two vCPUs of this
// VM do not always give two cores' worth (the host may run them on one core's two hardware threads,
// or next to a busy neighbour); a two-thread figure means little without it.
const threadProbe = await peakProbe(compileAssemblyScript, quick ? 2e7 : 1e8);
const threadProbe2 = await twoThreadPeak(threadProbe);
const MACHINE = { one: "peak loop, 1 thread", two: "peak loop, 2 threads" };

// Issue 19's real-size models: built in TF.js layers, imported into kiln, compiled (lib/real.js).
label("prepare the real-size models");
await initTf();
const real = await prepareRealModels({ opts, quick, log, relaxed: relaxedHost.validates, keys: realSubset });
const deep = realSubset ? undefined : coldCompileDeep(log);
const realMemory = await memoryAndStartup(real, { rounds: settings.startupRounds, log });

const measured = [];
for (const w of [...(onlyReal ? [] : workloads(models)), ...realWorkloads(real, { quick })]) {
  log(`${w.title}: setting up ${w.systems.map((s) => s.name).join(", ")}…`);
  const rowStarted = performance.now();
  const ready = [], out = [];
  for (const s of w.systems) {
    label(`${w.id}: ${s.name} setup`);
    try {
      const r = await s.setup();
      const instances = await moreInstances(r, s.name);
      ready.push({ ...r, name: s.name, instances });
      // The check's difference: the largest over the instances (each was checked alike).
      const diffs = instances.map((i) => i.diff).filter((d) => d !== undefined);
      out.push({ name: s.name, note: r.note, checkDiff: diffs.length ? Math.max(...diffs) : undefined });
    } catch (e) {
      out.push(e instanceof Skip ? { name: s.name, skip: e.message } : { name: s.name, error: e.message.split("\n")[0] });
      if (!(e instanceof Skip)) log(`  ${s.name}: ${e.message.split("\n")[0]}`);
    }
  }
  // The peak probes ride along where kiln is reported as a fraction of them: same load, same rounds.
  if (w.flops && peak) ready.push({ name: "peak", step: peak.step });
  if (w.flops && relaxedPeak) ready.push({ name: "relaxed peak", step: relaxedPeak.step });
  // The clock probe too: every FLOP-counted workload is shown as a share of the ceiling at the clock of its own rounds.
  if (w.flops) ready.push({ name: "clock", step: clock.step });
  if (ready.some((s) => s.name === THREADED.kiln)) ready.push({ name: MACHINE.one, step: threadProbe.step }, { name: MACHINE.two, step: threadProbe2.step });
  const setupSeconds = (performance.now() - rowStarted) / 1000;
  const times = await roundRobin(ready, { ...settings, onProgress: (r, n) => log(`  round ${r}/${n}`) });
  const timedSeconds = (performance.now() - rowStarted) / 1000 - setupSeconds;
  log(`  ${w.id}: set-up ${setupSeconds.toFixed(1)} s (${settings.instances} instance(s) per system), warm-up and rounds ${timedSeconds.toFixed(1)} s`);
  // Awaited: ORT-web's 2-thread session is a worker (and its thread pool) that ends only when its
  // release is answered, which needs this event loop to turn; not awaited, it outlived its row into
  // the next ones, whose steps rarely yield (seen with BENCH_TASK_CPU, 2026-12-07).
  for (const s of ready) for (const instance of s.instances ?? [s]) await instance.dispose?.();
  // Seconds the row took (set-up and checks of every instance; warm-up and rounds): what BENCH_INSTANCES costs.
  const entry = { id: w.id, title: w.title, unit: w.unit, flops: w.flops, systems: out, seconds: { setup: setupSeconds, timed: timedSeconds } };
  ready.forEach((s, i) => {
    const t = times[i];
    if (s.name === "clock") {
      entry.clock = { wallGHz: clock.adds / t.wallMs / 1e6, cpuGHz: clock.adds / t.cpuMs / 1e6 };
      return;
    }
    if (s.name === MACHINE.one || s.name === MACHINE.two) {
      const one = times[ready.findIndex((x) => x.name === MACHINE.one)], two = times[ready.findIndex((x) => x.name === MACHINE.two)];
      // Work per wall second on two threads over one thread's (2.00 = two full cores); CPU per loop, two threads over one.
      entry.machineThreads = { wall: (2 * one.wallMs) / two.wallMs, cpu: two.cpuMs / (2 * one.cpuMs) };
      return;
    }
    if (s.name === "peak" || s.name === "relaxed peak") {
      const p = s.name === "peak" ? peak : relaxedPeak;
      entry[s.name === "peak" ? "peak" : "relaxedPeak"] = { wallGflops: p.flops / t.wallMs / 1e6, cpuGflops: p.flops / t.cpuMs / 1e6 };
      return;
    }
    // Per instance: its median (ms per iteration and the row's figure) and blocks; the spread is the slowest instance's median over the fastest's.
    const perInstance = t.perInstance.map((p) => ({ ...p, figure: { wallMs: w.value(p.wallMs), cpuMs: w.value(p.cpuMs) } }));
    Object.assign(out.find((o) => o.name === s.name), { wallMs: t.wallMs, cpuMs: t.cpuMs, rounds: t.rounds, itersPerRound: t.itersPerRound, figure: { wallMs: w.value(t.wallMs), cpuMs: w.value(t.cpuMs) }, instances: t.instances, perInstance, instanceSpread: t.spread });
  });
  if (entry.clock) shareOfCeiling(entry, out);
  // The old method, kept for one release: each kiln build against the probe loop of its own instruction set.
  Object.assign(entry, peakShare(w, out.find((o) => o.name === "kiln"), entry.peak, "kilnGflops", "peakFraction"));
  Object.assign(entry, peakShare(w, out.find((o) => o.name === RELAXED), entry.relaxedPeak, "relaxedGflops", "relaxedPeakFraction"));
  measured.push(entry);
}

await threadProbe2.dispose();
// 4. Process start → first prediction (child processes: measured before the workloads, above), then sizes.
disposeRealModels(real); // the threaded ones' worker threads would keep the process alive
rmSync(tmp, { recursive: true, force: true });
const ceilingResults = () => ({
  formula: "4 f32 lanes × f32x4 multiply-adds per cycle × 2 FLOP per multiply-add × clock",
  pipes, flopsPerCycle: { plain: flopsPerCycle(pipes, "plain"), relaxed: flopsPerCycle(pipes, "relaxed") },
  clock: { probe: "dependent i32.add chain (1 add per cycle)", calibration: clock.calibration, cpuinfoMHz: mhz, maxWallGHz: Math.max(...measured.filter((w) => w.clock).map((w) => w.clock.wallGHz)), maxCpuGHz: Math.max(...measured.filter((w) => w.clock).map((w) => w.clock.cpuGHz)) },
});
const realResults = { compile: Object.values(real).map((r) => r.compileRow), deep, memory: realMemory };
if (onlyReal) {
  const results = { machine: { ...machine, loadavgEnd: loadavg() }, settings, ceiling: ceilingResults(), workloads: measured, real: realResults, totalSeconds: (performance.now() - started) / 1000 };
  results.targets = evaluateRealTargets(results);
  if (realSubset) results.machine.realModels = realSubset;
  const stem = quick ? "quick-real" : realSubset ? "real-models.subset" : "real-models";
  writeResults(results, renderRealReport(results), quick || realSubset || process.env.BENCH_ROUNDS ? [`bench/results/${stem}.json.tmp`, `bench/results/${stem}.md.tmp`] : [`bench/results/${stem}.json`, `bench/results/${stem}.md`]);
  process.exit(0);
}
models.cnn2.dispose(); // its worker thread would keep the process alive
models.mlp2.dispose();
measured.push(startup);
const shipped = { kilnRuntime: kilnRuntimeSize(), kilnModule: sizes(cold.inferWasm), peers: peerSizes() };

const peaks = measured.filter((w) => w.peak).map((w) => w.peak);
const relaxedPeaks = measured.filter((w) => w.relaxedPeak).map((w) => w.relaxedPeak);
const results = {
  machine: { ...machine, loadavgEnd: loadavg() },
  settings,
  wasmSimdPeak: peakSummary(peak, peaks),
  relaxedSimdPeak: relaxedPeak && peakSummary(relaxedPeak, relaxedPeaks),
  ceiling: ceilingResults(),
  workloads: measured,
  real: realResults,
  compile: { examples, threaded: { cnnTrain: { compileMs: cnnThreaded.compileMs, bytes: cnnThreaded.bytes, gzipBytes: cnnThreaded.gzipBytes }, mlp: { compileMs: mlpThreaded.compileMs, bytes: mlpThreaded.bytes, gzipBytes: mlpThreaded.gzipBytes } }, cold: { importMs: cold.importMs, trainMs: cold.trainMs, inferMs: cold.inferMs, ...prefixed("train", sizes(cold.trainWasm)), ...prefixed("infer", sizes(cold.inferWasm)) } },
  shipped,
  browserStartup: browserStart,
  totalSeconds: (performance.now() - started) / 1000,
};
results.targets = [...evaluateTargets(results), ...evaluateRealTargets(results)];

// 5. Print and write.
// A quick smoke run must not replace a real run's results: it writes git-ignored *.tmp files.
// So must a run with BENCH_ROUNDS (a probe of the full run's order, not a measurement of record).
const probe = quick || !!process.env.BENCH_ROUNDS;
writeResults(results, renderReport(results), probe ? [`bench/results/${quick ? "quick" : "rounds"}.json.tmp`, `bench/results/${quick ? "quick" : "rounds"}.md.tmp`] : ["bench/results/latest.json", "bench/results/README-table.md"]);

/**
 * A set-up system and, where it can make them (`another`), its other instances up to
 * settings.instances, each checked by its own `another()`; one that fails disposes the ones made
 * and fails the system (its error is the table entry).
 */
async function moreInstances(first, name) {
  const instances = [first];
  if (!first.another) return instances;
  const t = performance.now();
  try {
    while (instances.length < settings.instances) {
      label(`${name} instance ${instances.length + 1} setup`);
      instances.push(await first.another());
    }
    log(`  ${name}: ${instances.length - 1} more instance(s) set up and checked in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  } catch (e) {
    for (const i of instances) await i.dispose?.();
    throw e;
  }
  return instances;
}

/** Prints the report and writes the results JSON and the markdown. */
function writeResults(results, text, [jsonOut, mdOut]) {
  console.log("\n" + text);
  mkdirSync(ROOT + "bench/results", { recursive: true });
  writeFileSync(ROOT + jsonOut, JSON.stringify(results, null, 2) + "\n");
  writeFileSync(ROOT + mdOut, text + "\n");
  log(`wrote ${jsonOut} and ${mdOut}`);
}

/**
 * Every measured system's FLOP/s and its share of the physical ceiling at the clock measured in
 * the workload's own rounds (wall-clock figures against the wall-clock clock, CPU time against CPU
 * time). kiln's relaxed build is held to the relaxed ceiling (FMA pipes), everything else to the
 * plain one (the peers' binaries have no relaxed SIMD); a 2-thread system's wall-clock figure to
 * two cores' ceiling (its CPU time already counts both threads).
 */
function shareOfCeiling(entry, systems) {
  const perCycle = { plain: flopsPerCycle(pipes, "plain"), relaxed: flopsPerCycle(pipes, "relaxed") };
  entry.ceiling = Object.fromEntries(Object.entries(perCycle).map(([build, f]) => [build, { wallGflops: f * entry.clock.wallGHz, cpuGflops: f * entry.clock.cpuGHz }]));
  for (const s of systems) {
    if (!s.wallMs) continue;
    const ceiling = entry.ceiling[s.name === RELAXED ? "relaxed" : "plain"];
    const cores = s.name === THREADED.kiln || s.name === THREADED.ort ? 2 : 1;
    s.gflops = { wallMs: entry.flops / s.wallMs / 1e6, cpuMs: entry.flops / s.cpuMs / 1e6 };
    s.ceilingShare = { wallMs: s.gflops.wallMs / (ceiling.wallGflops * cores), cpuMs: s.gflops.cpuMs / ceiling.cpuGflops };
  }
}

/** A kiln system's FLOP/s (`gflopsKey`) and its share of `peak` (`fractionKey`), when both were measured. */
function peakShare(w, kiln, peak, gflopsKey, fractionKey) {
  if (!w.flops || !peak || !kiln?.wallMs) return {};
  const gflops = { wallMs: w.flops / kiln.wallMs / 1e6, cpuMs: w.flops / kiln.cpuMs / 1e6 };
  return { [gflopsKey]: gflops, [fractionKey]: { wallMs: gflops.wallMs / peak.wallGflops, cpuMs: gflops.cpuMs / peak.cpuGflops } };
}

/** One probe's calibration and the best figures it reached in the workloads' rounds. */
function peakSummary(probe, perWorkload) {
  return { set: probe.set, variant: probe.variant, calibration: probe.calibration, wallGflops: Math.max(...perWorkload.map((p) => p.wallGflops)), cpuGflops: Math.max(...perWorkload.map((p) => p.cpuGflops)), perWorkload };
}

function prefixed(p, o) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [p + k[0].toUpperCase() + k.slice(1), v]));
}
