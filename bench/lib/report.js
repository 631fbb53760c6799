/**
 * Turns measured results into the printed tables and the README section (markdown). Figures come
 * from per-iteration medians; kiln's ratio to a peer is always "how many times faster" (the peer's
 * time over kiln's at the same work), so > 1 means kiln is ahead for samples/s, ms and GFLOP/s alike.
 */
export const PEERS = ["tfjs-wasm", "tfjs-wasm (patched)", "tfjs-wasm (patched, conv)", "tfjs-cpu", "ort-web", "ort-node"];
/** kiln's relaxed-SIMD build (`compile(graph, { relaxedSimd: true })`) as a benchmark system. */
export const RELAXED = "kiln (relaxed SIMD)";

/**
 * The kiln builds of the main table, each with its ratio columns and its share of the peak of its
 * own instruction set. The relaxed build's columns appear only when a run measured (or skipped) it,
 * so results from before it existed render as they did.
 */
const BUILDS = [
  { name: "kiln", label: "kiln", fraction: "peakFraction", peakHead: "kiln % of probe (old method)", ceilingHead: "kiln % of ceiling" },
  { name: RELAXED, label: "kiln relaxed", fraction: "relaxedPeakFraction", peakHead: "kiln relaxed % of relaxed probe (old method)", ceilingHead: "kiln relaxed % of relaxed ceiling" },
];
const hasCeiling = (results) => !!results.ceiling;
const hasSystem = (results, name) => results.workloads.some((w) => w.systems.some((s) => s.name === name));

const fmt = (v, unit) => {
  if (v === undefined || v === null || !Number.isFinite(v)) return "—";
  if (unit === "ms") return v < 10 ? v.toFixed(3) : v.toFixed(1);
  if (unit === "GFLOP/s") return v.toFixed(1);
  return v >= 100 ? String(Math.round(v)) : v.toFixed(1);
};
const kb = (b) => `${(b / 1024).toFixed(1)} KB`;
const mb = (b) => (b >= 1e6 ? `${(b / 1048576).toFixed(2)} MB` : kb(b));

/** Markdown table of every workload for one clock ("wallMs" or "cpuMs"); errors become footnotes. */
export function mainTable(results, clock, notes) {
  const builds = BUILDS.filter((b) => b.name === "kiln" || hasSystem(results, b.name));
  const relaxedHead = builds.length > 1 ? ["kiln relaxed ÷ kiln"] : [];
  // Runs from before the physical ceiling (2026-12-07) have only the probe columns.
  const ceilingHeads = hasCeiling(results) ? builds.map((b) => b.ceilingHead) : [];
  const head = ["workload", "unit", ...builds.map((b) => b.name), ...PEERS, ...relaxedHead, ...builds.flatMap((b) => PEERS.map((p) => `${b.label} ÷ ${p}`)), ...ceilingHeads, ...builds.map((b) => b.peakHead)];
  const rows = results.workloads.map((w) => {
    const by = Object.fromEntries(w.systems.map((s) => [s.name, s]));
    const cell = (s) => {
      if (!s) return "";
      if (s.error) return `✗ [${note(notes, `${w.id}, ${s.name}: ${s.error}`)}]`;
      if (s.skip) return "—";
      const v = fmt(s.figure?.[clock], w.unit);
      return s.note ? `${v} [${note(notes, `${w.id}, ${s.name}: ${s.note}`)}]` : v;
    };
    // How many times faster `fast` is than `slow` (time over time, so > 1 means `fast` is ahead).
    const ratio = (fast, slow) => (fast?.[clock] && slow?.[clock] ? `${(slow[clock] / fast[clock]).toFixed(2)}×` : "");
    const peak = (b) => (w[b.fraction]?.[clock] !== undefined ? `${(w[b.fraction][clock] * 100).toFixed(0)}%` : "");
    const ceiling = (b) => share(by[b.name]?.ceilingShare?.[clock]);
    const relaxedRatio = builds.length > 1 ? [ratio(by[RELAXED], by.kiln)] : [];
    const ceilings = hasCeiling(results) ? builds.map(ceiling) : [];
    return [w.title, w.unit, ...builds.map((b) => cell(by[b.name])), ...PEERS.map((p) => cell(by[p])), ...relaxedRatio, ...builds.flatMap((b) => PEERS.map((p) => ratio(by[b.name], by[p]))), ...ceilings, ...builds.map(peak)];
  });
  return markdown(head, rows);
}

