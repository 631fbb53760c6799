// Batch-normalization folding (compiler/passes/fold-batch-norm.ts), measured: predict with the fold
// (default) and without (`foldBatchNorm: false`) on conv+BN+relu and dense+BN+relu stacks, same
// weights, alternating blocks; prints kernel calls per predict, median ms per predict and the load
// average. Not a test. Build first: `npx tsc -p tsconfig.build.json`, then `node bench/bn-fold.mjs`.
import os from "node:os";
const dist = new URL("../dist/", import.meta.url).href;
const { compile } = await import(dist + "compiler/index.js");
const { loadModel } = await import(dist + "runtime/index.js");

function convStack(hw, c, layers, k) {
  const ls = [];
  for (let i = 0; i < layers; i++) {
    ls.push({ name: `c${i}`, op: "conv2d", filters: c, kernel_size: k, padding: "same" });
    ls.push({ name: `bn${i}`, op: "batch_normalization" });
    ls.push({ name: `r${i}`, op: "activation", activation: "relu" });
  }
  return { format: "kiln.graph/v2", name: "conv_bn", inputs: [{ name: "x", shape: [hw, hw, c] }], layers: ls };
}
function denseStack(width, layers) {
  const ls = [];
  for (let i = 0; i < layers; i++) ls.push({ name: `d${i}`, op: "dense", units: width }, { name: `bn${i}`, op: "batch_normalization" }, { name: `r${i}`, op: "activation", activation: "relu" });
  return { format: "kiln.graph/v2", name: "dense_bn", inputs: [{ name: "x", shape: [width] }], layers: ls };
}
const WORKLOADS = [
  ["conv3x3 32x32x32, 4 x (conv+BN+relu)", convStack(32, 32, 4, 3)],
  ["conv1x1 28x28x64, 4 x (conv+BN+relu)", convStack(28, 64, 4, 1)],
  ["conv3x3 8x8x128, 2 x (conv+BN+relu)", convStack(8, 128, 2, 3)],
  ["dense 256, 3 x (dense+BN+relu)", denseStack(256, 3)],
];

function timeBlock(model, feeds, ms) {
  const t0 = performance.now();
  let n = 0;
  while (performance.now() - t0 < ms) { model.predict(feeds); n++; }
  return (performance.now() - t0) / n;
}
const median = (xs) => xs.slice().sort((a, b) => a - b)[xs.length >> 1];

for (const [name, graph] of WORKLOADS) {
  const [folded, plain] = await Promise.all([true, false].map((f) => compile(JSON.stringify(graph), { maxBatch: 16, foldBatchNorm: f })));
  const mf = await loadModel(folded.wasm), mp = await loadModel(plain.wasm);
  // Random moving statistics and γ, β so the fold does real work; the same weights in both.
  const w = mf.getWeights();
  let s = 1;
  const rnd = () => ((s = (s * 1103515245 + 12345) % 2147483648) / 2147483648);
  for (const k of Object.keys(w)) w[k] = w[k].map(() => (k.endsWith("variance") ? 0.5 + rnd() : rnd() - 0.5));
  mf.setWeights(w); mp.setWeights(w);
  for (const batch of [1, 16]) {
    const x = Float32Array.from({ length: batch * mf.inputs[0].shape.reduce((a, b) => a * b, 1) }, () => rnd() - 0.5);
    const yf = Object.values(mf.predict({ x }))[0], yp = Object.values(mp.predict({ x }))[0];
    let num = 0, den = 0;
    for (let i = 0; i < yp.length; i++) { num += (yf[i] - yp[i]) ** 2; den += yp[i] ** 2; }
    const tf = [], tp = [];
    timeBlock(mf, { x }, 100); timeBlock(mp, { x }, 100);
    for (let r = 0; r < 5; r++) { tf.push(timeBlock(mf, { x }, 300)); tp.push(timeBlock(mp, { x }, 300)); }
    const calls = (r) => r.manifest.kernels.calls.predict.length;
    console.log(`${name} b${batch}: folded ${median(tf).toFixed(3)} ms (${calls(folded)} kernel calls), unfolded ${median(tp).toFixed(3)} ms (${calls(plain)} calls), ` +
      `unfolded/folded ${(median(tp) / median(tf)).toFixed(2)}x, rel. diff ${Math.sqrt(num / den).toExponential(1)}; load ${os.loadavg().map((l) => l.toFixed(2)).join(" ")}`);
  }
}
