// MobileNetV2's layer types one at a time (issue 19), A/B between two builds of the compiler in one
// process: each layer is compiled by both, given the same weights, checked to predict the same,
// then timed in alternating blocks (median CPU ms per predict, GFLOP/s of the layer's multiply-adds).
// Not a test. Usage:
//   npx tsc -p tsconfig.build.json                       # this tree → dist/
//   (cd <a checkout of the base> && npx tsc -p tsconfig.build.json --outDir /tmp/base-dist)
//   node bench/mobilenet-layers.mjs /tmp/base-dist [filter]
// With no base directory, only this tree's dist/ is timed. Batch 1 (and 8), optimizeLevel 0 as
// the bench; the load average is printed with every row (the machine is shared).
import os from "node:os";
import { pathToFileURL } from "node:url";
import { resolve } from "node:path";

const distOf = (dir) => pathToFileURL(resolve(dir)).href + "/";
const builds = [["new", new URL("../dist/", import.meta.url).href]];
if (process.argv[2] && process.argv[2] !== "-") builds.unshift(["base", distOf(process.argv[2])]);
const filter = process.argv[3] ?? "";
const libs = await Promise.all(builds.map(async ([name, d]) => ({
  name, compile: (await import(d + "compiler/index.js")).compile, loadModel: (await import(d + "runtime/index.js")).loadModel,
})));

const bn = (name) => ({ name, op: "batch_normalization" });
const relu6 = (name) => ({ name, op: "relu", max_value: 6 });
/** Keras applications' MobileNetV2 pads (0,1),(0,1) before a stride-2 layer on an even image. */
const pad = (name) => ({ name, op: "zero_padding2d", padding: [[0, 1], [0, 1]] });
const graph = (name, shape, layers) => ({ format: "kiln.graph/v2", name, inputs: [{ name: "x", shape }], layers });

/** [name, graph, multiply-adds per example]. */
const LAYERS = [
  ["dw3x3 s1 112x112x32 +BN+relu6", graph("dw1", [112, 112, 32], [{ name: "d", op: "depthwise_conv2d", kernel_size: 3, padding: "same", use_bias: false }, bn("b"), relu6("r")]), 112 * 112 * 32 * 9],
  ["pad+dw3x3 s2 112x112x96 +BN+relu6", graph("dw2", [112, 112, 96], [pad("p"), { name: "d", op: "depthwise_conv2d", kernel_size: 3, strides: 2, use_bias: false }, bn("b"), relu6("r")]), 56 * 56 * 96 * 9],
  ["dw3x3 s1 56x56x144 +BN+relu6", graph("dw3", [56, 56, 144], [{ name: "d", op: "depthwise_conv2d", kernel_size: 3, padding: "same", use_bias: false }, bn("b"), relu6("r")]), 56 * 56 * 144 * 9],
  ["dw3x3 s1 14x14x576 +BN+relu6", graph("dw4", [14, 14, 576], [{ name: "d", op: "depthwise_conv2d", kernel_size: 3, padding: "same", use_bias: false }, bn("b"), relu6("r")]), 14 * 14 * 576 * 9],
  ["dw3x3 s1 28x28x32 m=2 +bias", graph("dwm2", [28, 28, 32], [{ name: "d", op: "depthwise_conv2d", kernel_size: 3, padding: "same", depth_multiplier: 2 }]), 28 * 28 * 64 * 9],
  ["dw3x3 s1 28x28x32 m=3 +bias", graph("dwm3", [28, 28, 32], [{ name: "d", op: "depthwise_conv2d", kernel_size: 3, padding: "same", depth_multiplier: 3 }]), 28 * 28 * 96 * 9],
  ["conv1x1 56x56x24->144 +BN+relu6", graph("ex", [56, 56, 24], [{ name: "c", op: "conv2d", filters: 144, kernel_size: 1, use_bias: false }, bn("b"), relu6("r")]), 56 * 56 * 24 * 144],
  ["conv1x1 14x14x384->64 +BN", graph("pr", [14, 14, 384], [{ name: "c", op: "conv2d", filters: 64, kernel_size: 1, use_bias: false }, bn("b")]), 14 * 14 * 384 * 64],
  ["pad+conv3x3 s2 224x224x3->32 +BN+relu6", graph("c0", [224, 224, 3], [pad("p"), { name: "c", op: "conv2d", filters: 32, kernel_size: 3, strides: 2, use_bias: false }, bn("b"), relu6("r")]), 112 * 112 * 32 * 27],
  ["dense 1280->1000 relu6", graph("fc", [1280], [{ name: "d", op: "dense", units: 1000, activation: "relu6" }]), 1280 * 1000],
];

/** CPU ms per predict over a block of `ms` wall time (process.cpuUsage: the time this process was
 * descheduled on the oversubscribed machine does not count; the predict is single-threaded). */
function timeBlock(model, feeds, ms) {
  const t0 = performance.now(), c0 = process.cpuUsage();
  let n = 0;
  while (performance.now() - t0 < ms) { model.predict(feeds); n++; }
  const c = process.cpuUsage(c0);
  return (c.user + c.system) / 1000 / n;
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];
let seed = 7;
const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);

console.log(`load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}; builds: ${builds.map(([n, d]) => `${n}=${d}`).join(", ")}`);
for (const [name, g, macs] of LAYERS.filter(([n]) => n.includes(filter))) {
  const results = await Promise.all(libs.map((l) => l.compile(JSON.stringify(g), { maxBatch: 8 })));
  const models = await Promise.all(libs.map((l, i) => l.loadModel(results[i].wasm)));
  const w = models[0].getWeights();
  for (const k of Object.keys(w)) w[k] = w[k].map(() => (k.endsWith("variance") ? 0.5 + rnd() : rnd() - 0.5));
  for (const m of models) m.setWeights(w);
  for (const batch of [1, 8]) {
    const x = Float32Array.from({ length: batch * g.inputs[0].shape.reduce((a, b) => a * b, 1) }, () => 2 * rnd() - 1);
    const outs = models.map((m) => Object.values(m.predict({ x }))[0]);
    let num = 0, den = 0;
    for (let i = 0; i < outs[0].length; i++) { num += (outs[0][i] - outs.at(-1)[i]) ** 2; den += outs[0][i] ** 2; }
    const times = models.map(() => []);
    for (const m of models) timeBlock(m, { x }, 150);
    for (let r = 0; r < 7; r++) models.forEach((m, i) => times[i].push(timeBlock(m, { x }, 200)));
    const cells = libs.map((l, i) => {
      const ms = median(times[i]);
      return `${l.name} ${ms.toFixed(3)} ms ${((2 * macs * batch) / ms / 1e6).toFixed(1)} GFLOP/s (${results[i].manifest.kernels.calls.predict.length} calls)`;
    });
    const ratio = libs.length > 1 ? `  base/new ${(median(times[0]) / median(times[1])).toFixed(2)}x, rel. diff ${Math.sqrt(num / den).toExponential(1)}` : "";
    console.log(`${name.padEnd(40)} b${batch}: ${cells.join("  |  ")}${ratio}  load ${os.loadavg()[0].toFixed(2)}`);
  }
}