/**
 * Issue 19's bench method: per workload and system, the slowest instance's median over the
 * fastest's (CPU time, then wall clock) and the instance count; "" where a system had one instance.
 * Empty for results from before instances (every system had one).
 */
export function instanceSpreadTable(results) {
  const systems = [...new Set(results.workloads.flatMap((w) => w.systems.filter((s) => s.instances > 1).map((s) => s.name)))];
  if (!systems.length) return "";
  const rows = results.workloads.filter((w) => w.systems.some((s) => s.instances > 1)).map((w) => {
    const by = Object.fromEntries(w.systems.map((s) => [s.name, s]));
    // A budget-capped system may have timed fewer instances than it made; with one, there is no spread to show.
    const cell = (s) => (!(s?.instances > 1) ? "" : s.perInstance.length < 2 ? `— (1)` : `${s.instanceSpread.cpuMs.toFixed(2)}× / ${s.instanceSpread.wallMs.toFixed(2)}× (${s.perInstance.length})`);
    return [w.title, ...systems.map((n) => cell(by[n]))];
  });
  return markdown(["workload", ...systems.map((n) => `${n}: CPU / wall (instances)`)], rows);
}

/** The paragraph above the instance-spread table. */
function instanceSpreadText(results) {
  const table = instanceSpreadTable(results);
  if (!table) return [];
  return [`\n### Instance spread (issue 19, bench method)\n\nEvery system that can cheaply make another instance of itself ran ${results.settings.instances} of them in each row (kiln: its module loaded again, a wasm memory of its own; TF.js wasm: another model on the one wasm backend; ORT-web: another session, on 2 threads another worker with its own ORT-web; see bench/README.md), the rounds taking them in turn; every figure above is the median over all instances' blocks. Here, per system, the slowest instance's median over the fastest's (CPU time / wall clock; in parentheses the instances timed, fewer where the time budget capped a slow system's rounds): 1.00× means the instances ran alike.\n\n${table}`];
}

/** A share of the ceiling as a percentage ("" when not measured). */
function share(v) {
  return v === undefined || !Number.isFinite(v) ? "" : `${(v * 100).toFixed(v < 0.1 ? 1 : 0)}%`;
}

/**
 * Every FLOP-counted workload as a share of the physical ceiling, for every system measured
 * (wall clock): the clock measured in that workload's rounds, the ceiling it gives, and each
 * system's GFLOP/s with its share.
 */
export function ceilingTable(results) {
  const rows = results.workloads.filter((w) => w.ceiling);
  const systems = [...new Set(rows.flatMap((w) => w.systems.filter((s) => s.gflops).map((s) => s.name)))];
  const body = rows.map((w) => {
    const by = Object.fromEntries(w.systems.map((s) => [s.name, s]));
    const cells = systems.map((n) => (by[n]?.gflops ? `${by[n].gflops.wallMs.toFixed(1)} (${share(by[n].ceilingShare.wallMs)})` : ""));
    return [w.title, `${w.clock.wallGHz.toFixed(2)} GHz`, w.ceiling.plain.wallGflops.toFixed(1), w.ceiling.relaxed.wallGflops.toFixed(1), `${(w.flops / 1e6).toFixed(2)}`, ...cells];
  });
  return markdown(["workload", "clock in its rounds (wall)", "ceiling, plain (GFLOP/s)", "ceiling, relaxed (GFLOP/s)", "MFLOP per iteration", ...systems.map((n) => `${n}: GFLOP/s (% of ceiling)`)], body);
}

