// Per-kernel profile of kiln's MobileNetV2 α=1.0 224×224 predict (issue 19). Not a test. Builds the
// bench's model (lib/real-models.js, same seed), imports it, compiles it as the bench does (-O0,
// maxBatch 16, plain or relaxed SIMD), then times every kernel call of `predict` on its own through
// the module's `predict_range(batch, i, i + 1)` export (the same straight-line call list `predict`
// runs), CPU time (`process.cpuUsage`: time descheduled on the shared machine does not count),
// median of the rounds. Each call reads what the previous calls wrote in the last full predict, so
// its inputs are real; it runs with its input warmer in cache than inside a full predict, so the
// per-call sum can be a little below a full predict (both are printed). Grouped by kernel kind
// (depthwise by stride, 1×1 conv by role, …) with each group's share, GFLOP/s of its multiply-adds
// and share of the physical wasm SIMD ceiling (16 FLOP/cycle × the clock measured here, see
// lib/ceiling.js). Usage:
//   npx tsc -p tsconfig.build.json && node bench/mobilenet-profile.mjs [--base <other dist>] [--ort] [--relaxed] [--batch N] [--rounds N] [--top N]
// With --base (a dist/ built from another tree: npx tsc -p tsconfig.build.json --outDir <dir>), both
// builds are compiled, checked against each other and timed in alternating rounds (A/B); with --ort,
// ONNX Runtime Web (wasm, one thread, the bench's ONNX file) joins the rounds of full predicts.
import os from "node:os";
import { mobileNetV2, randomizeWeights, tfjsFiles } from "./lib/real-models.js";
import { use } from "./lib/tfjs.js";
import { abDists, cpuMs, median } from "./lib/ab.js";

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i < 0 ? dflt : Number(process.argv[i + 1]); };
const relaxed = process.argv.includes("--relaxed");
const batch = arg("--batch", 1), rounds = arg("--rounds", 7), top = arg("--top", 25);
if (relaxed) {
  const v8 = await import("node:v8");
  v8.setFlagsFromString("--experimental-wasm-relaxed-simd"); // before any wasm compiles (probe only)
}
const baseAt = process.argv.indexOf("--base");
const dists = abDists(baseAt >= 0 ? process.argv[baseAt + 1] : undefined);
const { importModel } = await import(dists.at(-1)[1] + "compiler/index.js");

await use("cpu");
const tfm = randomizeWeights(mobileNetV2({ size: 224 }), 1901);
const files = await tfjsFiles(tfm);
tfm.dispose();
const { graph, weights } = await importModel(files);
const { training: _t, targets: _g, ...inference } = graph;
const input = inference.inputs[0].name;
const x = Float32Array.from({ length: batch * 224 * 224 * 3 }, (_, i) => Math.sin(i * 0.37));

/** One build: compiled as the bench compiles it, weights loaded, one predict run. */
async function build(name, dir) {
  const { compile } = await import(dir + "compiler/index.js");
  const { loadModel } = await import(dir + "runtime/index.js");
  const built = await compile(JSON.stringify(inference), { maxBatch: 16, relaxedSimd: relaxed });
  const model = await loadModel(built.wasm);
  model.loadWeights(weights);
  if (relaxed && model.manifest.simd !== "relaxed-simd") throw new Error("the relaxed build did not load (host lacks relaxed SIMD)");
  const labels = new Map([...built.source.matchAll(/^\/\/ (k\d+): (.*)$/gm)].map((m) => [m[1], m[2].replace(/-\?/g, "->")]));
  const out = Object.values(model.predict({ [input]: x }))[0].slice();
  // the module's exports (a plain field of Model); predict_range runs calls [from, to) of predict
  return { name, model, labels, calls: built.manifest.kernels.calls.predict, range: model.exports.predict_range, out, whole: [], perCall: built.manifest.kernels.calls.predict.map(() => []) };
}
const builds = [];
for (const [name, dir] of dists) builds.push(await build(name, dir));
// --ort: ONNX Runtime Web (wasm, one thread) on the ONNX file the bench writes from kiln's graph and
// weights, timed in the same alternating rounds (full predicts only), outputs checked first
let ortPeer;
if (process.argv.includes("--ort")) {
  const { buildOnnxGraph, session, run } = await import("./lib/ort.js");
  const sess = await session(buildOnnxGraph(inference, builds[0].model.getWeights()));
  const shape = [batch, ...inference.inputs[0].shape];
  const out = await run(sess, input, x, shape);
  const ref = builds.at(-1).out, scale = Math.max(...ref.map(Math.abs));
  const diff = Math.max(...ref.map((v, i) => Math.abs(v - out[i]))) / scale;
  if (!(diff < 1e-3)) throw new Error(`ort-web disagrees with kiln: ${diff} of the largest output`);
  ortPeer = { sess, run: () => run(sess, input, x, shape), cpu: [], wall: [] };
}
if (builds.length > 1) {
  const [a, b] = builds;
  const diff = Math.max(...a.out.map((v, i) => Math.abs(v - b.out[i]))) / Math.max(...a.out.map(Math.abs));
  console.log(`base vs new outputs: largest difference ${diff.toExponential(1)} of the largest output`);
}

