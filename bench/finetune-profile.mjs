// Per-call profile of the frozen-backbone fine-tuning train step (issue 19's mobilenetv2Head row):
// MobileNetV2 α=1.0 224×224, every layer but the top frozen, Adam, batch 32, compiled as the bench
// compiles it (-O0, maxBatch 32). Times every call of `train_step` alone through the module's
// `train_step_range(batch, i, i + 1)` (CPU time, median of rounds) and whole trainStep()s; with
// --base <dist>, both builds are timed in alternating rounds and their losses compared. Not a test.
//   npx tsc -p tsconfig.build.json && node bench/finetune-profile.mjs [--base <dist>] [--rounds N] [--top N] [--size S]
import os from "node:os";
import { mobileNetV2, randomizeWeights, tfjsFiles } from "./lib/real-models.js";
import { tf, use } from "./lib/tfjs.js";
import { abDists } from "./lib/ab.js";

const arg = (name, dflt) => { const i = process.argv.indexOf(name); return i < 0 ? dflt : Number(process.argv[i + 1]); };
const rounds = arg("--rounds", 5), top = arg("--top", 20), size = arg("--size", 224), batch = 32;
const baseAt = process.argv.indexOf("--base");
const dists = abDists(baseAt >= 0 ? process.argv[baseAt + 1] : undefined);
const { importModel } = await import(dists.at(-1)[1] + "compiler/index.js");

await use("cpu");
const tfm = randomizeWeights(mobileNetV2({ size, backboneTrainable: false }), 1901);
tfm.compile({ optimizer: tf.train.adam(1e-3, 0.9, 0.999, 1e-7), loss: "sparseCategoricalCrossentropy" });
const files = await tfjsFiles(tfm);
tfm.dispose();
const { graph, weights } = await importModel(files);
const x = Float32Array.from({ length: batch * size * size * 3 }, (_, i) => Math.sin(i * 0.37));
const classes = graph.layers.find((l) => l.name === graph.training.loss.output)?.units ?? 1000;
const y = Int32Array.from({ length: batch }, (_, i) => (i * 7919) % classes);
const feeds = { [graph.inputs[0].name]: x, [graph.targets[0].name]: graph.targets[0].dtype === "int32" ? y : Float32Array.from(y) };

async function build(name, dir) {
  const { compile } = await import(dir + "compiler/index.js");
  const { loadModel } = await import(dir + "runtime/index.js");
  const built = await compile(JSON.stringify(graph), { maxBatch: batch, optimizeLevel: 0 });
  const model = await loadModel(built.wasm);
  model.loadWeights(weights);
  const labels = new Map([...built.source.matchAll(/^\/\/ (k\d+): (.*)$/gm)].map((m) => [m[1], m[2].replace(/-\?/g, "->")]));
  const losses = [model.trainStep(feeds).loss, model.trainStep(feeds).loss];
  const calls = built.manifest.kernels.calls.train_step ?? built.manifest.kernels.calls.trainStep;
  return { name, model, labels, calls, range: model.exports.train_step_range, losses, whole: [], perCall: calls.map(() => []) };
}
const builds = [];
for (const [name, dir] of dists) builds.push(await build(name, dir));
for (const b of builds) console.log(`${b.name}: losses ${b.losses.map((l) => l.toFixed(6)).join(", ")}; ${b.calls.length} calls`);
const cpu = (f) => { const t = process.cpuUsage(); f(); const d = process.cpuUsage(t); return (d.user + d.system) / 1000; };
const med = (a) => { const s = [...a].sort((p, q) => p - q); return s[s.length >> 1]; };
for (let r = 0; r < rounds; r++) {
  for (const b of r % 2 ? [...builds].reverse() : builds) {
    b.whole.push(cpu(() => b.model.trainStep(feeds)));
    for (let i = 0; i < b.calls.length; i++) b.perCall[i].push(cpu(() => b.range(batch, i, i + 1)));
  }
}
const labelOf = (b, [k, layer]) => `${b.labels.get(k) ?? k} [${layer}]`;
/** A call's group: the kernel's first word; depthwise forwards by stride (input rows > output rows). */
const kindOf = (label) => {
  const kind = label.split(" ")[0], geo = /(\d+)x\d+x\d+->(\d+)x/.exec(label);
  return kind === "depthwise_conv2d" && geo ? `${kind} ${Number(geo[1]) > Number(geo[2]) ? "stride 2" : "stride 1"}` : kind;
};
for (const b of builds) {
  const per = b.perCall.map(med), sum = per.reduce((a, c) => a + c, 0);
  console.log(`\n${b.name}: trainStep ${med(b.whole).toFixed(1)} ms CPU (${(batch * 1000 / med(b.whole)).toFixed(1)} samples/s), sum of calls ${sum.toFixed(1)} ms; load ${os.loadavg()[0].toFixed(2)}`);
  const groups = new Map();
  per.forEach((ms, i) => { const l = kindOf(b.labels.get(b.calls[i][0]) ?? ""); groups.set(l, (groups.get(l) ?? 0) + ms); });
  for (const [g, ms] of [...groups].sort((p, q) => q[1] - p[1])) console.log(`  ${g.padEnd(40)} ${ms.toFixed(1).padStart(8)} ms ${(100 * ms / sum).toFixed(1).padStart(5)}%`);
  const order = per.map((ms, i) => [ms, i]).sort((p, q) => q[0] - p[0]).slice(0, top);
  for (const [ms, i] of order) console.log(`  #${i} ${ms.toFixed(2).padStart(7)} ms  ${labelOf(b, b.calls[i])}`);
}

if (builds.length === 2 && builds[0].calls.length !== builds[1].calls.length) {
  // other kernels (the inverted-residual fusion): no call-by-call comparison, the whole steps only
  console.log(`\ntrainStep ${med(builds[0].whole).toFixed(1)} → ${med(builds[1].whole).toFixed(1)} ms (${builds[0].calls.length} → ${builds[1].calls.length} calls)`);
} else if (builds.length === 2) {
  const [a, b] = builds.map((x) => x.perCall.map(med));
  console.log(`\nper call, base → new (depthwise and the head):`);
  builds[1].calls.forEach((c, i) => { const l = labelOf(builds[1], c); if (/depthwise|matmul|adam|avgpool/.test(l) && a[i] > 0.3) console.log(`  #${i} ${a[i].toFixed(2).padStart(7)} → ${b[i].toFixed(2).padStart(7)} ms (${(a[i] / b[i]).toFixed(2)}x)  ${l}`); });
  const dw = (p) => builds[1].calls.reduce((t, c, i) => t + (/depthwise/.test(labelOf(builds[1], c)) ? p[i] : 0), 0);
  console.log(`  depthwise total ${dw(a).toFixed(1)} → ${dw(b).toFixed(1)} ms; trainStep ${med(builds[0].whole).toFixed(1)} → ${med(builds[1].whole).toFixed(1)} ms`);
}