/** The paragraph that says how the ceiling was computed, with this run's clock and pipes. */
function ceilingText(results) {
  const c = results.ceiling;
  if (!c) return "";
  const cal = c.clock.calibration;
  const mhz = c.clock.cpuinfoMHz ? `/proc/cpuinfo's "cpu MHz" reads ${[...new Set(c.clock.cpuinfoMHz.map((m) => m.toFixed(0)))].join(", ")} (the VM's nominal frequency, not the boost clock)` : "no /proc/cpuinfo to compare with";
  return ` **Physical ceiling** (since 2026-12-07; lib/ceiling.js): one core's f32x4 ceiling = 4 lanes × f32x4 multiply-adds per cycle × 2 FLOP per multiply-add (1 multiply + 1 add, fused or not) × the clock. Multiply-adds per cycle: ${c.pipes.why}; so ${c.flopsPerCycle.plain} FLOP/cycle for the plain build (no FMA in wasm without relaxed SIMD: a multiply-add is an f32x4.mul plus an f32x4.add) and ${c.flopsPerCycle.relaxed} for the relaxed build (f32x4.relaxed_madd is one FMA). The clock is measured in this run by a wasm loop of dependent i32.add instructions (latency 1 cycle: one add per cycle): ${cal.cpuGHz.toFixed(2)} GHz in CPU time at the start (${cal.wallGHz.toFixed(2)} wall clock), so a ceiling of ${(c.flopsPerCycle.plain * cal.cpuGHz).toFixed(1)} GFLOP/s; ${mhz}. The clock probe also runs in the rounds of every FLOP-counted workload, and each "% of ceiling" is against the clock measured there (wall clock against wall clock, CPU time against CPU time; 2-thread systems' wall-clock figures against two cores). Conv FLOPs count the direct algorithm, so rows where kiln uses Winograd (seed CNN) can pass 100%: there the share is of nominal work. The "% of probe (old method)" columns are the earlier measure (kiln's FLOP/s over the fastest mul+add probe loop), wrong as a ceiling — kiln's matmul reached 104% of it on 2026-12-02 — and shown beside the new one for this release only.`;
}

function note(notes, text) {
  const at = notes.indexOf(text);
  if (at >= 0) return at + 1;
  notes.push(text);
  return notes.length;
}

export function markdown(head, rows) {
  const line = (cells) => `| ${cells.join(" | ")} |`;
  return [line(head), line(head.map(() => "---")), ...rows.map(line)].join("\n");
}

/** Compile time and size of each example graph (and the seed CNN cold compile). */
export function compileTable(results) {
  const rows = results.compile.examples.map(compileRow);
  const c = results.compile.cold;
  if (c) {
    rows.push(["seed CNN training module, cold (fresh process)", `${(c.trainMs / 1000).toFixed(2)} s (+ ${(c.importMs / 1000).toFixed(2)} s compiler import)`, kb(c.trainBytes), kb(c.trainGzipBytes), "", "", ""]);
    rows.push(["seed CNN inference-only module", `${(c.inferMs / 1000).toFixed(2)} s`, kb(c.inferBytes), kb(c.inferGzipBytes), "", "", ""]);
  }
  return markdown(compileHead(results.settings.optimizeLevel), rows);
}

export const compileHead = (optimizeLevel) => ["graph (maxBatch 64, -O" + optimizeLevel + ")", "compile", "module", "gzip", "parameters", "AssemblyScript source", "kernels"];

/** One graph's compile-table cells (results files from before the parameters, source and kernels columns have none). */
export function compileRow(e) {
  if (e.error) return [e.name, `✗ ${e.error}`, "", "", "", "", ""];
  return [e.name, `${(e.compileMs / 1000).toFixed(2)} s`, kb(e.bytes), kb(e.gzipBytes), e.params === undefined ? "" : e.params.toLocaleString("en-US"), e.sourceBytes === undefined ? "" : kb(e.sourceBytes), e.kernels === undefined ? "" : String(e.kernels)];
}