/** The clock: dependent i32.add chains of a hand-encoded loop (lib/ceiling.js), ~0.2 s, CPU time. */
const { clockProbe } = await import("./lib/ceiling.js");

/** Async twin of cpuMs for ORT-web's promise-returning run: CPU and wall ms per call. */
async function timeAsync(f, minMs) {
  const t0 = performance.now(), c0 = process.cpuUsage();
  let n = 0;
  do { await f(); n++; } while (performance.now() - t0 < minMs);
  const c = process.cpuUsage(c0);
  return { cpu: (c.user + c.system) / 1000 / n, wall: (performance.now() - t0) / n };
}
for (let r = 0; r < rounds; r++) {
  for (const b of builds) b.whole.push(cpuMs(() => b.model.predict({ [input]: x }), 300));
  if (ortPeer) { const t = await timeAsync(ortPeer.run, 400); ortPeer.cpu.push(t.cpu); ortPeer.wall.push(t.wall); }
  for (const b of builds) for (let i = 0; i < b.calls.length; i++) b.perCall[i].push(cpuMs(() => b.range(batch, i, i + 1), 15));
}

/** Multiply-adds of a call from its label (conv2d / depthwise shapes), per example. */
function macs(label) {
  let m = /^inverted_residual (\d+)x(\d+)x(\d+)->(\d+)->(\d+)x(\d+)x(\d+)/.exec(label);
  if (m) { const [h, w, c, f, oh, ow, co] = m.slice(1).map(Number); return h * w * c * f + 9 * oh * ow * f + oh * ow * f * co; }
  m = /^conv2d (?:direct )?(\d+)x(\d+) (\d+)x(\d+)x(\d+)->(\d+)x(\d+)x(\d+)/.exec(label);
  if (m) { const [kh, kw, , , c, oh, ow, f] = m.slice(1).map(Number); return kh * kw * c * oh * ow * f; }
  m = /^depthwise_conv2d (\d+)x(\d+) \d+x\d+x\d+->(\d+)x(\d+)x(\d+)/.exec(label);
  if (m) { const [kh, kw, oh, ow, c] = m.slice(1).map(Number); return kh * kw * oh * ow * c; }
  m = /matmul.*?(\d+)x(\d+)x(\d+)/.exec(label);
  return m ? Number(m[1]) * Number(m[2]) * Number(m[3]) : 0;
}
function kind(label) {
  if (/^inverted_residual/.test(label)) return `inverted_residual${/ stride 2/.test(label) ? " stride 2" : " stride 1"}${/\+residual/.test(label) ? " +residual" : ""}`;
  if (/^depthwise/.test(label)) return /\d+x\d+x\d+->(\d+)x/.exec(label) && isStride2(label) ? "depthwise 3x3 stride 2" : "depthwise 3x3 stride 1";
  if (/conv2d 1x1/.test(label)) return / relu6/.test(label) ? "conv 1x1 expand (+relu6)" : "conv 1x1 project";
  if (/conv2d/.test(label)) return "conv 3x3 stem";
  return label.split(" ")[0];
}
function isStride2(label) {
  const m = /(\d+)x\d+x\d+->(\d+)x/.exec(label);
  return m && Number(m[1]) > Number(m[2]);
}

const clockGHz = (await clockProbe(2e8)).calibration.cpuGHz;
const ceiling = clockGHz ? 16 * clockGHz : undefined;

console.log(`kiln MobileNetV2 224 predict b${batch}, ${relaxed ? "relaxed" : "plain"} SIMD, ${rounds} rounds, CPU time; clock ${clockGHz.toFixed(2)} GHz, ceiling ${ceiling.toFixed(1)} GFLOP/s; load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
for (const b of builds) report(b);
if (builds.length > 1) {
  // per block (the fused kernel replaces a block's expand, depthwise and project calls): base/new
  const blockOf = (layer) => /^(block_\d+|expanded_conv)_/.exec(layer)?.[1];
  const perBlock = (b) => {
    const m = new Map();
    b.calls.forEach(([k, layer], i) => { const blk = blockOf(layer); if (blk) m.set(blk, (m.get(blk) ?? 0) + median(b.perCall[i])); });
    return m;
  };
  const [pa, pb] = builds.map(perBlock);
  console.log("\nper block, sum of per-call medians (ms): base new base/new");
  for (const [blk, t] of pa) console.log(`  ${blk.padEnd(14)} ${t.toFixed(3).padStart(8)} ${(pb.get(blk) ?? NaN).toFixed(3).padStart(8)} ${(t / pb.get(blk)).toFixed(2)}x`);
  const ratios = builds[0].whole.map((t, r) => t / builds[1].whole[r]);
  console.log(`\nfull predict base/new ${(median(builds[0].whole) / median(builds[1].whole)).toFixed(3)}x (per-round ratios ${ratios.map((r) => r.toFixed(2)).join(" ")})`);
}
if (ortPeer) {
  const o = median(ortPeer.cpu);
  console.log(`\nort-web full predict ${o.toFixed(2)} ms CPU (median; wall ${median(ortPeer.wall).toFixed(2)} ms)`);
  for (const b of builds) console.log(`  ort-web ÷ kiln [${b.name}]: ${(o / median(b.whole)).toFixed(2)}x CPU time (per-round ${ortPeer.cpu.map((t, r) => (t / b.whole[r]).toFixed(2)).join(" ")})`);
  await ortPeer.sess.release();
}
for (const b of builds) b.model.dispose();

function report({ name, calls, labels, perCall, whole }) {
  const times = perCall.map(median), sum = times.reduce((a, b) => a + b, 0);
  const fmt = (ms, flop) => `${ms.toFixed(3).padStart(7)} ms ${(100 * ms / sum).toFixed(1).padStart(5)}%` +
    (flop ? `  ${(flop / ms / 1e6).toFixed(1).padStart(5)} GFLOP/s ${(100 * flop / ms / 1e6 / ceiling).toFixed(0).padStart(3)}% of ceiling` : "");
  console.log(`\n[${name}] ${calls.length} kernel calls; full predict ${median(whole).toFixed(2)} ms (median); sum of per-call medians ${sum.toFixed(2)} ms`);
  const groups = new Map();
  calls.forEach(([k], i) => {
    const label = labels.get(k) ?? k, g = kind(label);
    const e = groups.get(g) ?? { ms: 0, flop: 0, n: 0 };
    e.ms += times[i]; e.flop += 2 * macs(label) * batch; e.n++;
    groups.set(g, e);
  });
  for (const [g, e] of [...groups].sort((a, b) => b[1].ms - a[1].ms)) console.log(`  ${g.padEnd(28)} ${String(e.n).padStart(3)} calls ${fmt(e.ms, e.flop)}`);
  if (!top) return;
  console.log(`  top ${top} calls:`);
  const order = times.map((t, i) => i).sort((a, b) => times[b] - times[a]).slice(0, top);
  for (const i of order) {
    const [k, layer] = calls[i], label = labels.get(k) ?? k;
    console.log(`  #${String(i).padStart(3)} ${layer.padEnd(26)} ${label.padEnd(62)} ${fmt(times[i], 2 * macs(label) * batch)}`);
  }
}