/** What an app ships: kiln runtime + module vs the peers' package files. */
export function shippedTable(results) {
  const s = results.shipped;
  const rows = [
    ["kiln runtime (minified)", mb(s.kilnRuntime.bytes), mb(s.kilnRuntime.gzipBytes)],
    ["kiln seed CNN inference .wasm", mb(s.kilnModule.bytes), mb(s.kilnModule.gzipBytes)],
    ["**kiln total (seed CNN app)**", mb(s.kilnRuntime.bytes + s.kilnModule.bytes), mb(s.kilnRuntime.gzipBytes + s.kilnModule.gzipBytes)],
    ...Object.entries(s.peers).map(([name, p]) => [`**${name}** (${p.files.map((f) => f.file.split("/").pop()).join(" + ")}; model weights extra)`, mb(p.bytes), mb(p.gzipBytes)]),
  ];
  return markdown(["what ships", "raw", "gzip -9"], rows);
}

const T2 = { kiln: "kiln (2 threads)", ort: "ort-web (2 threads)" };

/**
 * Issue 8's table: kiln and ORT-web on 1 and 2 threads, measured in the same round-robin rounds.
 * Speedups are wall-clock (1-thread time over 2-thread time); CPU time counts both threads, so its
 * 2 ÷ 1 ratio shows the extra CPU the second thread costs (its share of the work plus barrier waits).
 * "The machine" is the peak probe's register-only loop on 1 and 2 threads in the same rounds
 * (lib/peak2.js): the two-thread scaling the vCPUs gave then (an indicator, not an exact bound).
 */
export function threadsTable(results, notes) {
  const rows = results.workloads.filter((w) => w.systems.some((s) => s.name === T2.kiln)).map((w) => {
    const by = Object.fromEntries(w.systems.map((s) => [s.name, s]));
    const cell = (s) => {
      if (!s) return "";
      if (s.error) return `✗ [${note(notes, `${w.id}, ${s.name}: ${s.error}`)}]`;
      return fmt(s.figure?.wallMs, w.unit);
    };
    const speedup = (one, two, clock = "wallMs") => (one?.[clock] && two?.[clock] ? `${(one[clock] / two[clock]).toFixed(2)}×` : "");
    const cpuRatio = by.kiln?.cpuMs && by[T2.kiln]?.cpuMs ? `${(by[T2.kiln].cpuMs / by.kiln.cpuMs).toFixed(2)}×` : "";
    const ort = by["ort-web"] ? [cell(by["ort-web"]), cell(by[T2.ort]), speedup(by["ort-web"], by[T2.ort]), speedup(by[T2.ort], by[T2.kiln])] : ["—", "—", "", ""];
    const m = w.machineThreads;
    return [w.title, w.unit, cell(by.kiln), cell(by[T2.kiln]), (speedup(by.kiln, by[T2.kiln]) && `**${speedup(by.kiln, by[T2.kiln])}**`), cpuRatio, m ? `${m.wall.toFixed(2)}× (CPU per loop ${m.cpu.toFixed(2)}×)` : "—", ...ort, "no threads in Node"];
  });
  return markdown(["workload", "unit", "kiln, 1 thread", "kiln, 2 threads", "kiln 2 ÷ 1 threads (wall)", "kiln CPU time 2 ÷ 1 threads", "the machine: peak loop 2 ÷ 1 threads, same rounds", "ort-web, 1 thread", "ort-web, 2 threads", "ort-web 2 ÷ 1 threads", "kiln ÷ ort-web, both 2 threads", "tfjs-wasm, 2 threads"], rows);
}

/**
 * The issue's targets, each with where kiln stands (wall-clock and CPU-time figures); with the
 * relaxed-SIMD build's own columns when the run measured it.
 */
export function targetsTable(results) {
  if (!results.targets.some((t) => t.relaxed)) {
    return markdown(["target", "measured (wall)", "measured (CPU time)", "met?"], results.targets.map((t) => [t.target, t.wall, t.cpu, t.met]));
  }
  const head = ["target", "kiln, plain SIMD (wall)", "(CPU time)", "met?", "kiln, relaxed SIMD (wall)", "(CPU time)", "met?"];
  return markdown(head, results.targets.map((t) => [t.target, t.wall, t.cpu, t.met, t.relaxed?.wall ?? "", t.relaxed?.cpu ?? "", t.relaxed?.met ?? ""]));
}

/**
 * What the report says about kiln's relaxed-SIMD build: how it was built, loaded and checked, and
 * its peak; or why it is missing. Empty for results from before the bench measured it.
 */
function relaxedText(results) {
  const host = results.machine.relaxedSimd;
  if (!host) return "";
  if (!host.validates) return ` "${RELAXED}" was not measured: this host does not validate relaxed SIMD (Node 20 needs \`--experimental-wasm-relaxed-simd\`).`;
  const p = results.relaxedSimdPeak;
  const old = results.ceiling ? "probe (old method)" : "peak";
  const peak = p ? ` The relaxed-SIMD ${results.ceiling ? "probe" : "peak"} (the same three loops with \`f32x4.relaxed_madd\` — here the ${p.variant}): up to ${p.wallGflops.toFixed(1)} GFLOP/s wall clock, ${p.cpuGflops.toFixed(1)} in CPU time; "kiln relaxed % of relaxed ${old}" is against it.` : "";
  return ` "${RELAXED}" is the same graph compiled with \`compile(graph, { relaxedSimd: true })\` (\`f32x4.relaxed_madd\`), loaded where the host validates relaxed SIMD — Chrome 114+ and Node 22+ by default, Node ${results.machine.node} ${host.flag ? `with \`${host.flag}\`, which bench/run.js passes` : "by default"} — and checked to run the relaxed build (its manifest) and to match plain kiln's outputs (or first two losses) within 1e-3 before it was timed, in the same rounds; "kiln relaxed ÷ kiln" is how many times faster it is than the plain build.${peak} The peers' wasm binaries contain no relaxed-SIMD instructions (bench/README.md), so the flag changes nothing they run.`;
}

/** Issue 19's compile rows: the real-size models (warm compiler, as the bench builds them) and the 300-layer cold compile. */
export function realCompileTable(results) {
  const { compile, deep } = results.real;
  const rows = compile.map((e) => [e.name, String(e.layers), `${(e.compileMs / 1000).toFixed(2)} s`, mb(e.bytes), mb(e.gzipBytes), mb(e.sourceBytes), String(e.kernels), e.params.toLocaleString("en-US"), `${(e.importMs / 1000).toFixed(2)} s`]);
  if (deep) rows.push(deep.error ? [deep.name, String(deep.layers), `✗ ${deep.error}`, "", "", "", "", "", ""]
    : [deep.name, String(deep.layers), `${(deep.compileMs / 1000).toFixed(2)} s (+ ${(deep.importMs / 1000).toFixed(2)} s compiler import)`, mb(deep.bytes), mb(deep.gzipBytes), mb(deep.sourceBytes), String(deep.kernels), "", ""]);
  return markdown(["graph", "layers", "compile", "module (no weights)", "gzip", "AssemblyScript source", "kernels", "parameters", "importModel"], rows);
}

/** Issue 19 item 5: kiln's wasm memory per model and bytes → first prediction for every system. */
export function realMemoryTable(results) {
  const rows = results.real.memory.map((m) => [m.title, String(m.maxBatch), mb(m.memoryBytes), mb(m.weightsBytes), mb(m.arenaBytes), mb(m.moduleBytes), ...["kiln", "tfjs-wasm", "ort-web"].map((k) => `${m.firstPredictionMs[k].toFixed(0)} ms`)]);
  return markdown(["model", "kiln maxBatch", "kiln wasm memory", "of which weights", "activation arena", "kiln module", "kiln: bytes → first prediction", "tfjs-wasm", "ort-web"], rows);
}

/**
 * Issue 19 item 5 in the browser (lib/browser-startup.js): per model and system, navigation start
 * → first prediction (cold page loads, medians), the part after the page's HTML arrived (without
 * the browser's new renderer, which varies most on a loaded machine) and the first predict call
 * alone (after the model was loaded), the
 * browser's CPU time for the load, the wasm memory the page holds after it, and the bytes it
 * downloaded; "this ÷ kiln" is the system's time over kiln's with compileStreaming.
 */
export function browserStartupTable(bs) {
  const ratio = (s, kiln, key) => (kiln?.[key] && s[key] !== undefined ? `${(s[key] / kiln[key]).toFixed(2)}×` : "—");
  const rows = bs.rows.flatMap((m) => {
    const kiln = m.systems.find((s) => s.name === "kiln (compileStreaming)");
    return m.systems.map((s) => s.error
      ? [m.title, s.name, `✗ ${s.error}`, "", "", "", "", "", "", "", ""]
      : [m.title, s.name, `${s.firstPredictionMs.toFixed(0)} ms`, `${s.htmlToPredictionMs.toFixed(0)} ms`, `${s.predictMs.toFixed(0)} ms`, ratio(s, kiln, "firstPredictionMs"), s.cpuMs === undefined ? "—" : `${s.cpuMs.toFixed(0)} ms`, ratio(s, kiln, "cpuMs"), mb(s.memoryBytes), mb(s.downloadedBytes), String(s.rounds)]);
  });
  return markdown(["model", "system", "navigation → first prediction", "of which HTML received → first prediction", "of which the first predict", "this ÷ kiln (compileStreaming)", "Chromium CPU time", "this ÷ kiln (compileStreaming), CPU", "wasm memory after it", "downloaded", "loads"], rows);
}

/** The browser start-up section's text (full report and `node bench/browser-startup.mjs`). */
export function browserStartupText(bs) {
  const load = `load average ${bs.loadavgStart[0].toFixed(1)} at its start, ${bs.loadavgEnd[0].toFixed(1)} at its end`;
  return `\n### Browser start-up (issue 19, item 5)\n\nChromium ${bs.chromium.version} (${bs.chromium.source}, headless, driven by playwright-core), ${load}. Each figure is the median of ${bs.rounds} cold page loads after an untimed warm-up round (a new browser context each: empty HTTP cache and no wasm code cache; cache disabled over CDP; the local server sends \`no-store\`), round-robin over the systems (the order rotating by one page each round)${bs.mbps ? `; every download over an emulated ${bs.mbps} Mbit/s link (CDP Network.emulateNetworkConditions)` : ""}; the time is the page's \`performance.now()\` after its first batch-1 output was read (its origin is the navigation's start), so it counts the new renderer, the HTML, the scripts, the runtime or library, the model bytes from 127.0.0.1, compiling, weights and the prediction; "HTML received →" starts at the page's \`responseEnd\` instead, which leaves out the renderer's start, the part a loaded machine varies most. kiln loads a module with its weights embedded through \`kiln/runtime/predict\` (bundled and minified by esbuild, as an app ships it): from its URL (served as application/wasm: the runtime calls \`WebAssembly.compileStreaming\`; checked on every load) or from the whole ArrayBuffer (\`WebAssembly.compile\`); TF.js 4.22 wasm (SIMD, one thread) loads model.json + one weights shard; ORT-web's wasm build (one thread) the ONNX file written from kiln's graph. Every page's output matched kiln's in Node within 1e-3. CPU time: what every Chromium process (browser, network service, the page's renderer with its compile threads) spent from the navigation to the result (CDP \`SystemInfo.getProcessInfo\` before and after), which unlike wall time does not count waiting for a core.${bs.blank ? ` A blank page (one module script that only reports) takes ${bs.blank.firstPredictionMs.toFixed(0)} ms and ${bs.blank.cpuMs.toFixed(0)} ms of CPU the same way (medians of the same rounds): what any new page costs.` : ""} Wasm memory: every \`WebAssembly.Memory\` the page created or instantiated, in bytes, after the first prediction.\n\n${browserStartupTable(bs)}`;
}

/** The real-size models' sections (appended to the full report; the whole report of `--only real-models`). */
function realText(results) {
  if (!results.real) return [];
  return [
    `\n### Real-size models: compile (issue 19)\n\nEach model built once in TF.js layers with seeded weights and imported by \`importModel\`; compiled as the bench builds its modules (asc -O${results.settings.optimizeLevel}, maxBatch of its largest row; the inference rows' modules without the training section), warm compiler; the 300-layer row cold, in a fresh process, with \`compile(graph)\`'s defaults (maxBatch 64). Module sizes without weights.\n\n${realCompileTable(results)}`,
    `\n### Real-size models: memory and start-up (issue 19, item 5)\n\nkiln's wasm memory is the module's declared memory (weights + activation arena at its maxBatch + I/O); "bytes → first prediction": from the bytes in memory (kiln: module + safetensors weights; TF.js: model.json topology + weights, \`tf.loadLayersModel(tf.io.fromMemory())\`; ORT-web: the ONNX file) to the first batch-1 output, median of ${results.settings.startupRounds}, in the bench process.\n\n${realMemoryTable(results)}`,
  ];
}

/** The report of `node bench/run.js --only real-models`: issue 19's rows, their targets, compile, memory. */
export function renderRealReport(results) {
  const { machine, settings } = results;
  const notes = [];
  return [
    `## Real-size models (issue 19)\n\n\`node bench/run.js --only real-models\`${settings.quick ? " (BENCH_QUICK=1: reduced resolutions, a smoke run, not representative)" : ""}, ${machine.date.slice(0, 10)}; ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; load average ${machine.loadavgStart[0].toFixed(1)} at the start, ${machine.loadavgEnd[0].toFixed(1)} at the end. Medians of ${settings.rounds} round-robin rounds${instancesPhrase(settings)}; every peer's outputs matched kiln's within 1e-3 of the largest output (training: first two losses within 1e-3) before it was timed.${ceilingText(results)}`,
    `\n### Wall clock\n\n${mainTable(results, "wallMs", notes)}`,
    `\n### Share of the physical ceiling (wall clock, every system)\n\n${ceilingTable(results)}`,
    `\n### CPU time\n\n${mainTable(results, "cpuMs", notes)}`,
    `\n### Two threads\n\n${threadsTable(results, notes)}`,
    ...instanceSpreadText(results),
    `\n${notes.map((n, i) => `[${i + 1}] ${n}`).join("  \n")}`,
    `\n### Targets (issue 19)\n\n${targetsTable(results)}`,
    ...realText(results),
    `\nTotal time ${results.totalSeconds.toFixed(0)} s.`,
  ].join("\n");
}

/** ", over 3 instances per system taking the rounds in turn" (nothing for runs from before instances). */
function instancesPhrase(settings) {
  return settings.instances > 1 ? `, over ${settings.instances} instances per system taking the rounds in turn (the instance spread table)` : "";
}

/** The whole report (the README's Benchmarks section), from one run's results (latest.json). */
export function renderReport(results) {
  const { machine, settings } = results;
  const notes = [];
  const peak = results.wasmSimdPeak;
  return [
    `## Benchmarks\n\n\`npm run bench\`${settings.quick ? " (BENCH_QUICK=1: a smoke run, asc -O0, not representative)" : ""}, ${machine.date.slice(0, 10)}; ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; one thread everywhere except the two-thread table; load average ${machine.loadavgStart[0].toFixed(1)} at the start, ${machine.loadavgEnd[0].toFixed(1)} at the end.`,
    `Medians of ${settings.rounds} round-robin rounds after warm-up${instancesPhrase(settings)}; every peer's outputs (or first two training losses) matched kiln's within 1e-3 on the same weights before it was timed. "kiln ÷ peer" is how many times faster kiln is (> 1: kiln ahead). The wasm-SIMD ${hasCeiling(results) ? "probe (the old method)" : "peak"} (the fastest of three f32x4 mul+add loops at asc -O3 — 12 register chains, 4×2- and 6×2-vector GEMM steps from L1 — here the ${peak.variant ?? "12 register chains"}), measured in the same rounds as the workloads that report a "% of ${hasCeiling(results) ? "probe" : "peak"}": up to ${peak.wallGflops.toFixed(1)} GFLOP/s wall clock, ${peak.cpuGflops.toFixed(1)} in CPU time. "kiln % of ${hasCeiling(results) ? "probe (old method)" : "peak"}": kiln's FLOP/s over that probe; forward FLOPs counted from the layer shapes (conv 2·N·OH·OW·F·KH·KW·C, dense 2·N·in·out${hasCeiling(results) ? ", LSTM 2·T·4u·(in + u), attention projections, scores and weighted sums; a multiply-add is 2 FLOP" : ""}), training steps as 3 × forward (backward = 2 × forward, the issue's definition, although no gradient of the graph input is computed).${ceilingText(results)}${relaxedText(results)}`,
    `\n### Wall clock\n\n${mainTable(results, "wallMs", notes)}`,
    ...(hasCeiling(results) ? [`\n### Share of the physical ceiling (wall clock, every system)\n\n${ceilingTable(results)}`] : []),
    `\n### CPU time (process.cpuUsage: leaves out time spent waiting for a core on a shared machine, but counts V8's background threads — wasm tier-up compilation, GC — so short iterations can show more CPU than wall time)\n\n${mainTable(results, "cpuMs", notes)}`,
    ...(results.workloads.some((w) => w.systems.some((s) => s.name === T2.kiln)) ? [
      `\n### Two threads (issue 8)\n\nkiln's threaded build (\`compile(graph, { threads: 2 })\`, loaded with \`loadModel(wasm, { threads: 2 })\`) in the same round-robin rounds as the one-thread figures above, wall clock; before timing, its outputs (inference) or its first two losses and the weights after them (training, from the same weights and optimizer state) were checked bit-identical to kiln on one thread. ORT-web on 2 threads runs in a worker thread (\`env.wasm.numThreads\` is fixed once per realm; one message each way per run) and was checked within 1e-3 of kiln. TensorFlow.js's wasm backend turns threads off in Node. Threaded builds: seed CNN training module ${kb(results.compile.threaded?.cnnTrain?.bytes ?? 0)}, MLP ${kb(results.compile.threaded?.mlp?.bytes ?? 0)}.\n\n${threadsTable(results, notes)}`,
    ] : []),
    ...instanceSpreadText(results),
    `\n${notes.map((n, i) => `[${i + 1}] ${n}`).join("  \n")}`,
    `\n### Targets (issues 5 and 8)\n\n${results.targets.some((t) => t.relaxed) ? "Each target for kiln's plain-SIMD build and, where it applies (the one-thread workloads), for its relaxed-SIMD build (Node 20: `--experimental-wasm-relaxed-simd`); shares of the ceiling (and of the old probe) are of the build's own instruction set's.\n\n" : ""}${targetsTable(results)}`,
    `\n### Compile time and module size\n\n${compileTable(results)}`,
    `\n### What an app ships\n\n${shippedTable(results)}`,
    ...(results.browserStartup ? [browserStartupText(results.browserStartup)] : []),
    ...realText(results),
    `\nTotal bench time ${results.totalSeconds.toFixed(0)} s.`,
  ].join("\n");
}
